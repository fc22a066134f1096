"""Parametric furniture for training data: parts (boxes, cylinders) -> coloured mesh + exact voxels.

Each category has a generator that first draws a style (STYLES[category]: e.g. a chair is
dining, spindle, ladder, upholstered, armchair, wingback, stool, bar_stool, office, cantilever or
sled) and then its proportions (catalogue sizes: seats 0.42-0.48 m, tables 0.72-0.76 m, ...), part
presence and part counts, so the models see families of shapes rather than a few templates.
Furniture is built in metres in the object frame of `recon.voxels` (DESIGN.md): Y up, front
toward +Z, +X to the right of a viewer who faces the front; the floor is y = 0. Every draw comes
from the given numpy Generator, so a seed gives the identical piece.

    generate(category, rng) -> Furniture        (frozen; parts are frozen Part records; .style)
    furniture_mesh(f)       -> trimesh.Trimesh  (canonical cube coordinates, vertex colours)
    furniture_voxels(f, D)  -> bool (D, D, D)   (canonical frame, exact solid, any-pooled)

Canonical frame: the axis-aligned bounding box of the solid is centred at the origin and its
longest side spans [-0.5, 0.5]; `V[i, j, k]` has i along +X, j along +Y, k along +Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

CATEGORIES = ("bed", "bookcase", "chair", "desk", "sofa", "table", "wardrobe")
MATERIALS = ("wood", "fabric", "metal", "painted", "leather")

# Voxels are decided at this resolution (voxel centres tested against the analytic solids), then
# any-pooled to coarser grids, so thin legs and frames survive downsampling.
FINE_RESOLUTION = 128
CYLINDER_SECTIONS = 20


@dataclass(frozen=True)
class Part:
    """One solid primitive of a piece of furniture.

    shape: "box" or "cylinder" (axis along the part's local Y).
    center: (3,) metres in the object frame.
    size: (3,) full extents along the part's local axes; a cylinder is (diameter along local X,
        height, diameter along local Z): equal diameters give a round one, else an elliptic one.
    rotation: 3x3 row-major, maps part-local directions to the object frame.
    color: RGB 0-255.  material: one of MATERIALS (the renderer's shading hint).
    """

    shape: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]
    color: tuple[int, int, int]
    material: str


@dataclass(frozen=True)
class Furniture:
    """A piece of furniture: its Pix3D category, its parts (metres, object frame), its style."""

    category: str
    parts: tuple[Part, ...]
    style: str = ""  # the generator's style (one of STYLES[category]); "" for hand-made ones


IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

PALETTES = {
    "wood": [(193, 154, 107), (150, 111, 51), (110, 75, 38), (222, 184, 135), (92, 64, 51),
             (181, 136, 99), (239, 213, 170), (133, 94, 66)],
    "fabric": [(120, 130, 140), (70, 90, 120), (160, 60, 60), (200, 190, 170), (90, 110, 80),
               (60, 60, 65), (180, 150, 110), (140, 120, 150), (210, 210, 205)],
    "metal": [(180, 180, 185), (60, 60, 62), (200, 190, 160), (120, 120, 125)],
    "painted": [(240, 240, 235), (30, 30, 32), (200, 215, 225), (225, 205, 180), (120, 150, 130),
                (235, 225, 200)],
    "leather": [(90, 50, 30), (40, 30, 25), (150, 100, 60), (200, 180, 150)],
}


class _Builder:
    """Collects parts; small helpers keep each category generator readable."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.parts: list[Part] = []

    def pick(self, options: tuple[str, ...], weights: tuple[float, ...] | None = None) -> str:
        """One of `options`, with relative `weights` (uniform when None)."""
        p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        return str(options[self.rng.choice(len(options), p=p)])

    def material(self, choices: tuple[str, ...]) -> tuple[str, tuple[int, int, int]]:
        material = str(self.rng.choice(choices))
        palette = PALETTES[material]
        base = np.array(palette[self.rng.integers(len(palette))], float)
        color = np.clip(base + self.rng.normal(0, 12, 3), 0, 255).astype(int)
        return material, (int(color[0]), int(color[1]), int(color[2]))

    def box(self, center, size, look, rotation=IDENTITY) -> None:
        self._add("box", center, size, look, rotation)

    def cylinder(self, center, diameter, height, look, rotation=IDENTITY, diameter_z=None) -> None:
        """Cylinder along local Y; `diameter_z` != `diameter` makes an elliptic (oval) one."""
        self._add("cylinder", center, (diameter, height, diameter if diameter_z is None else diameter_z),
                  look, rotation)

    def strut(self, bottom, top, thickness, look, round_: bool) -> None:
        """A bar (box or cylinder) from point `bottom` to point `top` (metres)."""
        bottom, top = np.asarray(bottom, float), np.asarray(top, float)
        axis = top - bottom
        length = float(np.linalg.norm(axis))
        rotation = _rotation_along(axis / length)
        size = (thickness, length, thickness)
        self._add("cylinder" if round_ else "box", (bottom + top) / 2, size, look, rotation)

    def ring(self, y, radius, thickness, look, segments=12) -> None:
        """A horizontal ring (footrest) of `segments` round bars, centred on the Y axis."""
        angles = np.linspace(0, 2 * np.pi, segments + 1)
        points = [np.array([np.sin(a) * radius, y, np.cos(a) * radius]) for a in angles]
        for p, q in zip(points[:-1], points[1:]):
            # lengthen each chord a little so neighbours overlap at the joints
            d = (q - p) * 0.06
            self.strut(p - d, q + d, thickness, look, True)

    def _add(self, shape, center, size, look, rotation) -> None:
        material, color = look
        rotation = tuple(tuple(float(v) for v in row) for row in np.asarray(rotation, float))
        self.parts.append(Part(shape, tuple(float(v) for v in center),
                               tuple(float(abs(v)) for v in size), rotation, color, material))


def _shaded(look, factor: float):
    """The same material in a lighter or darker tone (doors against their carcass)."""
    material, color = look
    return material, tuple(int(min(255, c * factor)) for c in color)


def _rotation_y_to(direction: np.ndarray) -> np.ndarray:
    """Rotation (3x3) taking +Y onto the unit vector `direction` (Rodrigues)."""
    y = np.array([0.0, 1.0, 0.0])
    v = np.cross(y, direction)
    c = float(np.dot(y, direction))
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _rotation_along(direction: np.ndarray) -> np.ndarray:
    """Rotation (3x3) taking +Y onto the unit vector `direction` and local X onto a horizontal
    direction, so a square bar keeps two faces level (no roll) whichever way it runs."""
    horizontal = np.cross([0.0, 1.0, 0.0], direction)
    norm = float(np.linalg.norm(horizontal))
    if norm < 1e-6:
        return _rotation_y_to(direction)
    x = horizontal / norm
    return np.column_stack([x, direction, np.cross(x, direction)])


def _rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


ALONG_Z = _rotation_x(np.pi / 2)  # a cylinder's axis (local Y) turned onto +Z
ALONG_X = _rotation_y_to(np.array([1.0, 0.0, 0.0]))
GLASS = ("metal", (196, 214, 220))
MIRROR = ("metal", (205, 212, 218))
MATTRESS_COLORS = ((240, 240, 236), (230, 228, 220), (215, 220, 228))


# ---------------------------------------------------------------------------------------------
# Shared components


def _legs(b: _Builder, width, depth, top_y, inset, look, bottom_y=0.0, splay=0.0,
          thickness=0.04, round_=False, count_z=2, taper=False) -> None:
    """Legs under a rectangle width x depth centred on x=z=0, tops at `top_y`.

    inset: from the rectangle's edge to the legs' axes. splay: outward lean of the foot (metres)
    so legs are not all vertical; count_z > 2 adds middle legs along the depth (beds, sofas).
    """
    xs = (-width / 2 + inset, width / 2 - inset)
    zs = np.linspace(-depth / 2 + inset, depth / 2 - inset, count_z)
    for x in xs:
        for z in zs:
            top = np.array([x, top_y, z])
            out = np.array([np.sign(x), 0.0, np.sign(z) if abs(z) > 1e-6 else 0.0])
            foot = np.array([x, bottom_y, z]) + out * splay
            b.strut(foot, top, thickness * (0.75 if taper else 1.0), look, round_)


def _stretchers(b: _Builder, width, depth, top_y, inset, splay, y, thickness, look, kind: str,
                round_: bool) -> None:
    """Rails between legs laid out as in `_legs`, at height y: kind "H", "box" or "side"."""
    s = splay * (1 - y / top_y)  # how far a splayed leg has moved out at this height
    x, z = width / 2 - inset + s, depth / 2 - inset + s
    for sx in (-1, 1):
        b.strut((sx * x, y, -z), (sx * x, y, z), thickness, look, round_)
    if kind == "box":
        for sz in (-1, 1):
            b.strut((-x, y, sz * z), (x, y, sz * z), thickness, look, round_)
    elif kind == "H":
        b.strut((-x, y, 0), (x, y, 0), thickness, look, round_)


def _apron(b: _Builder, width, depth, top_y, height, look, thickness=0.02) -> None:
    """Four rails just under a top, on the rectangle width x depth of the legs' axes."""
    y = top_y - height / 2
    for s in (-1, 1):
        b.box((0, y, s * depth / 2), (width, height, thickness), look)
        b.box((s * width / 2, y, 0), (thickness, height, depth), look)


def _handle(b: _Builder, x, y, z_front, look, vertical: bool, long_: bool) -> None:
    if not long_:
        b.cylinder((x, y, z_front + 0.012), 0.025, 0.024, look, ALONG_Z)
        return
    size = (0.02, 0.18, 0.025) if vertical else (0.15, 0.02, 0.025)
    b.box((x, y, z_front + 0.012), size, look)


def _drawer_stack(b, x0, x1, y0, y1, z_front, count, look, handle_look, long_handles) -> None:
    """Drawer fronts (slightly proud of the carcass, with gaps) and their handles."""
    edges = np.linspace(y0, y1, count + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        b.box(((x0 + x1) / 2, (lo + hi) / 2, z_front + 0.01),
              (x1 - x0 - 0.01, hi - lo - 0.01, 0.02), look)
        _handle(b, (x0 + x1) / 2, (lo + hi) / 2 + (hi - lo) * 0.15, z_front + 0.02,
                handle_look, False, long_handles)


def _doors(b, x0, x1, y0, y1, z_front, count, look, handle_look, long_handles, mirror=False) -> None:
    """`count` hinged doors side by side over [x0, x1] x [y0, y1], handles at the meeting edges."""
    door_w = (x1 - x0) / count
    for k in range(count):
        x = x0 + door_w * (k + 0.5)
        b.box((x, (y0 + y1) / 2, z_front + 0.01), (door_w - 0.006, y1 - y0, 0.02), look)
        if mirror and k % 2 == 1:
            b.box((x, (y0 + y1) / 2, z_front + 0.022), (door_w * 0.75, (y1 - y0) * 0.8, 0.006), MIRROR)
        side = 1 if (k % 2 == 0 and k + 1 < count) else -1
        _handle(b, x + side * door_w * 0.4, (y0 + y1) / 2 if y1 - y0 > 0.6 else y1 - 0.08,
                z_front + 0.02, handle_look, True, long_handles)


def _books(b: _Builder, x0, x1, y, gap, z_back, depth, budget: int) -> int:
    """A run of upright books standing on a shelf whose upper face is at y -> books placed."""
    r = b.rng
    x = x0 + r.uniform(0.0, 0.3) * (x1 - x0)
    used = 0
    while used < budget:
        t = r.uniform(0.018, 0.05)
        if x + t > x1:
            break
        h = min(gap - 0.015, r.uniform(0.16, 0.32))
        d = min(depth - 0.01, r.uniform(0.13, 0.24))
        if h < 0.08:
            break
        b.box((x + t / 2, y + h / 2 - 0.003, z_back + d / 2 + 0.005), (t, h, d),
              b.material(("fabric", "painted", "leather")))
        x += t + (0.0 if r.random() < 0.8 else r.uniform(0.0, 0.02))
        used += 1
        if r.random() < 0.08:
            break
    return used


# ---------------------------------------------------------------------------------------------
# Chairs (seat height 0.42-0.48 m; stools to 0.8 m)


CHAIR_STYLES = ("dining", "spindle", "ladder", "upholstered", "armchair", "wingback", "stool",
                "bar_stool", "office", "cantilever", "sled")
BACK_KINDS = ("panel", "slats", "rails", "frame", "spindle", "ladder", "padded")


def _chair(b: _Builder) -> str:
    style = b.pick(CHAIR_STYLES, (3, 1.5, 1.5, 2, 2, 1, 1, 1.5, 2, 1, 1))
    if style in ("armchair", "wingback"):
        _armchair(b, style == "wingback")
    elif style in ("stool", "bar_stool"):
        _stool(b, style == "bar_stool")
    elif style == "office":
        _office_chair(b)
    elif style in ("cantilever", "sled"):
        _tube_chair(b, style == "cantilever")
    else:
        back = {"dining": b.pick(("panel", "slats", "rails", "frame")), "spindle": "spindle",
                "ladder": "ladder", "upholstered": "padded"}[style]
        _framed_chair(b, back, padded=style == "upholstered")
    return style


def _framed_chair(b: _Builder, back_kind: str, padded: bool) -> None:
    """Four legs, a seat, a back of `back_kind`, sometimes arms (dining and kitchen chairs)."""
    r = b.rng
    width, depth = r.uniform(0.40, 0.52), r.uniform(0.40, 0.50)
    seat_y = r.uniform(0.43, 0.48)
    frame = b.material(("wood", "wood", "metal", "painted"))
    seat_look = frame if r.random() < 0.4 and not padded else b.material(("fabric", "leather", "wood"))
    seat_t = r.uniform(0.06, 0.1) if padded else r.uniform(0.025, 0.05)
    if padded:  # a wooden seat frame under a thick cushion
        b.box((0, seat_y - seat_t - 0.02, 0), (width, 0.04, depth), frame)
        b.box((0, seat_y - seat_t / 2, 0.005), (width - 0.01, seat_t, depth - 0.01), seat_look)
        under = seat_y - seat_t - 0.04
    else:
        b.box((0, seat_y - seat_t / 2, 0), (width, seat_t, depth), seat_look)
        if r.random() < 0.2:  # a tie-on cushion
            b.box((0, seat_y + 0.02, 0.01), (width * 0.9, 0.04, depth * 0.85), b.material(("fabric",)))
        under = seat_y - seat_t
    leg_t = r.uniform(0.025, 0.045)
    round_ = back_kind in ("spindle", "ladder") or r.random() < 0.4
    inset = leg_t / 2 + r.uniform(0.0, 0.025)
    splay = float(r.choice([0.0, 0.0, r.uniform(0.01, 0.04)]))
    _legs(b, width, depth, under, inset, frame, splay=splay, thickness=leg_t, round_=round_,
          taper=r.random() < 0.3)
    kind = b.pick(("none", "H", "box", "side"), (2, 1, 1.5, 1) if back_kind != "ladder" else (0, 1, 3, 0))
    if kind != "none":
        _stretchers(b, width, depth, under, inset, splay, r.uniform(0.1, 0.22), leg_t * 0.6, frame,
                    kind, round_)
    _chair_back(b, back_kind, width, depth, seat_y, seat_t, frame, seat_look if padded else
                (frame if r.random() < 0.6 else seat_look), round_)
    if r.random() < 0.25:  # open arms
        arm_y = seat_y + r.uniform(0.2, 0.26)
        for s in (-1, 1):
            x = s * (width / 2 + 0.01)
            b.box((x, arm_y, -0.03), (0.05, 0.03, depth * 0.85), frame)
            b.box((x, (arm_y + seat_y) / 2 - 0.01, depth / 2 - 0.08), (0.03, arm_y - seat_y + 0.04, 0.03), frame)


def _chair_back(b: _Builder, kind: str, width, depth, seat_y, seat_t, frame, back_look, round_posts) -> None:
    r = b.rng
    back_h = {"ladder": r.uniform(0.45, 0.62), "spindle": r.uniform(0.38, 0.55),
              "padded": r.uniform(0.38, 0.55)}.get(kind, r.uniform(0.3, 0.5))
    tilt = r.uniform(0.04, 0.2)
    post_t = r.uniform(0.025, 0.04)
    z_back = -depth / 2 + post_t / 2
    rot = _rotation_x(-tilt)

    def at(height):  # point on the tilted back plane at this height above the seat
        return np.array([0.0, seat_y + height * np.cos(tilt), z_back - height * np.sin(tilt)])

    for s in (-1, 1):
        centre = at((back_h - seat_t) / 2) + (s * (width / 2 - post_t / 2), 0, 0)
        if round_posts:
            b.cylinder(centre, post_t, back_h + seat_t, frame, rot)
        else:
            b.box(centre, (post_t, back_h + seat_t, post_t), frame, rot)
    inner = width - 2 * post_t + 0.01
    if kind == "panel":
        ph = back_h * r.uniform(0.35, 0.7)
        b.box(at(back_h - ph / 2 - r.uniform(0.0, 0.03)), (inner, ph, 0.02), back_look, rot)
    elif kind == "slats":
        count = int(r.integers(2, 7))
        b.box(at(back_h - 0.03), (inner, 0.06, 0.025), back_look, rot)
        b.box(at(0.1), (inner, 0.03, 0.022), back_look, rot)
        slat_w = min(inner / count * 0.6, r.uniform(0.015, 0.06))
        for x in (np.arange(count) + 0.5) / count * inner - inner / 2:
            b.box(at((back_h + 0.1) / 2 - 0.015) + (x, 0, 0), (slat_w, back_h - 0.1, 0.018), back_look, rot)
    elif kind in ("rails", "ladder"):
        count = int(r.integers(2, 4)) if kind == "rails" else int(r.integers(3, 6))
        rail_h = r.uniform(0.03, 0.06) if kind == "rails" else r.uniform(0.05, 0.08)
        for h in np.linspace(back_h * (0.35 if kind == "rails" else 0.3), back_h - rail_h / 2, count):
            b.box(at(h), (inner, rail_h, 0.02), back_look, rot)
    elif kind == "spindle":
        rail_h = r.uniform(0.05, 0.09)
        b.box(at(back_h - rail_h / 2), (inner + 0.02, rail_h, 0.03), frame, rot)
        count = int(r.integers(4, 10))
        dia = r.uniform(0.012, 0.02)
        for x in (np.arange(count) + 0.5) / count * (inner - 0.02) - (inner - 0.02) / 2:
            b.cylinder(at((back_h - rail_h / 2) / 2) + (x, 0, 0), dia, back_h - rail_h / 2 + 0.01, frame, rot)
    elif kind == "padded":
        pad_t = r.uniform(0.05, 0.09)
        bottom = back_h * r.uniform(0.05, 0.3)
        b.box(at((bottom + back_h) / 2 + 0.02), (width + 0.005, back_h - bottom + 0.04, pad_t), back_look, rot)
    else:  # frame: top rail and a low rail
        b.box(at(back_h - 0.03), (inner, 0.06, 0.025), back_look, rot)
        b.box(at(back_h * 0.2), (inner, 0.03, 0.022), back_look, rot)


def _upholstered(b: _Builder, width, depth, seat_y, back_top, seats: int, arm_w, arm_top, arm_kind: str,
                 leg_h, look, legs_look, back_cushions: bool, cushion_t, back_t) -> float:
    """Armchair and sofa body: base, back, arms, seat and back cushions -> inner (between arms) width.

    arm_kind: "square", "rolled" (a bolster along the arm's top) or "none"; leg_h 0: a plinth.
    """
    r = b.rng
    base_y0 = leg_h if leg_h > 0 else 0.03
    if leg_h > 0:
        _legs(b, width - 0.08, depth - 0.08, leg_h + 0.01, 0.0, legs_look,
              thickness=r.uniform(0.03, 0.05), round_=r.random() < 0.6, taper=r.random() < 0.4,
              splay=float(r.choice([0.0, 0.02])) if leg_h > 0.1 else 0.0)
        if width > 1.9:  # a middle pair under long sofas
            for z in (-depth / 2 + 0.06, depth / 2 - 0.06):
                b.cylinder((0, (leg_h + 0.01) / 2, z), 0.04, leg_h + 0.01, legs_look)
    else:
        b.box((0, 0.02, 0), (width - 0.06, 0.04, depth - 0.06), _shaded(look, 0.6))
    base_top = seat_y - cushion_t
    b.box((0, (base_y0 + base_top) / 2, 0), (width, base_top - base_y0, depth), look)
    b.box((0, (base_top + back_top) / 2, -depth / 2 + back_t / 2), (width, back_top - base_top, back_t), look)
    arms = arm_kind != "none"
    inner = width - 2 * arm_w if arms else width
    if arms:
        for s in (-1, 1):
            x = s * (width / 2 - arm_w / 2)
            if arm_kind == "rolled":
                roll = arm_w * 1.15
                body_top = arm_top - roll / 2
                b.box((x, (base_y0 + body_top) / 2, 0), (arm_w, body_top - base_y0, depth), look)
                b.cylinder((x + s * arm_w * 0.07, body_top, 0.0), roll, depth, look, ALONG_Z)
            else:
                b.box((x, (base_y0 + arm_top) / 2, 0), (arm_w, arm_top - base_y0, depth), look)
    count = seats if r.random() < 0.8 else 1
    cw = inner / count
    gap = r.uniform(0.008, 0.02)
    cushion_d = depth - back_t + r.uniform(0.0, 0.03)
    cushion_look = look if r.random() < 0.85 else _shaded(look, 1.1)
    back_cushion_t = r.uniform(0.12, 0.2)
    back_cushion_h = back_top - seat_y + r.uniform(-0.06, 0.06)
    for k in range(count):
        x = -inner / 2 + cw * (k + 0.5)
        b.box((x, seat_y - cushion_t / 2, depth / 2 - cushion_d / 2), (cw - gap, cushion_t, cushion_d), cushion_look)
    if back_cushions:
        count = seats if r.random() < 0.85 else max(1, seats - 1)
        cw = inner / count
        for k in range(count):
            x = -inner / 2 + cw * (k + 0.5)
            b.box((x, seat_y + back_cushion_h / 2 - 0.02, -depth / 2 + back_t + back_cushion_t / 2 - 0.01),
                  (cw - gap, back_cushion_h, back_cushion_t), cushion_look, _rotation_x(-0.08))
    return inner


def _armchair(b: _Builder, wing: bool) -> None:
    r = b.rng
    look = b.material(("fabric", "fabric", "leather"))
    width, depth = r.uniform(0.72, 0.95), r.uniform(0.75, 0.92)
    seat_y = r.uniform(0.40, 0.47)
    arm_w = r.uniform(0.08, 0.22)
    arm_kind = b.pick(("square", "rolled"))
    arm_top = seat_y + r.uniform(0.14, 0.25)
    back_top = r.uniform(1.0, 1.15) if wing else r.uniform(0.72, 0.92)
    leg_h = r.uniform(0.1, 0.22) if wing else float(r.choice([0.0, r.uniform(0.05, 0.16)]))
    back_t = r.uniform(0.12, 0.22)
    _upholstered(b, width, depth, seat_y, back_top, 1, arm_w, arm_top, arm_kind, leg_h, look,
                 b.material(("wood", "wood", "metal")), r.random() < (0.3 if wing else 0.7),
                 r.uniform(0.1, 0.16), back_t)
    if wing:
        wing_d, wing_t = r.uniform(0.22, 0.38), r.uniform(0.06, 0.1)
        for s in (-1, 1):
            b.box((s * (width / 2 - wing_t / 2), (arm_top + back_top - 0.04) / 2 - 0.02, -depth / 2 + wing_d / 2),
                  (wing_t, back_top - arm_top, wing_d), look)


def _stool(b: _Builder, bar: bool) -> None:
    r = b.rng
    frame = b.material(("wood", "metal", "painted", "wood"))
    seat_look = frame if r.random() < 0.5 else b.material(("fabric", "leather", "wood"))
    seat_y = r.uniform(0.64, 0.80) if bar else r.uniform(0.44, 0.6)
    seat_t = r.uniform(0.03, 0.07)
    size = r.uniform(0.3, 0.42)
    round_seat = r.random() < 0.65
    if round_seat:
        b.cylinder((0, seat_y - seat_t / 2, 0), size, seat_t, seat_look)
    else:
        b.box((0, seat_y - seat_t / 2, 0), (size, seat_t, size), seat_look)
    under = seat_y - seat_t
    base = b.pick(("legs", "pedestal"), (3, 2)) if bar else "legs"
    foot_y = r.uniform(0.24, 0.34) if bar else r.uniform(0.14, 0.24)
    if base == "pedestal":
        metal = b.material(("metal",))
        b.cylinder((0, under / 2, 0), r.uniform(0.045, 0.08), under, metal)
        b.cylinder((0, 0.012, 0), r.uniform(0.38, 0.48), 0.024, metal)
        radius = r.uniform(0.17, 0.22)
        b.ring(foot_y, radius, 0.018, metal)
        for a in np.linspace(0, 2 * np.pi, 4, endpoint=False)[: int(r.integers(2, 5))]:
            b.strut((0, foot_y, 0), (np.sin(a) * radius, foot_y, np.cos(a) * radius), 0.015, metal, True)
    else:
        count = 3 if r.random() < 0.3 else 4
        leg_t = r.uniform(0.025, 0.04)
        r_top = size * (0.32 if round_seat else 0.4)
        r_foot = r_top + r.uniform(0.02, 0.1) * (seat_y / 0.5)
        round_ = r.random() < 0.6
        phase = np.pi / count
        for k in range(count):
            a = 2 * np.pi * k / count + phase
            b.strut((np.sin(a) * r_foot, 0, np.cos(a) * r_foot), (np.sin(a) * r_top, under + 0.005, np.cos(a) * r_top),
                    leg_t, frame, round_)
        radius = r_foot + (r_top - r_foot) * foot_y / under
        if b.pick(("ring", "rails"), (1, 1)) == "ring":
            b.ring(foot_y, radius, leg_t * 0.6, frame)
        else:
            for k in range(count):
                a0, a1 = 2 * np.pi * k / count + phase, 2 * np.pi * (k + 1) / count + phase
                b.strut((np.sin(a0) * radius, foot_y, np.cos(a0) * radius),
                        (np.sin(a1) * radius, foot_y, np.cos(a1) * radius), leg_t * 0.6, frame, round_)
    if bar and r.random() < 0.45:  # a low back
        back_h = r.uniform(0.18, 0.35)
        z = -size / 2 + 0.03
        for s in (-1, 1):
            b.strut((s * size * 0.3, seat_y - 0.01, z), (s * size * 0.3, seat_y + back_h, z - 0.04), 0.02, frame, True)
        b.box((0, seat_y + back_h - 0.03, z - 0.035), (size * 0.8, r.uniform(0.05, 0.1), 0.025), seat_look)


def _office_chair(b: _Builder) -> None:
    r = b.rng
    shell = b.material(("fabric", "leather", "fabric"))
    metal = b.material(("metal",))
    width, depth = r.uniform(0.46, 0.54), r.uniform(0.44, 0.52)
    seat_y, seat_t = r.uniform(0.45, 0.52), r.uniform(0.06, 0.1)
    radius, caster = r.uniform(0.28, 0.34), r.uniform(0.045, 0.065)
    hub_y = caster + 0.035
    turn, arm_t = r.uniform(0, 2 * np.pi / 5), r.uniform(0.03, 0.04)
    for k in range(5):
        a = 2 * np.pi * k / 5 + turn
        tip = np.array([np.sin(a) * radius, caster + 0.01, np.cos(a) * radius])
        b.strut((0, hub_y, 0), tip, arm_t, metal, False)
        b.cylinder((tip[0], caster / 2, tip[2]), caster, 0.03, _shaded(metal, 0.5), ALONG_X)
    b.cylinder((0, hub_y, 0), 0.07, 0.06, metal)
    mech_y = seat_y - seat_t - 0.02
    b.cylinder((0, (hub_y + mech_y) / 2, 0), r.uniform(0.035, 0.055), mech_y - hub_y, metal)
    b.box((0, mech_y, 0), (0.2, 0.04, 0.22), _shaded(metal, 0.5))
    b.box((0, seat_y - seat_t / 2, 0), (width, seat_t, depth), shell)
    back_h, back_t = r.uniform(0.4, 0.7), r.uniform(0.05, 0.08)
    tilt = r.uniform(0.05, 0.2)
    bottom = seat_y + r.uniform(0.04, 0.1)
    z = -depth / 2 - back_t / 2 + 0.01
    b.box((0, bottom + back_h / 2 * np.cos(tilt), z - back_h / 2 * np.sin(tilt)),
          (width * r.uniform(0.85, 1.02), back_h, back_t), shell, _rotation_x(-tilt))
    b.strut((0, mech_y, -0.08), (0, bottom + 0.08, z - 0.08 * np.sin(tilt) - 0.02), 0.05, _shaded(metal, 0.5), False)
    if r.random() < 0.7:  # T-arms
        arm_y = seat_y + r.uniform(0.18, 0.25)
        for s in (-1, 1):
            x = s * (width / 2 + 0.03)
            b.strut((s * 0.06, mech_y, -0.03), (x, mech_y, -0.03), 0.035, _shaded(metal, 0.5), False)
            b.strut((x, mech_y - 0.015, -0.03), (x, arm_y, -0.03), 0.03, _shaded(metal, 0.5), False)
            b.box((x, arm_y + 0.012, -0.02), (0.07, 0.025, 0.24), _shaded(shell, 0.7))


def _tube_chair(b: _Builder, cantilever: bool) -> None:
    """Bent-tube frames: a cantilever (seat held from the front only) or a sled (floor runners)."""
    r = b.rng
    metal = b.material(("metal",))
    seat_look = b.material(("leather", "fabric", "wood", "painted"))
    width, depth = r.uniform(0.42, 0.5), r.uniform(0.42, 0.5)
    seat_y, seat_t = r.uniform(0.44, 0.48), r.uniform(0.02, 0.06)
    t = r.uniform(0.018, 0.026)
    under = seat_y - seat_t - t / 2
    z_front, z_rear = depth / 2 - 0.03, -depth / 2 + 0.03
    floor_rear = z_rear + (r.uniform(0.0, 0.08) if cantilever else 0.0)
    back_h, tilt = r.uniform(0.3, 0.45), r.uniform(0.05, 0.2)
    back_top = np.array([0.0, seat_y + back_h * np.cos(tilt), z_rear - back_h * np.sin(tilt)])
    for s in (-1, 1):
        x = s * (width / 2 - t / 2)
        b.strut((x, t / 2, floor_rear), (x, t / 2, z_front + (0.04 if cantilever else 0.0)), t, metal, True)
        b.strut((x, 0, z_front + (0.04 if cantilever else 0.0)), (x, under, z_front), t, metal, True)
        b.strut((x, under, z_front + t / 2), (x, under, z_rear - t / 2), t, metal, True)
        b.strut((x, under - t / 2, z_rear), back_top + (x, 0, 0), t, metal, True)
        if not cantilever:
            b.strut((x, 0, z_rear), (x, under, z_rear), t, metal, True)
    if cantilever:
        b.strut((-width / 2 + t / 2, t / 2, floor_rear), (width / 2 - t / 2, t / 2, floor_rear), t, metal, True)
    b.box((0, seat_y - seat_t / 2, 0), (width, seat_t, depth), seat_look)
    ph = back_h * r.uniform(0.4, 0.7)
    centre = np.array([0.0, seat_y, z_rear]) + (back_h - ph / 2) * np.array([0, np.cos(tilt), -np.sin(tilt)])
    b.box(centre, (width, ph, r.uniform(0.015, 0.05)), seat_look, _rotation_x(-tilt))


# ---------------------------------------------------------------------------------------------
# Tables (dining 0.72-0.76 m high, coffee 0.38-0.48 m, side 0.5-0.65 m) and desks


TABLE_STYLES = ("rectangular", "round", "oval", "pedestal", "trestle", "coffee", "side", "glass")
DESK_STYLES = ("writing", "pedestal", "double_pedestal", "corner", "hutch", "keyboard_tray")


def _top(b: _Builder, shape: str, width, depth, height, thickness, look) -> None:
    """Table top with its upper face at `height`: shape "rect", "round" or "oval"."""
    centre = (0, height - thickness / 2, 0)
    if shape == "rect":
        b.box(centre, (width, thickness, depth), look)
    else:
        b.cylinder(centre, width, thickness, look, diameter_z=depth)


def _table(b: _Builder) -> str:
    r = b.rng
    style = b.pick(TABLE_STYLES, (3, 2, 1.5, 2, 1.5, 2, 1.5, 1))
    top_look = b.material(("wood", "painted", "wood"))
    leg_look = top_look if r.random() < 0.6 else b.material(("metal", "wood", "painted"))
    height, top_t = r.uniform(0.72, 0.76), r.uniform(0.022, 0.05)
    shape = "rect"
    if style in ("rectangular", "trestle"):
        width, depth = r.uniform(1.2, 2.3), r.uniform(0.75, 1.0)
    elif style == "round":
        width = depth = r.uniform(0.8, 1.3)
        shape = "round"
    elif style == "oval":
        width, depth = r.uniform(1.4, 2.2), r.uniform(0.8, 1.1)
        shape = "oval"
    elif style == "pedestal":
        shape = b.pick(("round", "rect"), (3, 1))
        width = r.uniform(0.6, 1.2)
        depth = width if r.random() < 0.8 else width * r.uniform(0.7, 0.9)
    elif style == "coffee":
        height = r.uniform(0.36, 0.48)
        shape = b.pick(("rect", "round", "oval"), (4, 1, 1))
        width = r.uniform(0.8, 1.3) if shape != "round" else r.uniform(0.6, 1.0)
        depth = width if shape == "round" else r.uniform(0.45, 0.75)
    elif style == "side":
        height = r.uniform(0.5, 0.65)
        shape = b.pick(("rect", "round"))
        width = r.uniform(0.38, 0.6)
        depth = width * (1.0 if shape == "round" or r.random() < 0.5 else r.uniform(0.75, 1.0))
    else:  # glass: a thin top on a metal frame, dining or coffee height
        height = float(r.choice([r.uniform(0.72, 0.76), r.uniform(0.38, 0.45)]))
        shape = b.pick(("rect", "round", "oval"), (3, 1, 1))
        width = r.uniform(0.9, 1.8)
        depth = width if shape == "round" else r.uniform(0.55, 1.0)
        # at least one fine voxel thick, so the exact voxels keep the whole top
        top_look, top_t = GLASS, max(r.uniform(0.008, 0.015), 1.05 * max(width, depth) / FINE_RESOLUTION)
        leg_look = b.material(("metal",))
    _top(b, shape, width, depth, height, top_t, top_look)
    under = height - top_t
    if style == "pedestal":
        _pedestal_base(b, width, depth, under, leg_look)
    elif style == "trestle":
        _trestle_base(b, width, depth, under, leg_look)
    elif style == "coffee" and r.random() < 0.3:  # solid sides, a sled-like frame
        t = r.uniform(0.03, 0.06)
        lw = width * (0.92 if shape == "rect" else 0.68)
        ld = depth * (0.9 if shape == "rect" else 0.65)
        for s in (-1, 1):
            b.box((s * (lw / 2 - t / 2), under / 2, 0), (t, under, ld), leg_look)
        b.box((0, r.uniform(0.06, 0.15), 0), (lw - 0.01, 0.02, ld), top_look)
    else:
        _legged_base(b, style, shape, width, depth, under, top_look, leg_look)
    return style


def _legged_base(b: _Builder, style, shape, width, depth, under, top_look, leg_look) -> None:
    """Four (or three) legs under a top, with apron, stretchers, lower shelf or a drawer."""
    r = b.rng
    glass = style == "glass"
    leg_t = r.uniform(0.025, 0.04) if glass else r.uniform(0.035, 0.08) * (0.7 if style == "side" else 1.0)
    fit = 1.0 if shape == "rect" else 1 / np.sqrt(2) * r.uniform(0.85, 0.98)
    lw, ld = width * fit, depth * fit  # the legs' rectangle, inside a disc or an ellipse
    inset = leg_t / 2 + (r.uniform(0.02, 0.1) if shape == "rect" else 0.0)
    shelf = style in ("coffee", "side") and r.random() < 0.5
    splay = 0.0 if shelf else float(r.choice([0.0, 0.0, r.uniform(0.01, 0.07)]))
    round_ = r.random() < 0.45
    if shape == "round" and r.random() < 0.3 and not (shelf or glass):  # three splayed legs
        radius = width / 2 * 0.6
        for k in range(3):
            a = 2 * np.pi * k / 3 + np.pi
            b.strut((np.sin(a) * (radius + 0.08), 0, np.cos(a) * (radius + 0.08)),
                    (np.sin(a) * radius, under + 0.005, np.cos(a) * radius), leg_t, leg_look, round_)
        return
    _legs(b, lw, ld, under + 0.005, inset, leg_look, splay=splay, thickness=leg_t, round_=round_,
          taper=r.random() < 0.35)
    ax, az = lw - 2 * inset, ld - 2 * inset
    if glass or r.random() < 0.65:
        apron_h = r.uniform(0.02, 0.04) if glass else r.uniform(0.06, 0.12) * min(1.0, under / 0.6)
        _apron(b, ax, az, under, apron_h, leg_look if glass else top_look, 0.02)
    if style == "side" and r.random() < 0.4:  # a drawer in the apron
        dh = r.uniform(0.1, 0.16)
        b.box((0, under - dh / 2, 0), (ax, dh, az), top_look)
        _drawer_stack(b, -ax / 2 + 0.01, ax / 2 - 0.01, under - dh, under, az / 2, 1, _shaded(top_look, 1.08),
                      b.material(("metal",)), False)
    if shelf:
        b.box((0, r.uniform(0.08, 0.2), 0), (ax + leg_t, 0.02, az + leg_t), top_look)
    elif style in ("rectangular", "oval", "round") and r.random() < 0.3:
        _stretchers(b, lw, ld, under + 0.005, inset, splay, r.uniform(0.1, 0.25), leg_t * 0.6, leg_look,
                    b.pick(("H", "box")), round_)


def _pedestal_base(b: _Builder, width, depth, under, look) -> None:
    """One central column and its foot: a disc, a cross of feet or three splayed feet."""
    r = b.rng
    column = r.uniform(0.07, 0.2)
    foot = b.pick(("disc", "cross", "tripod"))
    if r.random() < 0.7:
        b.cylinder((0, under / 2, 0), column, under, look)
    else:
        b.box((0, under / 2, 0), (column, under, column), look)
    b.cylinder((0, under - 0.015, 0), min(width, depth) * r.uniform(0.3, 0.5), 0.03, look)  # under-top plate
    reach = min(width, depth) * r.uniform(0.3, 0.42)
    if foot == "disc":
        b.cylinder((0, 0.015, 0), 2 * reach, r.uniform(0.02, 0.05), look)
    else:
        arms = 4 if foot == "cross" else 3
        foot_t = r.uniform(0.04, 0.07)
        for k in range(arms):
            a = 2 * np.pi * k / arms + np.pi / arms
            tip = np.array([np.sin(a) * reach, foot_t / 2 if foot == "cross" else foot_t, np.cos(a) * reach])
            start = (0, foot_t / 2 if foot == "cross" else under * 0.25, 0)
            b.strut(start, tip, foot_t, look, False)
            b.box((tip[0], foot_t / 2, tip[2]), (0.06, foot_t, 0.06), look)  # a pad on the floor


def _trestle_base(b: _Builder, width, depth, under, look) -> None:
    """Two end frames (post on a foot bar, or crossed legs) joined by a long stretcher."""
    r = b.rng
    x_end = width / 2 - r.uniform(0.12, 0.3)
    crossed = r.random() < 0.35
    post = r.uniform(0.05, 0.1)
    for s in (-1, 1):
        x = s * x_end
        b.box((x, under - 0.025, 0), (0.07, 0.05, depth * 0.8), look)  # cap under the top
        b.box((x, 0.035, 0), (0.08, 0.07, depth * 0.8), look)  # foot on the floor
        if crossed:
            for sz in (-1, 1):
                b.strut((x, 0.05, sz * depth * 0.36), (x, under - 0.03, -sz * depth * 0.36), post * 0.8, look, False)
        else:
            for z in ((0.0,) if r.random() < 0.6 else (-depth * 0.22, depth * 0.22)):
                b.box((x, under / 2, z), (post, under - 0.05, post * 1.2), look)
    y = under * r.uniform(0.3, 0.5) if not crossed else under * 0.5
    b.box((0, y, 0), (2 * x_end, r.uniform(0.04, 0.08), 0.04), look)


def _desk(b: _Builder) -> str:
    r = b.rng
    style = b.pick(DESK_STYLES, (2, 2, 1.5, 1.5, 1.5, 1.5))
    look = b.material(("wood", "painted", "wood"))
    handle = b.material(("metal",))
    height, top_t = r.uniform(0.72, 0.76), r.uniform(0.022, 0.04)
    width, depth = r.uniform(1.0, 1.8), r.uniform(0.55, 0.8)
    under = height - top_t
    b.box((0, height - top_t / 2, 0), (width, top_t, depth), look)
    long_handles = r.random() < 0.5
    if style == "corner":
        side = int(r.choice([-1, 1]))
        ret_w, ret_l = r.uniform(0.45, 0.6), r.uniform(0.5, 1.0)
        b.box((side * (width / 2 - ret_w / 2), height - top_t / 2, depth / 2 + ret_l / 2), (ret_w, top_t, ret_l), look)
        b.box((side * (width / 2 - 0.015), under / 2, ret_l / 2), (0.03, under, depth + ret_l), look)
        b.box((side * (width / 2 - ret_w / 2), under / 2, depth / 2 + ret_l - 0.015), (ret_w, under, 0.03), look)
        if r.random() < 0.5:
            _desk_pedestal(b, -side, width, depth, under, look, handle, long_handles)
        else:
            b.box((-side * (width / 2 - 0.015), under / 2, 0), (0.03, under, depth), look)
        b.box((0, under * 0.6, -depth / 2 + 0.02), (width - 0.06, under * 0.55, 0.02), look)
        return style
    if style in ("pedestal", "double_pedestal"):
        sides = (-1, 1) if style == "double_pedestal" else (int(r.choice([-1, 1])),)
        for s in sides:
            _desk_pedestal(b, s, width, depth, under, look, handle, long_handles)
        if len(sides) == 1:
            if r.random() < 0.5:
                b.box((-sides[0] * (width / 2 - 0.015), under / 2, 0), (0.03, under, depth * 0.95), look)
            else:
                x = -sides[0] * (width / 2 - 0.03)
                for z in (-depth / 2 + 0.03, depth / 2 - 0.03):
                    b.box((x, under / 2, z), (0.045, under, 0.045), look)
        else:
            inner = width - 2 * 0.46  # a centre drawer between the pedestals, hung from the top
            if inner > 0.3 and r.random() < 0.5:
                b.box((0, under - 0.05, 0), (inner + 0.01, 0.1, depth * 0.9), look)
                _drawer_stack(b, -inner / 2, inner / 2, under - 0.1, under, depth * 0.45, 1, look, handle, True)
        if r.random() < 0.7:
            b.box((0, under * 0.62, -depth / 2 + 0.05), (width - 0.1, under * 0.5, 0.02), look)
    else:
        leg_look = look if r.random() < 0.6 else b.material(("metal", "painted"))
        if r.random() < 0.6:
            leg_t = r.uniform(0.035, 0.06)
            _legs(b, width, depth, under + 0.005, leg_t / 2 + r.uniform(0.0, 0.04), leg_look, thickness=leg_t,
                  round_=r.random() < 0.3, taper=r.random() < 0.4, splay=float(r.choice([0.0, 0.0, 0.02])))
            apron = r.uniform(0.06, 0.12)
            _apron(b, width - leg_t - 0.08, depth - leg_t - 0.08, under, apron, look)
            if r.random() < 0.5:
                n = int(r.integers(1, 4))
                _drawer_stack_row(b, width - leg_t - 0.1, under - apron, under, depth / 2 - 0.04 - leg_t / 2, n,
                                  _shaded(look, 1.06), handle)
        else:
            for s in (-1, 1):
                b.box((s * (width / 2 - 0.02), under / 2, 0), (0.04, under, depth * 0.95), leg_look)
            b.box((0, under * 0.62, -depth / 2 + 0.04), (width - 0.06, under * 0.5, 0.02), leg_look)
    if style == "hutch":
        _hutch(b, width, depth, height, look)
    elif style == "keyboard_tray":
        tw = min(width - 0.3, r.uniform(0.6, 0.75))
        y = under - r.uniform(0.06, 0.1)
        b.box((0, y, depth / 2 - 0.15), (tw, 0.02, 0.34), look)
        for s in (-1, 1):
            b.box((s * (tw / 2 + 0.01), (y + under) / 2, depth / 2 - 0.2), (0.02, under - y + 0.01, 0.38), handle)
    return style


def _drawer_stack_row(b: _Builder, span, y0, y1, z_front, count, look, handle) -> None:
    """`count` drawers side by side in an apron (writing desks)."""
    w = span / count
    for k in range(count):
        x0 = -span / 2 + w * k
        _drawer_stack(b, x0, x0 + w, y0, y1, z_front, 1, look, handle, False)


def _desk_pedestal(b: _Builder, side, width, depth, under, look, handle, long_handles) -> None:
    r = b.rng
    ped_w = r.uniform(0.36, 0.46)
    x = side * (width / 2 - ped_w / 2)
    b.box((x, under / 2, 0), (ped_w, under, depth * 0.95), look)
    drawers = int(r.choice([1, 2, 3, 3, 4, 4]))
    _drawer_stack(b, x - ped_w / 2 + 0.02, x + ped_w / 2 - 0.02, 0.06, under - 0.02, depth * 0.475, drawers,
                  _shaded(look, r.uniform(0.9, 1.1)), handle, long_handles)


def _hutch(b: _Builder, width, depth, height, look) -> None:
    """Shelves on the desk's rear edge: sides, top, back, one or two shelves, cubby dividers."""
    r = b.rng
    hh, hd = r.uniform(0.35, 0.8), r.uniform(0.2, 0.3)
    z = -depth / 2 + hd / 2
    hw = width if r.random() < 0.7 else width * r.uniform(0.6, 0.9)
    for s in (-1, 1):
        b.box((s * (hw / 2 - 0.01), height + hh / 2, z), (0.02, hh, hd), look)
    b.box((0, height + hh - 0.01, z), (hw, 0.02, hd), look)
    b.box((0, height + hh / 2, -depth / 2 + 0.005), (hw, hh, 0.01), look)
    shelves = 1 if hh < 0.55 else int(r.integers(1, 3))
    for y in np.linspace(height, height + hh, shelves + 2)[1:-1]:
        b.box((0, y, z), (hw, 0.02, hd), look)
    for x in np.linspace(-hw / 2, hw / 2, int(r.integers(2, 5)))[1:-1]:
        b.box((x, height + hh / 2, z), (0.02, hh, hd), look)


# ---------------------------------------------------------------------------------------------
# Sofas (seat 0.40-0.46 m, back 0.75-0.95 m, depth 0.85-1.0 m; futons lower)


SOFA_STYLES = ("sofa", "loveseat", "sectional", "chesterfield", "armless", "futon")


def _sofa(b: _Builder) -> str:
    r = b.rng
    style = b.pick(SOFA_STYLES, (3, 1.5, 2, 1, 1, 1))
    look = b.material(("fabric", "leather", "fabric"))
    legs_look = b.material(("wood", "metal"))
    if style == "futon":
        _futon(b, look, legs_look)
        return style
    seats = {"loveseat": 2, "sectional": int(r.choice([2, 3, 3])), "armless": int(r.integers(2, 4))}.get(
        style, int(r.choice([2, 3, 3])))
    seat_w = r.uniform(0.52, 0.62) if style == "loveseat" else r.uniform(0.55, 0.7)
    arm_kind = {"armless": "none", "chesterfield": "rolled"}.get(style) or b.pick(("square", "rolled"), (3, 1))
    arm_w = r.uniform(0.08, 0.3) if arm_kind != "rolled" else r.uniform(0.12, 0.25)
    width = seats * seat_w + (2 * arm_w if arm_kind != "none" else 0.0)
    depth, seat_y = r.uniform(0.85, 1.0), r.uniform(0.40, 0.46)
    back_top = seat_y + r.uniform(0.3, 0.5)
    arm_top = back_top if style == "chesterfield" else seat_y + r.uniform(0.12, 0.25)
    leg_h = float(r.choice([0.0, r.uniform(0.04, 0.18)])) if style != "chesterfield" else r.uniform(0.04, 0.1)
    back_t = r.uniform(0.15, 0.25)
    cushion_t = r.uniform(0.1, 0.18)
    inner = _upholstered(b, width, depth, seat_y, back_top, seats, arm_w, arm_top, arm_kind, leg_h, look,
                         legs_look, style != "chesterfield" and r.random() < 0.75, cushion_t, back_t)
    if style == "sectional":  # a chaise toward the viewer on one side
        s = int(r.choice([-1, 1]))
        ext = r.uniform(0.55, 0.85)
        cw = inner / seats
        x = s * (inner / 2 - cw / 2)
        base_y0 = leg_h if leg_h > 0 else 0.0
        z = depth / 2 + ext / 2
        b.box((x, (base_y0 + seat_y - cushion_t) / 2, z - 0.01), (cw, seat_y - cushion_t - base_y0, ext + 0.02), look)
        b.box((x, seat_y - cushion_t / 2, z), (cw - 0.015, cushion_t, ext - 0.01), look)
        if arm_kind != "none":
            ax = s * (width / 2 - arm_w / 2)
            top = min(arm_top, seat_y + 0.15)
            b.box((ax, (base_y0 + top) / 2, z - 0.01), (arm_w, top - base_y0, ext + 0.02), look)
        if leg_h > 0:
            for lx in (x - s * cw / 2 + s * 0.05, ax if arm_kind != "none" else x + s * cw / 2 - s * 0.05):
                b.cylinder((lx, (leg_h + 0.01) / 2, depth / 2 + ext - 0.05), 0.04, leg_h + 0.01, legs_look)
    for k in range(int(r.integers(0, 3))):  # throw pillows against the back
        x = r.uniform(-inner / 2 + 0.25, inner / 2 - 0.25)
        b.box((x, seat_y + 0.18, -depth / 2 + back_t + 0.12), (0.4, 0.38, 0.12), b.material(("fabric",)),
              _rotation_x(-0.25))
    return style


def _futon(b: _Builder, look, frame) -> None:
    """A low frame with flat side panels, a mattress folded into seat and reclined back."""
    r = b.rng
    width, depth = r.uniform(1.3, 2.0), r.uniform(0.75, 0.9)
    deck_y, mat_t = r.uniform(0.16, 0.28), r.uniform(0.12, 0.18)
    tilt, back_l = r.uniform(0.3, 0.5), r.uniform(0.55, 0.7)
    lean = back_l * np.sin(tilt) + mat_t
    z0, z1 = -depth / 2 - lean, depth / 2
    side_h = deck_y + mat_t + r.uniform(0.1, 0.3)
    for s in (-1, 1):
        b.box((s * (width / 2 + 0.02), side_h / 2, (z0 + z1) / 2), (0.04, side_h, z1 - z0), frame)
    b.box((0, deck_y - 0.02, 0), (width + 0.02, 0.04, depth), frame)
    b.box((0, deck_y + mat_t / 2, 0), (width - 0.02, mat_t, depth - 0.02), look)
    up = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    normal = np.array([0.0, np.sin(tilt), np.cos(tilt)])
    foot = np.array([0.0, deck_y + mat_t, -depth / 2 + 0.02])
    rot = _rotation_x(-tilt)
    b.box(foot + up * back_l / 2 - normal * (mat_t / 2 + 0.02), (width - 0.02, back_l, mat_t), look, rot)
    b.box(foot + up * back_l / 2 - normal * (mat_t + 0.04), (width + 0.02, back_l, 0.03), frame, rot)
    b.box((0, deck_y / 2, z0 + 0.03), (width + 0.02, deck_y, 0.04), frame)  # rear rail on the floor


# ---------------------------------------------------------------------------------------------
# Beds (single 0.9-1.0 m, double 1.35-1.6 m, king 1.8-2.0 m wide; mattress top 0.45-0.65 m)


BED_STYLES = ("panel", "slatted", "upholstered", "bookcase", "platform", "storage", "canopy", "bunk")


def _bed(b: _Builder) -> str:
    r = b.rng
    style = b.pick(BED_STYLES, (2, 1.5, 2, 1, 1.5, 1, 1, 1))
    if style == "bunk":
        _bunk_bed(b)
        return style
    width = {"single": r.uniform(0.9, 1.0), "double": r.uniform(1.35, 1.6), "king": r.uniform(1.8, 2.0)}[
        b.pick(("single", "double", "king"), (1, 2, 1.5))]
    length = r.uniform(1.95, 2.1)
    frame = b.material(("fabric", "leather") if style == "upholstered" else ("wood", "painted", "wood", "metal"))
    margin = r.uniform(0.02, 0.08) if style != "platform" else r.uniform(0.1, 0.25)
    fw, fl = width + 2 * margin, length + 2 * margin * (0.5 if style != "platform" else 1.0)
    mattress_t = r.uniform(0.16, 0.3)
    frame_top = (r.uniform(0.2, 0.3) if style == "platform" else r.uniform(0.28, 0.42))
    if style in ("storage", "platform") or r.random() < 0.35:  # a box base to the floor
        plinth = 0.03 if style == "platform" else 0.0
        if plinth:
            b.box((0, plinth / 2, 0), (fw - 0.2, plinth, fl - 0.2), _shaded(frame, 0.6))
        b.box((0, (plinth + frame_top) / 2, 0), (fw, frame_top - plinth, fl), frame)
        if style == "storage":
            _bed_drawers(b, fw, fl, frame_top, frame)
    else:  # side rails on legs
        rail = r.uniform(0.12, 0.22)
        leg_t = r.uniform(0.04, 0.08)
        _legs(b, fw - 0.02, fl - 0.02, frame_top - rail + 0.01, leg_t / 2, frame, thickness=leg_t,
              round_=r.random() < 0.4, count_z=int(r.choice([2, 3])), taper=r.random() < 0.3)
        b.box((0, frame_top - rail / 2, 0), (fw, rail, fl), frame)
    sheet = ("fabric", MATTRESS_COLORS[int(r.integers(len(MATTRESS_COLORS)))])
    top = frame_top + mattress_t
    mattress_z = 0.02 if style != "platform" else 0.0
    b.box((0, frame_top + mattress_t / 2, mattress_z), (width, mattress_t, length), sheet)
    z_head = -fl / 2
    if style == "canopy":
        _canopy(b, fw, fl, top, frame)
    else:
        _headboard(b, style, fw, z_head, top, frame)
    if style in ("panel", "slatted", "canopy") and r.random() < 0.55:  # footboard
        foot_h = top + r.uniform(-0.15, 0.25)
        b.box((0, foot_h / 2, fl / 2 + 0.02), (fw + 0.02, foot_h, 0.04), frame)
    _bedding(b, width, length, top, mattress_z)
    return style


def _headboard(b: _Builder, style, fw, z_head, top, frame) -> None:
    r = b.rng
    if style == "upholstered":
        h, t = top + r.uniform(0.45, 0.8), r.uniform(0.08, 0.15)
        b.box((0, h / 2, z_head - t / 2), (fw + r.uniform(0.0, 0.15), h, t), frame)
        if r.random() < 0.4:  # a deeper padded band across the top (a channel-tufted look)
            b.box((0, h - 0.08, z_head - t / 2 + 0.02), (fw + 0.02, 0.16, t + 0.04), _shaded(frame, 1.08))
    elif style == "bookcase":
        h, d = top + r.uniform(0.35, 0.6), r.uniform(0.22, 0.32)
        z = z_head - d / 2
        b.box((0, h / 2, z - d / 2 + 0.01), (fw, h, 0.02), frame)  # back
        for s in (-1, 1):
            b.box((s * (fw / 2 - 0.01), h / 2, z), (0.02, h, d), frame)
        b.box((0, h - 0.01, z), (fw, 0.02, d), frame)
        b.box((0, top / 2, z), (fw, top, d), frame)  # closed lower part behind the mattress
        shelf_y = top + (h - top) * r.uniform(0.4, 0.6)
        b.box((0, shelf_y, z), (fw, 0.02, d), frame)
        for x in np.linspace(-fw / 2, fw / 2, int(r.integers(3, 6)))[1:-1]:
            b.box((x, (top + h) / 2, z), (0.02, h - top, d), frame)
    elif style == "slatted":
        h = top + r.uniform(0.3, 0.7)
        post = r.uniform(0.05, 0.08)
        for s in (-1, 1):
            b.box((s * (fw / 2 - post / 2), h / 2, z_head - post / 2), (post, h, post), frame)
        b.box((0, h - 0.04, z_head - post / 2), (fw, 0.08, post * 0.8), frame)
        b.box((0, top - 0.05, z_head - post / 2), (fw, 0.06, post * 0.8), frame)
        count = int(r.integers(4, 12))
        slat = min(r.uniform(0.025, 0.07), (fw - 2 * post) / count * 0.6)
        for x in (np.arange(count) + 0.5) / count * (fw - 2 * post) - (fw - 2 * post) / 2:
            b.box((x, (top + h) / 2 - 0.03, z_head - post / 2), (slat, h - top, 0.025), frame)
    else:  # panel (platform beds get a low one)
        h = top + (r.uniform(0.2, 0.5) if style == "platform" else r.uniform(0.3, 0.8))
        t = r.uniform(0.03, 0.08)
        b.box((0, h / 2, z_head - t / 2), (fw + (0.0 if r.random() < 0.5 else 0.06), h, t), frame)


def _bed_drawers(b: _Builder, fw, fl, frame_top, frame) -> None:
    """Two or three drawers in each long side of a box base."""
    r = b.rng
    count = int(r.choice([2, 3]))
    handle = b.material(("metal",))
    dl = (fl - 0.3) / count
    h = frame_top - 0.08
    for s in (-1, 1):
        for k in range(count):
            z = -fl / 2 + 0.25 + dl * (k + 0.5)
            b.box((s * (fw / 2 + 0.01), 0.04 + h / 2, z), (0.02, h, dl - 0.01), _shaded(frame, 1.08))
            b.box((s * (fw / 2 + 0.025), 0.04 + h * 0.65, z), (0.015, 0.02, 0.12), handle)


def _canopy(b: _Builder, fw, fl, top, frame) -> None:
    """Four posts to a top frame, a panel headboard between the rear posts."""
    r = b.rng
    h, post = r.uniform(1.9, 2.2), r.uniform(0.04, 0.08)
    round_ = r.random() < 0.5
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.strut((sx * fw / 2, 0, sz * fl / 2), (sx * fw / 2, h, sz * fl / 2), post, frame, round_)
    for s in (-1, 1):
        b.box((s * fw / 2, h - 0.03, 0), (post * 0.8, 0.06, fl), frame)
        b.box((0, h - 0.03, s * fl / 2), (fw, 0.06, post * 0.8), frame)
    hh = top + r.uniform(0.3, 0.6)
    b.box((0, hh / 2 + 0.05, -fl / 2), (fw, hh - 0.1, 0.04), frame)


def _bedding(b: _Builder, width, length, top, mattress_z) -> None:
    """Pillows at the head, sometimes a duvet over the foot two thirds."""
    r = b.rng
    pillow = b.material(("fabric",))
    rows = int(r.choice([0, 1, 1, 2]))
    n = max(1, round(width / 0.75))
    pw = (width - 0.1) / n
    head = mattress_z - length / 2
    for k in range(rows):
        for j in range(n):
            look = pillow if k else ("fabric", MATTRESS_COLORS[0])
            b.box((-width / 2 + 0.05 + pw * (j + 0.5), top + 0.06 + 0.04 * k, head + 0.22 + 0.06 * k),
                  (pw - 0.05, 0.12, 0.36), look, _rotation_x(-0.35 * k))
    if r.random() < 0.6:
        cover = r.uniform(0.55, 0.8) * length
        duvet = b.material(("fabric",))
        drop = r.uniform(0.05, 0.25)
        t = r.uniform(0.03, 0.07)
        z = mattress_z + length / 2 - cover / 2 + 0.01
        b.box((0, top + t / 2, z), (width + 0.04, t, cover + 0.02), duvet)
        for s in (-1, 1):  # hanging over the sides
            b.box((s * (width / 2 + 0.02), top + t - drop / 2, z), (0.03, drop, cover + 0.02), duvet)


def _bunk_bed(b: _Builder) -> None:
    r = b.rng
    width, length = r.uniform(0.9, 1.0), r.uniform(1.95, 2.05)
    frame = b.material(("wood", "painted", "metal"))
    post = r.uniform(0.05, 0.08)
    h = r.uniform(1.55, 1.8)
    fw, fl = width + post, length + post
    round_ = frame[0] == "metal"
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.strut((sx * fw / 2, 0, sz * fl / 2), (sx * fw / 2, h, sz * fl / 2), post, frame, round_)
    sheet = ("fabric", MATTRESS_COLORS[int(r.integers(len(MATTRESS_COLORS)))])
    mattress_t = r.uniform(0.12, 0.18)
    for deck in (r.uniform(0.2, 0.3), r.uniform(1.05, 1.2)):
        for s in (-1, 1):
            b.box((s * fw / 2, deck - 0.06, 0), (post * 0.7, 0.12, fl), frame)
            b.box((0, deck - 0.06, s * fl / 2), (fw, 0.12, post * 0.7), frame)
        b.box((0, deck - 0.01, 0), (fw, 0.02, fl), frame)
        b.box((0, deck + mattress_t / 2, 0), (width, mattress_t, length), sheet)
        for k in range(int(r.integers(0, 2))):
            b.box((0, deck + mattress_t + 0.06, -length / 2 + 0.22), (width - 0.15, 0.12, 0.36),
                  b.material(("fabric",)))
    rail_y = h - r.uniform(0.05, 0.12)
    for s in (-1, 1):  # head and foot ends, guard rails on the far side and beside the ladder
        b.box((0, rail_y, s * fl / 2), (fw, 0.08, post * 0.7), frame)
    b.box((-fw / 2, rail_y, 0), (post * 0.7, 0.08, fl), frame)
    ladder_z = fl / 2 - r.uniform(0.25, 0.45)
    rail_end = ladder_z - 0.2
    b.box((fw / 2, rail_y, (rail_end - fl / 2) / 2), (post * 0.7, 0.08, rail_end + fl / 2), frame)
    for dz in (-0.2, 0.2):  # ladder on the +X side
        b.box((fw / 2 + 0.03, h / 2 - 0.05, ladder_z + dz), (0.04, h - 0.1, 0.05), frame)
    for y in np.linspace(0.3, h - 0.35, int(r.integers(4, 6))):
        b.cylinder((fw / 2 + 0.03, y, ladder_z), 0.03, 0.4, frame, ALONG_Z)


# ---------------------------------------------------------------------------------------------
# Bookcases (0.25-0.4 m deep; shelves 0.25-0.4 m apart) and wardrobes (1.8-2.3 m high)


BOOKCASE_STYLES = ("closed", "open", "ladder", "cube", "lower_doors", "media", "rack")
WARDROBE_STYLES = ("hinged", "drawers", "sliding", "open_rail", "mirror")
MAX_BOOKS = 24


def _bookcase(b: _Builder) -> str:
    r = b.rng
    style = b.pick(BOOKCASE_STYLES, (2, 1.5, 1, 1.5, 1.5, 1.5, 1))
    look = b.material(("wood", "painted", "wood"))
    if style == "ladder":
        _ladder_shelf(b, look)
        return style
    if style == "cube":
        _cube_shelf(b, look)
        return style
    if style == "media":
        width, height, depth = r.uniform(1.2, 2.0), r.uniform(0.4, 0.6), r.uniform(0.36, 0.46)
    else:
        width, height, depth = r.uniform(0.5, 1.4), r.uniform(0.9, 2.1), r.uniform(0.25, 0.4)
    t = r.uniform(0.016, 0.035)
    handle = b.material(("metal",))
    if style == "rack":  # metal posts and shelves, no panels
        posts = b.material(("metal",))
        _legs(b, width, depth, height, 0.0125, posts, thickness=0.025, round_=r.random() < 0.5)
        levels = np.linspace(0.1, height - 0.01, int(r.integers(3, 7)))
        for y in levels:
            b.box((0, y, 0), (width, 0.02, depth), look if r.random() < 0.5 else posts)
        _fill_books(b, levels + 0.01, -width / 2 + 0.03, width / 2 - 0.03, -depth / 2, depth)
        return style
    base = b.pick(("plinth", "legs", "none"), (3, 1 if style != "media" else 3, 1))
    base_h = {"plinth": r.uniform(0.04, 0.1), "legs": r.uniform(0.1, 0.2), "none": 0.0}[base]
    if base == "legs":
        _legs(b, width - 0.04, depth - 0.04, base_h + 0.005, 0.03, b.material(("wood", "metal")),
              thickness=r.uniform(0.025, 0.04), round_=r.random() < 0.5, splay=float(r.choice([0.0, 0.02])))
    back = style != "open" or r.random() < 0.2
    y0 = base_h
    for s in (-1, 1):
        b.box((s * (width / 2 - t / 2), (y0 + height) / 2, 0), (t, height - y0, depth), look)
    b.box((0, height - t / 2, 0), (width, t, depth), look)
    b.box((0, y0 + t / 2, 0), (width, t, depth), look)
    if base == "plinth":
        b.box((0, base_h / 2, 0), (width - 2 * t, base_h, depth - 0.04), _shaded(look, 0.85))
    if back:
        b.box((0, (y0 + height) / 2, -depth / 2 + 0.005), (width, height - y0, 0.01), look)
    if style == "closed" and r.random() < 0.4:  # crown moulding
        b.box((0, height + 0.02, 0.01), (width + 0.05, 0.04, depth + 0.03), look)
    inner = width - 2 * t
    if style == "media":
        _media_fronts(b, inner, y0 + t, height - t, depth, look, handle)
        return style
    door_top = y0
    if style == "lower_doors":  # a closed cupboard at the bottom
        door_top = y0 + r.uniform(0.6, 0.9) * (0.9 if height > 1.4 else 0.5)
        _doors(b, -inner / 2, inner / 2, y0 + t, door_top, depth / 2, 2 if inner > 0.55 else 1,
               _shaded(look, r.uniform(0.9, 1.1)), handle, r.random() < 0.5)
        b.box((0, door_top + t / 2, 0), (inner, t, depth), look)
    count = max(1, round((height - t - door_top) / r.uniform(0.26, 0.4)))
    levels = np.linspace(door_top + t / 2, height - t / 2, count + 1)
    for y in levels[1:-1]:
        b.box((0, y, 0), (inner, t * 0.9, depth - 0.01), look)
    if style != "lower_doors" and inner > 0.9 and r.random() < 0.5:  # a vertical divider
        b.box((0, (levels[0] + levels[-1]) / 2, 0), (t, levels[-1] - levels[0], depth - 0.01), look)
    _fill_books(b, levels + 0.45 * t, -inner / 2 + 0.01, inner / 2 - 0.01, -depth / 2 + 0.01, depth - 0.01)
    return style


def _fill_books(b: _Builder, levels, x0, x1, z_back, depth) -> None:
    """Books on some shelves; `levels` are the shelves' upper faces (the last one is the roof)."""
    r = b.rng
    if r.random() < 0.3:
        return
    budget = int(r.integers(6, MAX_BOOKS + 1))
    for lo, hi in zip(levels[:-1], levels[1:]):
        if budget <= 0:
            break
        if r.random() < 0.55:
            budget -= _books(b, x0, x1, lo, hi - lo - 0.03, z_back, depth, min(budget, 12))


def _media_fronts(b: _Builder, inner, y0, y1, depth, look, handle) -> None:
    """Low wide unit: two to four bays, each open, with doors or with drawers."""
    r = b.rng
    bays = int(r.integers(2, 5))
    w = inner / bays
    front = _shaded(look, r.uniform(0.88, 1.12))
    for k in range(bays):
        x0 = -inner / 2 + w * k
        if k:
            b.box((x0, (y0 + y1) / 2, 0), (0.018, y1 - y0, depth - 0.01), look)
        kind = b.pick(("open", "door", "drawers"))
        if kind == "door":
            _doors(b, x0, x0 + w, y0, y1, depth / 2, 1, front, handle, False)
        elif kind == "drawers":
            _drawer_stack(b, x0, x0 + w, y0, y1, depth / 2, int(r.integers(1, 3)), front, handle, True)
        else:
            b.box((x0 + w / 2, (y0 + y1) / 2, 0), (w, 0.018, depth - 0.01), look)


def _ladder_shelf(b: _Builder, look) -> None:
    """Two rails leaning against a wall, shelves getting shallower toward the top."""
    r = b.rng
    width, height = r.uniform(0.45, 0.9), r.uniform(1.5, 2.0)
    foot_depth = r.uniform(0.35, 0.45)
    rail = r.uniform(0.03, 0.05)
    z_wall = -foot_depth / 2
    foot = np.array([0.0, 0.0, z_wall + foot_depth])
    top = np.array([0.0, height, z_wall + 0.03])  # resting on the wall
    for s in (-1, 1):
        b.strut(foot + (s * (width / 2 - rail / 2), 0, 0), top + (s * (width / 2 - rail / 2), 0, 0), rail, look, False)
    count = int(r.integers(3, 6))
    for k, f in enumerate(np.linspace(0.08, 0.85, count)):
        front = foot + (top - foot) * f
        d = (front[2] - z_wall) + 0.02
        b.box((0, front[1], front[2] - d / 2 + 0.02), (width, 0.02, d), look)
        if k < count - 1 and r.random() < 0.4:
            _books(b, -width / 2 + rail + 0.01, width / 2 - rail - 0.01, front[1] + 0.01,
                   0.3, front[2] - d + 0.04, d - 0.04, 6)


def _cube_shelf(b: _Builder, look) -> None:
    """A grid of square cells (cube storage), some cells with bins or doors."""
    r = b.rng
    cols, rows = int(r.integers(1, 6)), int(r.integers(1, 6))
    if cols * rows < 3:
        rows += 2
    cell, t, depth = r.uniform(0.3, 0.38), r.uniform(0.015, 0.04), r.uniform(0.3, 0.4)
    width, height = cols * cell + t, rows * cell + t
    lift = float(r.choice([0.0, 0.0, r.uniform(0.08, 0.15)]))
    if lift:
        _legs(b, width - 0.02, depth - 0.02, lift + 0.005, 0.02, b.material(("metal", "wood")), thickness=0.03)
    for i in range(cols + 1):
        b.box((-width / 2 + t / 2 + i * cell, lift + height / 2, 0), (t, height, depth), look)
    for j in range(rows + 1):
        b.box((0, lift + t / 2 + j * cell, 0), (width, t, depth), look)
    if r.random() < 0.5:
        b.box((0, lift + height / 2, -depth / 2 + 0.005), (width, height, 0.01), look)
    bin_look = b.material(("fabric", "painted"))
    for i in range(cols):
        for j in range(rows):
            if r.random() < 0.2:
                x, y = -width / 2 + t + (i + 0.5) * cell - t / 2, lift + t + j * cell
                b.box((x, y + (cell - t) * 0.42, depth / 2 - 0.15), (cell - t - 0.02, (cell - t) * 0.84, 0.28),
                      bin_look)


def _wardrobe(b: _Builder) -> str:
    r = b.rng
    style = b.pick(WARDROBE_STYLES, (3, 2, 2, 1.5, 1))
    width, height, depth = r.uniform(0.8, 2.4), r.uniform(1.8, 2.3), r.uniform(0.52, 0.65)
    if style == "sliding":
        width = max(width, 1.2)
    look = b.material(("wood", "painted", "wood"))
    door_look = _shaded(look, r.uniform(0.85, 1.1)) if r.random() < 0.7 else b.material(("painted", "wood"))
    handle = b.material(("metal",))
    base = b.pick(("plinth", "legs", "none"))
    base_h = {"plinth": r.uniform(0.05, 0.12), "legs": r.uniform(0.08, 0.2), "none": 0.0}[base]
    if base == "plinth":
        b.box((0, base_h / 2, -0.02), (width - 0.04, base_h, depth - 0.04), _shaded(look, 0.8))
    elif base == "legs":
        _legs(b, width, depth, base_h + 0.005, 0.04, look, thickness=0.04, round_=r.random() < 0.5,
              splay=float(r.choice([0.0, 0.02])))
    if r.random() < 0.4:  # crown moulding
        b.box((0, height + 0.025, 0.01), (width + 0.05, 0.05, depth + 0.03), look)
        if r.random() < 0.5:
            b.box((0, height + 0.06, 0.015), (width + 0.08, 0.02, depth + 0.05), look)
    z = depth / 2
    open_w = min(width * 0.45, r.uniform(0.5, 0.8)) if style == "open_rail" else 0.0
    side = int(r.choice([-1, 1]))
    closed_x0, closed_x1 = (-width / 2, width / 2 - open_w) if side > 0 else (-width / 2 + open_w, width / 2)
    b.box(((closed_x0 + closed_x1) / 2, (base_h + height) / 2, 0), (closed_x1 - closed_x0, height - base_h, depth),
          look)
    if open_w:
        _open_bay(b, side, width, open_w, base_h, height, depth, look, handle)
    drawers = int(r.choice([2, 3])) if style == "drawers" else 0
    drawer_top = base_h + 0.2 * drawers
    x0, x1 = closed_x0 + 0.01, closed_x1 - 0.01
    if drawers:
        _drawer_stack(b, x0, x1, base_h + 0.01, drawer_top, z, drawers, door_look, handle, r.random() < 0.5)
    if style == "sliding":  # two overlapping panels on two tracks
        half = (x1 - x0) / 2
        mirror = r.random() < 0.4
        for k, (cx, dz) in enumerate(((x0 + half * 0.5 + 0.02, 0.01), (x1 - half * 0.5 - 0.02, 0.035))):
            panel = MIRROR if mirror and k == 1 else door_look
            b.box((cx, (drawer_top + height) / 2, z + dz), (half + 0.04, height - drawer_top - 0.03, 0.02), panel)
            b.box((cx + (half / 2 - 0.02) * (1 if k == 0 else -1), (drawer_top + height) / 2, z + dz + 0.012),
                  (0.015, 0.5, 0.01), handle)
        b.box((0, height - 0.02, z + 0.025), (width, 0.04, 0.05), look)  # top track
    else:
        doors = int(np.clip(round((x1 - x0) / r.uniform(0.4, 0.6)), 1, 4))
        _doors(b, x0, x1, drawer_top + 0.005, height - 0.015, z, doors, door_look, handle, r.random() < 0.6,
               mirror=style == "mirror")
    return style


def _open_bay(b: _Builder, side, width, open_w, base_h, height, depth, look, handle) -> None:
    """A doorless section: outer side, top, bottom, back, a hat shelf and a hanging rail."""
    t = 0.02
    xc = side * (width / 2 - open_w / 2)
    b.box((side * (width / 2 - t / 2), (base_h + height) / 2, 0), (t, height - base_h, depth), look)
    b.box((xc, height - t / 2, 0), (open_w, t, depth), look)
    b.box((xc, base_h + t / 2, 0), (open_w, t, depth), look)
    b.box((xc, (base_h + height) / 2, -depth / 2 + 0.005), (open_w, height - base_h, 0.01), look)
    shelf_y = height - b.rng.uniform(0.25, 0.35)
    b.box((xc, shelf_y, 0), (open_w, t, depth), look)
    b.cylinder((xc, shelf_y - 0.06, 0), 0.025, open_w, handle, ALONG_X)
    if b.rng.random() < 0.5:  # a shelf or two low down for shoes
        b.box((xc, base_h + 0.3, 0), (open_w, t, depth), look)


GENERATORS = {"bed": _bed, "bookcase": _bookcase, "chair": _chair, "desk": _desk,
              "sofa": _sofa, "table": _table, "wardrobe": _wardrobe}
STYLES = {"bed": BED_STYLES, "bookcase": BOOKCASE_STYLES, "chair": CHAIR_STYLES, "desk": DESK_STYLES,
          "sofa": SOFA_STYLES, "table": TABLE_STYLES, "wardrobe": WARDROBE_STYLES}


def generate(category: str, rng: np.random.Generator) -> Furniture:
    """Draw one piece of furniture of `category` (one of CATEGORIES); its `style` is one of
    STYLES[category]. All randomness comes from `rng`. Raises ValueError for other categories."""
    if category not in GENERATORS:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    builder = _Builder(rng)
    style = GENERATORS[category](builder)
    return Furniture(category, tuple(builder.parts), style)


# ---------------------------------------------------------------------------------------------
# Geometry


def _part_arrays(part: Part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.array(part.center), np.array(part.size), np.array(part.rotation)


def furniture_bounds(f: Furniture) -> tuple[np.ndarray, np.ndarray]:
    """Exact axis-aligned bounds (lo, hi), each (3,) metres, of the solid parts."""
    lows, highs = [], []
    for part in f.parts:
        center, size, rotation = _part_arrays(part)
        half = size / 2
        if part.shape == "box":
            extent = np.abs(rotation) @ half
        else:  # an ellipse with semi-axes h_x u, h_z w spans sqrt((h_x u_e)^2 + (h_z w_e)^2) along e
            extent = (np.abs(rotation[:, 1]) * half[1]
                      + np.hypot(rotation[:, 0] * half[0], rotation[:, 2] * half[2]))
        lows.append(center - extent)
        highs.append(center + extent)
    return np.min(lows, axis=0), np.max(highs, axis=0)


def canonical_transform(f: Furniture) -> tuple[np.ndarray, float]:
    """(centre (3,), scale) with canonical = (metres - centre) * scale (longest side -> 1)."""
    lo, hi = furniture_bounds(f)
    return (lo + hi) / 2, 1.0 / float(np.max(hi - lo))


_UNIT_BOX = trimesh.creation.box((1.0, 1.0, 1.0))
# trimesh builds cylinders along Z; turn them so their axis is local Y like Part's convention.
_UNIT_CYLINDER = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=CYLINDER_SECTIONS)
_UNIT_CYLINDER.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))


