"""Composite a rendered cutout over a background as a user's photo would show it.

    compose(cutout, rng, backgrounds, distractor=None, horizon=None, frame=False) -> Composite

One call draws everything from ``rng`` (so a (seed, epoch, index) stream repeats exactly):

- the background: white or plain studio colour, a procedural room (train.data.backgrounds),
  a crop of a real photograph or a Sweet Home 3D texture (a ``BackgroundBank``), or a wall
  texture over a floor texture;
- other furniture partly in view (``distractor()`` draws another cutout), behind the object or in front
  of it, occluding at most MAX_OCCLUSION of it; the frame may also cut the object itself;
- clutter that is not furniture (``clutter_shape``: organic blobs, boxes and discs, filled with
  photo crops or plain paint, with a soft shadow), behind the object or in front of it, so the
  mask head learns furniture rather than "whatever stands out" (a person, a cup, a plant);
- other things of a room (``pieces()`` draws a render of a Sweet Home 3D piece that is not
  furniture: a lamp, a plant, a fridge, a dog; train.data.clutter_pieces), anywhere in view, behind
  the object or in front of it, also counted as background;
- a soft contact shadow under the object, the object's colours shifted a little, white balance,
  exposure and gamma, blur, sensor noise and JPEG artefacts.

``frame=True`` shrinks the object into a larger view at a random place (the whole-photo pass that
finds the object), otherwise the object keeps the size it was rendered at (the crop pass).
Arrays: colour uint8 (H, W, 3), coverage uint8 (H, W) 0-255 (anti-aliased alpha).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from train.data.backgrounds import plain_background, room_background

MAX_OCCLUSION = 0.3  # share of the object a distractor in front may hide
CLUTTER_CHANCE = 0.5  # share of cluttered composites that get non-furniture things in view
PIECE_CHANCE = 0.6  # share of cluttered composites that get rendered non-furniture pieces, given a source
PIECE_SCALE = (0.4, 2.0)  # a piece's scale relative to the object's
# background kind -> probability (photo and texture need a bank; without one they fall to room)
BACKGROUND_WEIGHTS = {"white": 0.12, "plain": 0.08, "room": 0.2, "photo": 0.35, "texture": 0.25}


@dataclass(frozen=True)
class Cutout:
    """An object rendered alone: straight colour uint8 (H, W, 3), coverage uint8 (H, W)."""

    colour: np.ndarray
    coverage: np.ndarray


@dataclass(frozen=True, eq=False)
class Composite:
    """rgb uint8 (H, W, 3); mask bool (H, W): the object's visible pixels; kind: background kind;
    framed: the object was shrunk into a whole-frame view; others: the visible pixels of each other
    piece of furniture in the picture, bool (H, W) each (those that show at all)."""

    rgb: np.ndarray
    mask: np.ndarray
    kind: str
    framed: bool = False
    others: tuple[np.ndarray, ...] = ()


def _background(kind: str, rng, height, width, banks: dict, horizon) -> np.ndarray:
    if kind == "white":
        return np.full((height, width, 3), 255 - rng.integers(0, 6), np.uint8)
    if kind == "plain":
        return plain_background(height, width, rng)
    if kind == "photo":
        return banks["photo"].crop(rng, height, width)
    if kind == "texture":
        bank = banks["texture"]
        wall = bank.crop(rng, height, width)
        if rng.random() < 0.5:
            return wall
        floor = bank.crop(rng, height, width)
        line = int(np.clip((horizon if horizon is not None else 0.3 * height) + rng.uniform(0.1, 0.5) * height,
                           0, height))
        return np.concatenate([wall[:line], floor[line:]])
    return room_background(height, width, rng, horizon=horizon)


def _place(cutout: Cutout, scale: float, centre: tuple[float, float], height: int, width: int):
    """The cutout resized by `scale` and centred at `centre` (x, y pixels) on an (H, W) canvas
    -> (colour float32 (H, W, 3), alpha float32 (H, W))."""
    h, w = cutout.coverage.shape
    matrix = np.array([[scale, 0, centre[0] - scale * w / 2], [0, scale, centre[1] - scale * h / 2]])
    colour = cv2.warpAffine(cutout.colour.astype(np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(cutout.coverage.astype(np.float32) / 255, matrix, (width, height),
                           flags=cv2.INTER_LINEAR)
    return colour, np.clip(alpha, 0, 1)


def _shift_colours(colour: np.ndarray, rng) -> np.ndarray:
    """Small hue, saturation and brightness changes of an object's colours (float32 0-255)."""
    hsv = cv2.cvtColor(np.clip(colour, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.3), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.75, 1.2), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)


