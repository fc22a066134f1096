"""Photos with a sheet of paper at exactly known corners, for tests and scripts/bench_sheet.py.

A sheet (short side 1, long side ``aspect``) is posed in front of a pinhole camera (principal
point at the image centre) at a chosen tilt, turn on its plane and size in pixels, then drawn into
a background photo with its exact homography: 4 x 4 supersampled coverage, an off-white colour
with a shading ramp, a soft shadow along its edges, then blur, noise and JPEG over the whole photo.
Corners are returned TL, TR, BR, BL as ``recon.ar.find_sheet`` gives them (TL -> TR a short
side, clockwise on screen); ``corner_error`` also accepts the other short side first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SUPERSAMPLE = 4


@dataclass(frozen=True)
class SheetLook:
    """Ranges the rendering effects are drawn from (uniformly)."""

    tilt_deg: tuple[float, float] = (25.0, 70.0)  # sheet normal vs the line of sight
    long_side_px: tuple[float, float] = (60.0, 300.0)  # longest side of the sheet in the photo
    focal: tuple[float, float] = (0.6, 2.0)  # in photo longer sides
    paper: tuple[float, float] = (0.84, 0.97)  # paper brightness before shading
    shading: float = 0.12  # brightness ramp across the sheet, +-
    light: float = 0.12  # brightness ramp across the whole photo, +-
    shadow: tuple[float, float] = (0.1, 0.35)  # darkness of the soft shadow at the edges
    blur_sigma: tuple[float, float] = (0.3, 1.0)
    noise_sigma: tuple[float, float] = (1.0, 4.0)  # in 0-255 levels
    jpeg_quality: tuple[int, int] = (70, 90)


def sheet_corners(rng, image_size, aspect, look: SheetLook = SheetLook()) -> np.ndarray:
    """(4, 2) image corners of a randomly posed sheet fully inside the photo (TL, TR, BR, BL)."""
    width, height = image_size
    for _ in range(200):
        focal = rng.uniform(*look.focal) * max(width, height)
        K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
        target = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.3, 0.85) * height, 1.0])
        sight = np.linalg.solve(K, target)
        sight /= np.linalg.norm(sight)
        up = np.array([0.0, -1.0, 0.0]) - sight * -sight[1]  # "up" across the line of sight
        up /= np.linalg.norm(up)
        roll = np.radians(rng.uniform(-30, 30))
        up = np.cos(roll) * up + np.sin(roll) * np.cross(sight, up)
        tilt = np.radians(rng.uniform(*look.tilt_deg))
        normal = -np.cos(tilt) * sight + np.sin(tilt) * up  # toward the camera and up
        across = np.cross(normal, sight)
        across /= np.linalg.norm(across)
        turn = rng.uniform(0, 2 * np.pi)
        first = np.cos(turn) * across + np.sin(turn) * np.cross(normal, across)
        second = np.cross(normal, first)
        local = np.array([[0, 0], [1, 0], [1, aspect], [0, aspect]]) - [0.5, aspect / 2]
        wanted = rng.uniform(*look.long_side_px)
        distance = 5.0
        for _ in range(4):  # the image size goes as 1 / distance, nearly
            points = distance * sight + local[:, :1] * first + local[:, 1:] * second
            pixels = points @ K.T
            corners = pixels[:, :2] / pixels[:, 2:]
            longest = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).max()
            distance *= longest / wanted
        if np.all(points[:, 2] > 0) and _inside(corners, image_size, margin=12):
            return _screen_order(corners)
    raise RuntimeError("no sheet pose fits this photo")


def _inside(corners, image_size, margin) -> bool:
    width, height = image_size
    return bool(np.all(corners >= margin) and np.all(corners[:, 0] <= width - 1 - margin)
                and np.all(corners[:, 1] <= height - 1 - margin))


def _screen_order(corners: np.ndarray) -> np.ndarray:
    """Corners of the sheet (short side first) clockwise on screen, upper short side first."""
    edges = np.roll(corners, -1, axis=0) - corners
    if np.cross(edges[0], edges[1]) < 0:  # seen mirrored: walk the other way round
        corners = corners[[1, 0, 3, 2]]
    if corners[2:].mean(0)[1] < corners[:2].mean(0)[1]:
        corners = np.roll(corners, -2, axis=0)
    return corners


def draw_sheet(background: np.ndarray, corners: np.ndarray, rng, look: SheetLook = SheetLook()) -> np.ndarray:
    """The (H, W, 3) uint8 photo with a sheet whose outer corners are ``corners`` (TL, TR, BR, BL)."""
    photo = _lit(background.astype(np.float32) / 255.0, rng, look)
    height, width = photo.shape[:2]
    low = np.maximum(np.floor(corners.min(0)).astype(int) - 12, 0)
    high = np.minimum(np.ceil(corners.max(0)).astype(int) + 13, [width, height])
    coverage, paper = _sheet_coverage(corners - low, tuple(high - low), rng, look)
    crop = photo[low[1]:high[1], low[0]:high[0]]
    shadow = cv2.GaussianBlur(coverage, (0, 0), rng.uniform(1.0, 3.0))
    shift = rng.uniform(-1.5, 1.5, 2)
    shadow = cv2.warpAffine(shadow, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), shadow.shape[::-1])
    crop *= 1.0 - rng.uniform(*look.shadow) * shadow[..., None]
    crop[:] = crop * (1.0 - coverage[..., None]) + paper
    return finish(photo, rng, look)


def finish(photo: np.ndarray, rng, look: SheetLook = SheetLook()) -> np.ndarray:
    """Blur, noise and a JPEG round trip: (H, W, 3) float 0-1 -> uint8 RGB."""
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(*look.blur_sigma))
    photo = photo * 255.0 + rng.normal(0.0, rng.uniform(*look.noise_sigma), photo.shape)
    photo = np.clip(np.round(photo), 0, 255).astype(np.uint8)
    quality = int(rng.integers(look.jpeg_quality[0], look.jpeg_quality[1] + 1))
    ok, encoded = cv2.imencode(".jpg", photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()


def plain_photo(background: np.ndarray, rng, look: SheetLook = SheetLook()) -> np.ndarray:
    """The same photo treatment (light ramp, blur, noise, JPEG) with no sheet."""
    return finish(_lit(background.astype(np.float32) / 255.0, rng, look), rng, look)


def _lit(photo: np.ndarray, rng, look: SheetLook) -> np.ndarray:
    height, width = photo.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = ((xs - width / 2) * np.cos(angle) + (ys - height / 2) * np.sin(angle)) / max(width, height)
    return photo * (1.0 + 2 * rng.uniform(-look.light, look.light) * ramp)[..., None]


def _sheet_coverage(corners, crop_size, rng, look):
    """Coverage (h, w) in [0, 1] and premultiplied paper colour (h, w, 3) in a crop."""
    width, height = crop_size
    unit = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    # Fine pixel j covers crop coordinate (j + 0.5) / SUPERSAMPLE - 0.5.
    fine = SUPERSAMPLE * (corners + 0.5) - 0.5
    to_unit = cv2.getPerspectiveTransform(fine.astype(np.float32), unit.astype(np.float32))
    ys, xs = np.mgrid[0:height * SUPERSAMPLE, 0:width * SUPERSAMPLE].astype(np.float64)
    mapped = np.stack([xs, ys, np.ones_like(xs)], -1) @ to_unit.T
    u, v = mapped[..., 0] / mapped[..., 2], mapped[..., 1] / mapped[..., 2]
    inside = ((u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)).astype(np.float32)
    tint = 1.0 + rng.uniform(-0.03, 0.03, 3)
    gradient = rng.uniform(-look.shading, look.shading, 2)
    brightness = rng.uniform(*look.paper) * (1.0 + gradient[0] * (u - 0.5) + gradient[1] * (v - 0.5))
    colour = (brightness[..., None] * tint * inside[..., None]).astype(np.float32)
    shrink = (width, height)
    return (cv2.resize(inside, shrink, interpolation=cv2.INTER_AREA),
            cv2.resize(colour, shrink, interpolation=cv2.INTER_AREA))


def corner_error(found: np.ndarray, true: np.ndarray, square: bool = False) -> float:
    """Largest corner distance in pixels, with either short side (any side if square) as the top."""
    shifts = range(4) if square else (0, 2)
    return float(min(np.linalg.norm(np.roll(found, -shift, axis=0) - true, axis=1).max() for shift in shifts))


def wood_floor(rng, size=(960, 720)) -> np.ndarray:
    """(H, W, 3) uint8: a mid-brown floor of planks with grain, a texture that has edges."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    plank = (xs // 70).astype(int)
    offsets = rng.uniform(0, 50, plank.max() + 1)[plank]
    grain = np.sin((ys + offsets * 7) / rng.uniform(3, 6) + 2 * np.sin(xs / 23.0)) * 0.06
    tone = rng.uniform(0.85, 1.1, plank.max() + 1)[plank]
    gaps = (xs % 70 < 2) * -0.25
    base = np.array([0.55, 0.38, 0.22], np.float32)
    floor = base * (tone + grain + gaps)[..., None]
    return np.clip(floor * 255, 0, 255).astype(np.uint8)
