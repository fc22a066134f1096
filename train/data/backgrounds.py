"""Procedural backgrounds for rendered training views (numpy only, about a millisecond at 128^2).

    plain_background(height, width, rng) -> uint8 (H, W, 3)   near-uniform studio colour
    room_background(height, width, rng, horizon=None) -> uint8 (H, W, 3)
        a wall (flat colour, vertical gradient, stripes or a dotted wallpaper) above a floor
        (wood planks or tiles drawn in perspective toward the horizon row), skirting board,
        soft vignette and a little sensor noise.
"""

from __future__ import annotations

import numpy as np

WALL_COLOURS = [(235, 232, 225), (220, 225, 230), (200, 210, 200), (240, 225, 205), (190, 200, 215),
                (215, 200, 190), (160, 170, 160), (245, 245, 245), (120, 130, 140)]
WOOD_FLOORS = [(160, 115, 70), (200, 160, 110), (120, 80, 50), (180, 140, 100), (90, 60, 40)]
TILE_FLOORS = [(220, 220, 215), (150, 150, 150), (200, 190, 170), (90, 90, 95), (180, 170, 160)]


def plain_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A nearly uniform light or mid-grey backdrop with a faint gradient, uint8 (H, W, 3)."""
    base = rng.uniform(170, 255) * np.ones(3) + rng.normal(0, 6, 3)
    ramp = np.linspace(-1, 1, height)[:, None, None] * rng.uniform(0, 12)
    image = np.broadcast_to(base, (height, width, 3)) + ramp
    return np.clip(image, 0, 255).astype(np.uint8)


def room_background(height: int, width: int, rng: np.random.Generator,
                    horizon: float | None = None) -> np.ndarray:
    """A wall-and-floor room view, uint8 (H, W, 3).

    horizon: row (pixels, may lie outside the image) where the floor plane vanishes; the
    renderer passes the camera's horizon so the floor recedes consistently with the object.
    """
    if horizon is None:
        horizon = rng.uniform(-0.2, 0.6) * height
    # The wall meets the floor somewhat below the horizon (the wall is some distance behind).
    wall_line = horizon + rng.uniform(0.15, 0.6) * height
    rows = np.arange(height, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(width, dtype=np.float32)[None, :] + 0.5
    image = np.empty((height, width, 3), np.float32)
    wall = _wall(rows, cols, height, width, rng)
    floor = _floor(rows, cols, horizon, width, rng)
    is_floor = np.broadcast_to(rows > wall_line, (height, width))
    image[:] = np.where(is_floor[..., None], floor, wall)
    skirting = (rows > wall_line - 0.03 * height) & (rows <= wall_line)
    image[np.broadcast_to(skirting, (height, width))] = rng.uniform(180, 250)
    return _finish(image, rng)


def _wall(rows, cols, height, width, rng) -> np.ndarray:
    colour = np.array(WALL_COLOURS[rng.integers(len(WALL_COLOURS))], np.float32) + rng.normal(0, 8, 3)
    shade = 1 - rng.uniform(0, 0.25) * rows / height  # light from above
    pattern = np.ones_like(rows * cols)
    kind = rng.integers(4)
    if kind == 1:  # vertical stripes
        period = rng.uniform(0.05, 0.2) * width
        pattern = 1 - rng.uniform(0.03, 0.1) * (np.sin(2 * np.pi * cols / period + rng.uniform(0, 6)) > 0)
    elif kind == 2:  # dotted wallpaper
        period = rng.uniform(0.04, 0.1) * width
        dots = (np.sin(np.pi * cols / period) * np.sin(np.pi * rows / period)) ** 2 > 0.8
        pattern = 1 - rng.uniform(0.05, 0.15) * dots
    elif kind == 3:  # wainscot: the lower part of the wall in another tone
        split = rng.uniform(0.4, 0.8) * height
        pattern = np.where(rows > split, rng.uniform(0.8, 1.1), 1.0) * np.ones_like(cols)
    return colour * (shade * pattern)[..., None]


def _floor(rows, cols, horizon, width, rng) -> np.ndarray:
    """Floor texture with perspective: depth ~ 1 / (row - horizon), lateral ~ (col - c) * depth."""
    depth = 1.0 / np.maximum(rows - horizon, 1.0)
    x = (cols - width / 2) * depth * rng.uniform(4, 10)
    z = depth * width * rng.uniform(2, 5)
    if rng.random() < 0.6:  # wood planks running away from the viewer
        colour = np.array(WOOD_FLOORS[rng.integers(len(WOOD_FLOORS))], np.float32)
        plank = np.floor(x / rng.uniform(0.15, 0.3))
        tone = 1 + 0.12 * np.sin(plank * 12.9898) * np.cos(plank * 78.233)
        grain = 1 + 0.05 * np.sin(x * rng.uniform(60, 120) + 3 * np.sin(z * 2))
        seam = 1 - 0.25 * (np.abs(x / 0.2 - np.round(x / 0.2)) < 0.04)
        texture = tone * grain * seam
    else:  # square tiles with grout lines
        colour = np.array(TILE_FLOORS[rng.integers(len(TILE_FLOORS))], np.float32)
        size = rng.uniform(0.3, 0.6)
        u, v = x / size, z / size
        grout = (np.abs(u - np.round(u)) < 0.03) | (np.abs(v - np.round(v)) < 0.03)
        checker = (np.floor(u) + np.floor(v)) % 2 if rng.random() < 0.3 else 0
        texture = (1 - 0.3 * grout) * (1 - 0.15 * checker)
    fade = 1 - 0.25 * np.exp(-(rows - horizon) / max(width, 1) * 3)  # darker far away
    return colour * (texture * fade)[..., None]


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vignette, overall exposure and sensor noise, then to uint8."""
    height, width = image.shape[:2]
    y = np.linspace(-1, 1, height)[:, None]
    x = np.linspace(-1, 1, width)[None, :]
    vignette = 1 - rng.uniform(0.05, 0.3) * (x ** 2 + y ** 2) / 2
    image = image * vignette[..., None] * rng.uniform(0.75, 1.1)
    image += rng.normal(0, 2.0, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)