def _contact_shadow(alpha: np.ndarray, rng) -> np.ndarray:
    """A soft dark patch under the object's lower part, float32 (H, W) in [0, 1]."""
    rows = np.flatnonzero(alpha.max(axis=1) > 0.5)
    if not len(rows):
        return np.zeros_like(alpha)
    top, bottom = rows[0], rows[-1]
    footprint = alpha.copy()
    footprint[: int(bottom - 0.25 * (bottom - top))] = 0  # the part near the floor
    size = max(bottom - top, 4)
    shifted = np.roll(footprint, int(rng.uniform(0.0, 0.06) * size), axis=0)
    sigma = rng.uniform(0.03, 0.08) * size
    return np.clip(cv2.GaussianBlur(shifted, (0, 0), sigma) * rng.uniform(0.8, 1.6), 0, 1)


def clutter_shape(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random non-furniture silhouette, float32 (H, W) coverage in [0, 1]: an organic blob
    (smoothed noise, thresholded: a plant, a person, an animal), a box seen slightly turned, or
    a disc; 15-70 % of the frame's side, anywhere in it (partly outside too)."""
    side = rng.uniform(0.15, 0.7) * min(height, width)
    centre = rng.uniform([0, 0], [width, height])
    shape = rng.choice(["blob", "box", "disc"], p=[0.5, 0.3, 0.2])
    canvas = np.zeros((height, width), np.float32)
    if shape == "blob":
        cells = int(rng.integers(3, 7))
        field = cv2.resize(rng.random((cells, cells)).astype(np.float32), (int(side), int(side)),
                           interpolation=cv2.INTER_CUBIC)
        ys, xs = np.mgrid[0:int(side), 0:int(side)] / max(side - 1, 1) - 0.5
        field = field - 1.6 * np.hypot(xs, ys)  # fade out toward the border: one object, not a texture
        patch = (field > np.quantile(field, rng.uniform(0.55, 0.8))).astype(np.float32)
        top, left = int(centre[1] - side / 2), int(centre[0] - side / 2)
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + patch.shape[0], height), min(left + patch.shape[1], width)
        if y1 > y0 and x1 > x0:
            canvas[y0:y1, x0:x1] = patch[y0 - top:y1 - top, x0 - left:x1 - left]
    elif shape == "box":
        aspect = rng.uniform(0.3, 1.0)
        size = (side * aspect, side) if rng.random() < 0.5 else (side, side * aspect)
        corners = cv2.boxPoints(((float(centre[0]), float(centre[1])), size, float(rng.uniform(-25, 25))))
        cv2.fillConvexPoly(canvas, corners.round().astype(np.int32), 1.0, lineType=cv2.LINE_AA)
    else:
        axes = (int(side / 2), int(side / 2 * rng.uniform(0.5, 1.0)))
        cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), axes, float(rng.uniform(0, 180)), 0, 360, 1.0,
                    thickness=-1, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(canvas, (0, 0), 0.7)


def _clutter_fill(rng, height: int, width: int, banks: dict) -> np.ndarray:
    """What a clutter silhouette is filled with: a photo or texture crop, or a shaded plain paint."""
    sources = [bank for bank in (banks.get("photo"), banks.get("texture")) if bank is not None]
    if sources and rng.random() < 0.7:
        return sources[rng.integers(len(sources))].crop(rng, height, width).astype(np.float32)
    ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(rng.uniform(0, 255, 3).astype(np.float32) * ramp, (height, width, 3)).copy()


def _photo_effects(image: np.ndarray, rng) -> np.ndarray:
    """White balance, exposure, gamma, blur, noise and JPEG on a float32 (H, W, 3) 0-255 image."""
    image = image * rng.normal(1.0, 0.06, 3).astype(np.float32) * rng.uniform(0.8, 1.15)
    image = 255 * (np.clip(image, 0, 255) / 255) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.5:
        image = image + rng.normal(0, rng.uniform(1, 6), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).round().astype(np.uint8)
    if rng.random() < 0.5:
        ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 91))])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(image)