def furniture_mesh(f: Furniture) -> trimesh.Trimesh:
    """Mesh of all parts in canonical cube coordinates, RGBA vertex colours from the parts.

    Parts stay separate closed shells (they may overlap), with outward normals.
    """
    centre, scale = canonical_transform(f)
    vertices, faces, colors, offset = [], [], [], 0
    for part in f.parts:
        center, size, rotation = _part_arrays(part)
        unit = _UNIT_BOX if part.shape == "box" else _UNIT_CYLINDER
        v = ((unit.vertices * size) @ rotation.T + center - centre) * scale
        vertices.append(v)
        faces.append(unit.faces + offset)
        colors.append(np.tile([*part.color, 255], (len(v), 1)))
        offset += len(v)
    return trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces),
                           vertex_colors=np.concatenate(colors).astype(np.uint8), process=False)


def part_materials(f: Furniture) -> np.ndarray:
    """Per-face material index into MATERIALS, aligned with furniture_mesh(f).faces."""
    counts = [len((_UNIT_BOX if p.shape == "box" else _UNIT_CYLINDER).faces) for p in f.parts]
    return np.repeat([MATERIALS.index(p.material) for p in f.parts], counts)


def furniture_voxels(f: Furniture, resolution: int = 32) -> np.ndarray:
    """Exact solid occupancy, bool (D, D, D), canonical frame, D = `resolution` (divides 128).

    A voxel of the 128^3 grid is occupied when its centre lies inside a part (analytic test);
    coarser grids are any-pooled from it. Raises ValueError for other resolutions.
    """
    if FINE_RESOLUTION % resolution:
        raise ValueError(f"resolution must divide {FINE_RESOLUTION}, got {resolution}")
    n = FINE_RESOLUTION
    centre, scale = canonical_transform(f)
    axis = (np.arange(n) + 0.5) / n - 0.5  # voxel centres, canonical units
    grid = np.zeros((n, n, n), bool)
    for part in f.parts:
        center, size, rotation = _part_arrays(part)
        center = (center - centre) * scale
        size = size * scale
        lo, hi = _part_index_range(part, center, size, rotation, n)
        sub = np.stack(np.meshgrid(axis[lo[0]:hi[0]], axis[lo[1]:hi[1]], axis[lo[2]:hi[2]],
                                   indexing="ij"), axis=-1)  # (a, b, c, 3)
        local = (sub - center) @ rotation  # into part-local coordinates
        half = size / 2
        if part.shape == "box":
            inside = np.all(np.abs(local) <= half, axis=-1)
        else:
            inside = (((local[..., 0] / half[0]) ** 2 + (local[..., 2] / half[2]) ** 2 <= 1.0)
                      & (np.abs(local[..., 1]) <= half[1]))
        grid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= inside
    factor = n // resolution
    return grid.reshape(resolution, factor, resolution, factor, resolution, factor).any(axis=(1, 3, 5))


def _part_index_range(part, center, size, rotation, n):
    """Index box [lo, hi) of fine voxels whose centres may lie inside the part."""
    single = Furniture("", (Part(part.shape, tuple(center), tuple(size),
                                 tuple(map(tuple, rotation)), (0, 0, 0), "wood"),))
    lo, hi = furniture_bounds(single)
    lo = np.clip(np.floor((lo + 0.5) * n - 0.5).astype(int), 0, n)
    hi = np.clip(np.ceil((hi + 0.5) * n - 0.5).astype(int) + 1, 0, n)
    return lo, hi
