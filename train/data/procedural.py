"""Parametric furniture for training data: parts (boxes, cylinders) -> coloured mesh + exact voxels.

Each category has a generator that draws proportions, part presence and part counts, so the
models see families of shapes rather than a few templates. Furniture is built in metres in the
object frame of `recon.voxels` (DESIGN.md): Y up, front toward +Z, +X to the right of a viewer who
faces the front; the floor is y = 0.

    generate(category, rng) -> Furniture        (frozen; its parts are frozen Part records)
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
    size: (3,) full extents along the part's local axes; a cylinder is (diameter, height, diameter).
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
    """A piece of furniture: its Pix3D category and its parts (metres, object frame)."""

    category: str
    parts: tuple[Part, ...]


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

    def material(self, choices: tuple[str, ...]) -> tuple[str, tuple[int, int, int]]:
        material = str(self.rng.choice(choices))
        palette = PALETTES[material]
        base = np.array(palette[self.rng.integers(len(palette))], float)
        color = np.clip(base + self.rng.normal(0, 12, 3), 0, 255).astype(int)
        return material, (int(color[0]), int(color[1]), int(color[2]))

    def box(self, center, size, look, rotation=IDENTITY) -> None:
        self._add("box", center, size, look, rotation)

    def cylinder(self, center, diameter, height, look, rotation=IDENTITY) -> None:
        self._add("cylinder", center, (diameter, height, diameter), look, rotation)

    def strut(self, bottom, top, thickness, look, round_: bool) -> None:
        """A bar (box or cylinder) from point `bottom` to point `top` (metres)."""
        bottom, top = np.asarray(bottom, float), np.asarray(top, float)
        axis = top - bottom
        length = float(np.linalg.norm(axis))
        rotation = _rotation_y_to(axis / length)
        size = (thickness, length, thickness)
        self._add("cylinder" if round_ else "box", (bottom + top) / 2, size, look, rotation)

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


def _rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


# ---------------------------------------------------------------------------------------------
# Shared components


def _legs(b: _Builder, width, depth, top_y, inset, look, bottom_y=0.0, splay=0.0,
          thickness=0.04, round_=False, count_z=2, taper=False) -> None:
    """Legs under a rectangle width x depth centred on x=z=0, tops at `top_y`.

    splay: outward lean of the foot (metres) so legs are not all vertical; count_z > 2 adds
    middle legs along the depth (long beds and sofas).
    """
    xs = (-width / 2 + inset, width / 2 - inset)
    zs = np.linspace(-depth / 2 + inset, depth / 2 - inset, count_z)
    for x in xs:
        for z in zs:
            top = np.array([x, top_y, z])
            out = np.array([np.sign(x), 0.0, np.sign(z) if abs(z) > 1e-6 else 0.0])
            foot = np.array([x, bottom_y, z]) + out * splay
            b.strut(foot, top, thickness * (0.75 if taper else 1.0), look, round_)


def _handle(b: _Builder, x, y, z_front, look, vertical: bool, long_: bool) -> None:
    if not long_:
        b.cylinder((x, y, z_front + 0.012), 0.025, 0.024, look, _rotation_x(np.pi / 2))
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


# ---------------------------------------------------------------------------------------------
# Categories


def _chair(b: _Builder) -> None:
    r = b.rng
    width, depth = r.uniform(0.38, 0.58), r.uniform(0.38, 0.56)
    seat_y, seat_t = r.uniform(0.40, 0.50), r.uniform(0.025, 0.08)
    frame = b.material(("wood", "metal", "painted"))
    seat_look = frame if r.random() < 0.5 else b.material(("fabric", "leather", "wood"))
    b.box((0, seat_y - seat_t / 2, 0), (width, seat_t, depth), seat_look)
    if r.random() < 0.25:
        b.box((0, seat_y + 0.03, 0.02), (width * 0.92, 0.06, depth * 0.85), b.material(("fabric",)))
    base = r.choice(["legs", "legs", "legs", "pedestal", "sled"])
    leg_t = r.uniform(0.022, 0.05)
    if base == "legs":
        _legs(b, width, depth, seat_y - seat_t, r.uniform(0.0, 0.04), frame,
              splay=r.choice([0.0, r.uniform(0.01, 0.06)]), thickness=leg_t,
              round_=r.random() < 0.45, taper=r.random() < 0.3)
        if r.random() < 0.4:  # stretchers between the legs
            y = r.uniform(0.08, 0.2)
            for x in (-width / 2 + 0.03, width / 2 - 0.03):
                b.box((x, y, 0), (leg_t * 0.6, leg_t * 0.6, depth - 0.06), frame)
            b.box((0, y, 0), (width - 0.06, leg_t * 0.6, leg_t * 0.6), frame)
    elif base == "pedestal":
        b.cylinder((0, (seat_y - seat_t) / 2 + 0.03, 0), r.uniform(0.04, 0.07),
                   seat_y - seat_t - 0.06, b.material(("metal",)))
        arms = int(r.integers(4, 6))
        for k in range(arms):
            a = 2 * np.pi * k / arms
            foot = (np.sin(a) * 0.3, 0.02, np.cos(a) * 0.3)
            b.strut((0, 0.06, 0), foot, 0.04, frame, round_=False)
    else:
        for x in (-width / 2 + 0.02, width / 2 - 0.02):
            b.box((x, 0.01, 0), (0.025, 0.02, depth), frame)
            for z in (-depth / 2 + 0.03, depth / 2 - 0.03):
                b.strut((x, 0.0, z), (x, seat_y - seat_t, z * 0.9), 0.025, frame, True)
    back_h = r.uniform(0.25, 0.6)
    tilt = r.uniform(0.0, 0.25)
    z_back = -depth / 2 + 0.02
    post_t = r.uniform(0.02, 0.045)
    back_look = frame if r.random() < 0.6 else seat_look
    rot = _rotation_x(-tilt)
    kind = r.choice(["panel", "slats", "rails", "frame"])

    def at(height):  # point on the tilted back plane at this height above the seat
        return np.array([0.0, seat_y + height * np.cos(tilt), z_back - height * np.sin(tilt)])

    for x in (-width / 2 + post_t / 2, width / 2 - post_t / 2):
        b.box(at(back_h / 2) + (x, 0, 0), (post_t, back_h, post_t), frame, rot)
    inner = width - 2 * post_t
    if kind == "panel":
        b.box(at(back_h * r.uniform(0.5, 0.65)), (inner, back_h * r.uniform(0.4, 0.75), 0.025),
              back_look, rot)
    elif kind == "slats":
        count = int(r.integers(2, 8))
        b.box(at(back_h - 0.03), (inner, 0.06, 0.025), back_look, rot)
        slat_w = min(inner / count * 0.6, r.uniform(0.015, 0.06))
        for x in np.linspace(-inner / 2 + inner / (2 * count), inner / 2 - inner / (2 * count), count):
            b.box(at(back_h * 0.45) + (x, 0, 0), (slat_w, back_h * 0.85, 0.02), back_look, rot)
    elif kind == "rails":
        for h in np.linspace(back_h * 0.35, back_h - 0.03, int(r.integers(2, 5))):
            b.box(at(h), (inner, r.uniform(0.03, 0.07), 0.022), back_look, rot)
    else:
        b.box(at(back_h - 0.03), (inner, 0.06, 0.025), back_look, rot)
        b.box(at(back_h * 0.2), (inner, 0.03, 0.022), back_look, rot)
    if r.random() < 0.3:  # arms
        arm_y = seat_y + r.uniform(0.18, 0.26)
        for x in (-width / 2 - 0.02, width / 2 + 0.02):
            b.box((x, arm_y, -0.02), (0.05, 0.03, depth * 0.85), frame)
            b.box((x, (arm_y + seat_y) / 2 - 0.01, depth / 2 - 0.08), (0.03, arm_y - seat_y, 0.03), frame)


def _table(b: _Builder, desk: bool = False) -> None:
    r = b.rng
    top_look = b.material(("wood", "painted", "wood"))
    leg_look = top_look if r.random() < 0.6 else b.material(("metal", "wood", "painted"))
    height, top_t = r.uniform(0.68, 0.78), r.uniform(0.02, 0.06)
    round_top = (not desk) and r.random() < 0.3
    if desk:
        width, depth = r.uniform(0.9, 1.8), r.uniform(0.5, 0.8)
    elif round_top:
        width = depth = r.uniform(0.6, 1.3)
    else:
        width, depth = r.uniform(0.7, 2.2), r.uniform(0.6, 1.1)
        if r.random() < 0.25:  # coffee or side table
            height = r.uniform(0.35, 0.55)
    under = height - top_t
    if round_top:
        b.cylinder((0, height - top_t / 2, 0), width, top_t, top_look)
    else:
        b.box((0, height - top_t / 2, 0), (width, top_t, depth), top_look)
    leg_t = r.uniform(0.03, 0.08)
    support = r.choice(["legs", "legs", "pedestal", "trestle"]) if not desk else \
        r.choice(["legs", "drawers", "drawers2", "panels"])
    if support == "pedestal" and round_top:
        b.cylinder((0, under / 2, 0), r.uniform(0.06, 0.15), under, leg_look)
        b.cylinder((0, 0.015, 0), width * r.uniform(0.35, 0.6), 0.03, leg_look)
    elif support in ("trestle", "panels", "pedestal"):
        for x in (-width / 2 + 0.05, width / 2 - 0.05):
            if support == "panels":
                b.box((x, under / 2, 0), (0.03, under, depth * 0.95), leg_look)
            else:
                b.box((x, under / 2, 0), (0.05, under, 0.07), leg_look)
                b.box((x, 0.02, 0), (0.06, 0.04, depth * 0.8), leg_look)
        if support != "panels":
            b.box((0, under * 0.3, 0), (width - 0.1, 0.04, 0.04), leg_look)
    elif support == "legs":
        inset = r.uniform(0.02, 0.12)
        if round_top:  # keep the legs' square inside the disc
            inset += width * (1 - 1 / np.sqrt(2)) / 2
        _legs(b, width, depth, under, inset, leg_look, splay=r.choice([0.0, r.uniform(0.01, 0.08)]),
              thickness=leg_t, round_=r.random() < 0.4, taper=r.random() < 0.3)
        if r.random() < 0.5:  # apron
            b.box((0, under - 0.04, depth / 2 - inset), (width - 2 * inset, 0.08, 0.02), top_look)
            b.box((0, under - 0.04, -depth / 2 + inset), (width - 2 * inset, 0.08, 0.02), top_look)
        if r.random() < 0.25:  # lower shelf
            b.box((0, r.uniform(0.1, 0.25), 0), (width - 2 * inset, 0.02, depth - 2 * inset), top_look)
    else:
        ped_w = r.uniform(0.3, 0.45)
        sides = (-1, 1) if support == "drawers2" else (int(r.choice([-1, 1])),)
        handle = b.material(("metal",))
        long_handles = r.random() < 0.5
        for s in sides:
            x = s * (width / 2 - ped_w / 2)
            b.box((x, under / 2, 0), (ped_w, under, depth * 0.95), top_look)
            _drawer_stack(b, x - ped_w / 2 + 0.02, x + ped_w / 2 - 0.02, 0.06, under - 0.02,
                          depth * 0.475, int(r.integers(2, 5)), top_look, handle, long_handles)
        if len(sides) == 1:
            x = -sides[0] * (width / 2 - 0.025)
            b.box((x, under / 2, 0), (0.05, under, depth * 0.95), top_look)
    if desk and r.random() < 0.5:  # modesty panel
        b.box((0, under * 0.6, -depth / 2 + 0.03), (width - 0.1, under * 0.5, 0.02), top_look)
    if desk and r.random() < 0.3:  # hutch
        hutch_h = r.uniform(0.3, 0.7)
        for x in (-width / 2 + 0.01, width / 2 - 0.01):
            b.box((x, height + hutch_h / 2, -depth / 2 + 0.12), (0.02, hutch_h, 0.24), top_look)
        b.box((0, height + hutch_h, -depth / 2 + 0.12), (width, 0.02, 0.24), top_look)
        b.box((0, height + hutch_h / 2, -depth / 2 + 0.12), (width, 0.02, 0.24), top_look)


def _desk(b: _Builder) -> None:
    _table(b, desk=True)


def _bookcase(b: _Builder) -> None:
    r = b.rng
    width, height, depth = r.uniform(0.4, 1.6), r.uniform(0.7, 2.2), r.uniform(0.24, 0.42)
    look = b.material(("wood", "painted", "wood"))
    side_t = r.uniform(0.015, 0.04)
    open_frame = r.random() < 0.2
    base_h = r.choice([0.0, r.uniform(0.04, 0.1)])
    if open_frame:  # metal posts and shelves, no panels
        posts = b.material(("metal",))
        _legs(b, width, depth, height, 0.01, posts, thickness=0.025, round_=r.random() < 0.5)
    else:
        for x in (-width / 2 + side_t / 2, width / 2 - side_t / 2):
            b.box((x, height / 2, 0), (side_t, height, depth), look)
        if r.random() < 0.7:
            b.box((0, height / 2, -depth / 2 + 0.005), (width, height, 0.01), look)
        if base_h:
            b.box((0, base_h / 2, depth / 2 - 0.03), (width - 2 * side_t, base_h, 0.02), look)
    inner = width - 2 * side_t
    count = int(r.integers(2, 8))
    levels = np.linspace(base_h + 0.01, height - 0.01, count + 1)
    for y in levels:
        b.box((0, y, 0), (inner if not open_frame else width, 0.02, depth - 0.01), look)
    if not open_frame and r.random() < 0.35:
        for x in np.linspace(-inner / 2, inner / 2, int(r.integers(3, 5)))[1:-1]:
            b.box((x, (levels[0] + levels[-1]) / 2, 0), (0.02, levels[-1] - levels[0], depth - 0.01), look)
    if not open_frame and r.random() < 0.3:  # doors over the lowest compartments
        door_top = levels[min(2, count)]
        doors = 2 if inner > 0.6 else 1
        handle = b.material(("metal",))
        for k in range(doors):
            x0 = -inner / 2 + k * inner / doors
            b.box((x0 + inner / doors / 2, (base_h + door_top) / 2, depth / 2 + 0.01),
                  (inner / doors - 0.006, door_top - base_h, 0.02), look)
            _handle(b, x0 + inner / doors * (0.85 if k == 0 else 0.15), door_top - 0.1,
                    depth / 2 + 0.02, handle, True, r.random() < 0.5)


def _wardrobe(b: _Builder) -> None:
    r = b.rng
    width, height, depth = r.uniform(0.6, 2.2), r.uniform(1.5, 2.3), r.uniform(0.45, 0.65)
    look = b.material(("wood", "painted", "wood"))
    door_look = _shaded(look, r.uniform(0.85, 1.1)) if r.random() < 0.7 else b.material(("painted", "wood"))
    handle = b.material(("metal",))
    base = r.choice(["plinth", "legs", "none"])
    base_h = {"plinth": r.uniform(0.05, 0.12), "legs": r.uniform(0.08, 0.2), "none": 0.0}[base]
    if base == "plinth":
        b.box((0, base_h / 2, -0.02), (width - 0.04, base_h, depth - 0.04), look)
    elif base == "legs":
        _legs(b, width, depth, base_h, 0.04, look, thickness=0.04, round_=r.random() < 0.5,
              splay=r.choice([0.0, 0.02]))
    b.box((0, base_h + (height - base_h) / 2, 0), (width, height - base_h, depth), look)
    if r.random() < 0.35:  # cornice
        b.box((0, height + 0.02, 0.01), (width + 0.04, 0.04, depth + 0.03), look)
    drawers = int(r.choice([0, 0, 1, 2, 3]))
    drawer_top = base_h + 0.18 * drawers
    if drawers:
        _drawer_stack(b, -width / 2 + 0.02, width / 2 - 0.02, base_h + 0.01, drawer_top,
                      depth / 2, drawers, door_look, handle, r.random() < 0.5)
    doors = int(np.clip(round(width / r.uniform(0.4, 0.6)), 1, 4))
    door_w = (width - 0.02) / doors
    long_handles = r.random() < 0.6
    for k in range(doors):
        x = -width / 2 + 0.01 + door_w * (k + 0.5)
        b.box((x, (drawer_top + height) / 2, depth / 2 + 0.01),
              (door_w - 0.006, height - drawer_top - 0.02, 0.02), door_look)
        side = 1 if k % 2 == 0 else -1
        _handle(b, x + side * door_w * 0.4, (drawer_top + height) / 2, depth / 2 + 0.02,
                handle, True, long_handles)


def _bed(b: _Builder) -> None:
    r = b.rng
    width, length = r.uniform(0.9, 2.0), r.uniform(1.9, 2.2)
    frame = b.material(("wood", "painted", "fabric", "metal"))
    frame_h, frame_t = r.uniform(0.15, 0.4), r.uniform(0.1, 0.25)
    base = r.choice(["box", "legs"])
    if base == "box":
        b.box((0, frame_h / 2 + 0.01, 0), (width, frame_h - 0.02 if frame_h > 0.2 else frame_h, length), frame)
    else:
        leg_h = frame_h - frame_t
        _legs(b, width, length, leg_h, 0.05, frame, thickness=r.uniform(0.04, 0.08),
              round_=r.random() < 0.5, count_z=int(r.choice([2, 3])))
        b.box((0, leg_h + frame_t / 2, 0), (width, frame_t, length), frame)
    mattress_t = r.uniform(0.12, 0.3)
    sheet = b.material(("fabric",))
    b.box((0, frame_h + mattress_t / 2, 0.01), (width - 0.04, mattress_t, length - 0.06), sheet)
    top = frame_h + mattress_t
    head_h = r.uniform(0.3, 0.9)
    head_look = frame if r.random() < 0.7 else b.material(("fabric", "leather", "wood"))
    head_kind = r.choice(["panel", "slats", "posts"])
    z_head = -length / 2 - 0.03
    if head_kind == "panel":
        b.box((0, (top + head_h) / 2 + 0.05, z_head), (width + 0.04, top + head_h - 0.1, r.uniform(0.04, 0.12)), head_look)
        b.box((0, 0.05 + 0.0, z_head), (width + 0.04, 0.1, 0.05), frame)
    else:
        for x in (-width / 2 - 0.01, width / 2 + 0.01):
            b.box((x, (top + head_h) / 2, z_head), (0.06, top + head_h, 0.06), frame)
        b.box((0, top + head_h - 0.04, z_head), (width, 0.08, 0.04), head_look)
        if head_kind == "slats":
            for x in np.linspace(-width / 2 + 0.1, width / 2 - 0.1, int(r.integers(3, 12))):
                b.box((x, top + head_h / 2, z_head), (0.03, head_h - 0.08, 0.025), head_look)
    if r.random() < 0.45:  # footboard
        foot_h = r.uniform(0.0, 0.3)
        b.box((0, (top + foot_h) / 2, length / 2 + 0.02), (width + 0.02, top + foot_h, 0.04), frame)
    for k in range(int(r.choice([0, 1, 2, 2]))):  # pillows
        n = max(1, round(width / 0.9))
        pw = (width - 0.1) / n
        for j in range(n):
            b.box((-width / 2 + 0.05 + pw * (j + 0.5), top + 0.06 + 0.05 * k, -length / 2 + 0.25 + 0.05 * k),
                  (pw - 0.05, 0.12, 0.35), sheet if k else b.material(("fabric",)))
    if r.random() < 0.4:  # blanket over the foot half
        b.box((0, top + 0.015, length / 4), (width, 0.03, length / 2), b.material(("fabric",)))


def _sofa(b: _Builder) -> None:
    r = b.rng
    seats = int(r.integers(1, 5))
    seat_w = r.uniform(0.5, 0.7)
    arm_w = r.uniform(0.05, 0.25)
    arms = int(r.choice([0, 2, 2, 2]))
    width = seats * seat_w + arms * arm_w
    depth, seat_y = r.uniform(0.75, 1.0), r.uniform(0.38, 0.48)
    look = b.material(("fabric", "leather", "fabric"))
    legs_look = b.material(("wood", "metal"))
    leg_h = r.choice([0.0, r.uniform(0.04, 0.18)])
    base_top = seat_y - r.uniform(0.1, 0.18)
    if leg_h:
        _legs(b, width - 0.08, depth - 0.08, leg_h, 0.0, legs_look, thickness=r.uniform(0.03, 0.05),
              round_=r.random() < 0.6, splay=r.choice([0.0, 0.03]))
    b.box((0, (leg_h + base_top) / 2, 0), (width, base_top - leg_h, depth), look)
    back_t, back_h = r.uniform(0.12, 0.25), r.uniform(0.3, 0.55)
    back_top = seat_y + back_h
    b.box((0, (base_top + back_top) / 2, -depth / 2 + back_t / 2), (width, back_top - base_top, back_t), look)
    inner = width - arms * arm_w
    cushion_depth = depth - back_t
    cushion_count = seats if r.random() < 0.7 else 1
    cw = inner / cushion_count
    for k in range(cushion_count):
        x = -inner / 2 + cw * (k + 0.5)
        b.box((x, (base_top + seat_y) / 2, depth / 2 - cushion_depth / 2), (cw - 0.01, seat_y - base_top, cushion_depth), look)
        if r.random() < 0.7:  # back cushion
            b.box((x, seat_y + back_h * 0.45, -depth / 2 + back_t + 0.07), (cw - 0.02, back_h * 0.75, 0.14), look)
    if arms:
        arm_top = seat_y + r.uniform(0.1, 0.25)
        for s in (-1, 1):
            b.box((s * (width / 2 - arm_w / 2), (leg_h + arm_top) / 2 if not leg_h else (base_top + arm_top) / 2,
                   0), (arm_w, arm_top - (base_top if leg_h else 0.0), depth), look)
    if r.random() < 0.2:  # chaise extension on one side, toward the viewer
        s = r.choice([-1, 1])
        ext = r.uniform(0.5, 0.8)
        b.box((s * (inner / 2 - seat_w / 2), (leg_h + seat_y) / 2, depth / 2 + ext / 2), (seat_w, seat_y - leg_h, ext), look)
    for k in range(int(r.integers(0, 3))):  # throw pillows
        x = r.uniform(-inner / 2 + 0.2, inner / 2 - 0.2)
        b.box((x, seat_y + 0.18, -depth / 2 + back_t + 0.17), (0.4, 0.38, 0.12), b.material(("fabric",)),
              _rotation_x(-0.25))


GENERATORS = {"bed": _bed, "bookcase": _bookcase, "chair": _chair, "desk": _desk,
              "sofa": _sofa, "table": _table, "wardrobe": _wardrobe}


def generate(category: str, rng: np.random.Generator) -> Furniture:
    """Draw one piece of furniture of `category` (one of CATEGORIES). Raises ValueError."""
    if category not in GENERATORS:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    builder = _Builder(rng)
    GENERATORS[category](builder)
    return Furniture(category, tuple(builder.parts))


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
        else:  # a disc of radius r with normal a spans r*sqrt(1-a_e^2) along world axis e
            axis = rotation[:, 1]
            extent = np.abs(axis) * half[1] + half[0] * np.sqrt(np.clip(1 - axis ** 2, 0, 1))
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
            inside = ((local[..., 0] ** 2 + local[..., 2] ** 2 <= half[0] ** 2)
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