def compose(cutout: Cutout, rng: np.random.Generator, backgrounds: dict | None = None,
            distractor: Callable[[], Cutout] | None = None, horizon: float | None = None, frame: bool = False,
            kind: str | None = None, effects: bool = True, clutter: bool = True,
            pieces: Callable[[], Cutout] | None = None) -> Composite:
    """The cutout over a drawn background (see the module docstring) -> Composite of its size.

    backgrounds: {"photo": BackgroundBank, "texture": BackgroundBank}, either may be missing.
    kind: force a background kind (one of BACKGROUND_WEIGHTS); effects: False keeps the picture
    clean (no colour shift, shadow, distractor, blur, noise or JPEG), as for a product photo;
    clutter: False leaves out the synthetic non-furniture things (the evaluation's real photos
    have their own), and then draws exactly what compose drew before clutter existed.
    pieces: draws a render of a non-furniture piece (None: none, and the draws are those of a
    compose without this argument).
    """
    banks = backgrounds or {}
    height, width = cutout.coverage.shape
    if kind is None:
        kinds = [k for k in BACKGROUND_WEIGHTS if k not in ("photo", "texture") or k in banks]
        weights = np.array([BACKGROUND_WEIGHTS[k] for k in kinds])
        kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
    if frame:
        scale = rng.uniform(0.3, 0.9)
        margin = scale * width / 2
        centre = (rng.uniform(margin * 0.6, width - margin * 0.6), rng.uniform(margin * 0.6, height - margin * 0.6))
    else:
        scale, centre = 1.0, (width / 2, height / 2)
    colour, alpha = _place(cutout, scale, centre, height, width)
    image = _background(kind, rng, height, width, banks, horizon).astype(np.float32)
    cluttered = effects and kind != "white"
    front = np.zeros_like(alpha)
    front_colour = np.zeros_like(colour)
    # each other piece of furniture: [coverage still showing, drawn in front?]; whatever is painted
    # later over its layer hides it (_cover), the object and the front layer hide those behind
    others: list[list] = []
    if cluttered and distractor is not None and rng.random() < 0.5:
        for other in [distractor() for _ in range(int(rng.integers(1, 3)))]:
            side = rng.choice([-1, 1])
            other_scale = scale * rng.uniform(0.6, 1.2)
            other_centre = (centre[0] + side * rng.uniform(0.55, 1.0) * width * scale,
                            centre[1] + rng.uniform(-0.2, 0.2) * height * scale)
            o_colour, o_alpha = _place(other, other_scale, other_centre, height, width)
            in_front = rng.random() < 0.35
            hidden = (o_alpha * alpha).sum() / max(alpha.sum(), 1e-6)
            if in_front and hidden <= MAX_OCCLUSION:
                _cover(others, o_alpha, True)
                front_colour = o_colour * o_alpha[..., None] + front_colour * (1 - o_alpha[..., None])
                front = np.maximum(front, o_alpha)
                others.append([o_alpha, True])
            elif not in_front:
                _cover(others, o_alpha, False)
                image = o_colour * o_alpha[..., None] + image * (1 - o_alpha[..., None])
                others.append([o_alpha, False])
    if cluttered and clutter and rng.random() < CLUTTER_CHANCE:
        for _ in range(int(rng.integers(1, 4))):
            shape = clutter_shape(rng, height, width)
            fill = _clutter_fill(rng, height, width, banks)
            if rng.random() < 0.25 and (shape * alpha).sum() <= MAX_OCCLUSION * max(alpha.sum(), 1e-6) \
                    and ((np.maximum(front, shape)) * alpha).sum() <= MAX_OCCLUSION * max(alpha.sum(), 1e-6):
                _cover(others, shape, True)
                front_colour = fill * shape[..., None] + front_colour * (1 - shape[..., None])
                front = np.maximum(front, shape)
            else:
                _cover(others, shape, False)
                shadow = np.roll(cv2.GaussianBlur(shape, (0, 0), 4.0), int(rng.integers(2, 8)), axis=0)
                image = image * (1 - 0.35 * shadow[..., None])
                image = fill * shape[..., None] + image * (1 - shape[..., None])
    if cluttered and pieces is not None and rng.random() < PIECE_CHANCE:
        for _ in range(int(rng.integers(1, 4))):
            p_colour, p_alpha = _place(pieces(), scale * rng.uniform(*PIECE_SCALE),
                                       (rng.uniform(0, width), rng.uniform(0, height)), height, width)
            hidden = (np.maximum(front, p_alpha) * alpha).sum() / max(alpha.sum(), 1e-6)
            if rng.random() < 0.3 and hidden <= MAX_OCCLUSION:
                _cover(others, p_alpha, True)
                front_colour = p_colour * p_alpha[..., None] + front_colour * (1 - p_alpha[..., None])
                front = np.maximum(front, p_alpha)
            else:
                _cover(others, p_alpha, False)
                image = p_colour * p_alpha[..., None] + image * (1 - p_alpha[..., None])
    if effects and kind != "white" and rng.random() < 0.6:
        image = image * (1 - rng.uniform(0.25, 0.6) * _contact_shadow(alpha, rng))[..., None]
    if effects and rng.random() < 0.5:
        colour = _shift_colours(colour, rng)
    image = colour * alpha[..., None] + image * (1 - alpha[..., None])
    image = front_colour * front[..., None] + image * (1 - front[..., None])
    visible = alpha * (1 - front)
    _cover(others, alpha, False)
    _cover(others, front, False)
    shown = tuple(mask for mask in (coverage >= 0.5 for coverage, _ in others) if mask.any())
    rgb = _photo_effects(image, rng) if effects else np.clip(image, 0, 255).round().astype(np.uint8)
    return Composite(rgb, visible >= 0.5, kind, frame, shown)


def _cover(layers: list[list], alpha: np.ndarray, in_front: bool) -> None:
    """Something of coverage `alpha` painted over the front layer (in_front) or over the picture
    behind it hides that much of the pieces already there on that layer (in place)."""
    for layer in layers:
        if layer[1] == in_front:
            layer[0] = layer[0] * (1 - alpha)
