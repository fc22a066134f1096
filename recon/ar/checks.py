"""Validation at the edge: image sizes, plane sizes and four clicked corners.

Each check returns the value in a clean form or raises an error that says what is wrong.
"""

import numpy as np

from recon.errors import DegenerateCornersError

MIN_CORNER_DISTANCE_PX = 4.0  # corners closer than this are one repeated click
MIN_CORNER_ANGLE_DEG = 3.0  # a corner flatter than this makes three points (nearly) collinear


def check_image_size(image_size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height) in pixels, not {image_size!r}")
    if width < 2 or height < 2:
        raise ValueError(f"image_size must be at least 2 x 2 pixels, not {image_size!r}")
    return width, height


def check_plane_size(plane_size) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in plane_size)
    except (TypeError, ValueError):
        raise ValueError(f"plane_size must be (width, height), not {plane_size!r}")
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"plane_size must be two positive numbers, not {plane_size!r}")
    return width, height


def check_corners(corners_px, image_size, require_inside: bool) -> np.ndarray:
    """(4, 2) float64 corners, or DegenerateCornersError saying what is wrong with them."""
    try:
        corners = np.asarray(corners_px, np.float64)
    except (TypeError, ValueError):
        raise DegenerateCornersError("corners must be four (x, y) pixel pairs")
    if corners.shape != (4, 2):
        count = corners.shape[0] if corners.ndim == 2 and corners.shape[1] == 2 else "malformed"
        raise DegenerateCornersError(
            f"exactly four corners (x, y) are needed (TL, TR, BR, BL), got {count}"
        )
    if not np.all(np.isfinite(corners)):
        raise DegenerateCornersError("corners contain NaN or infinite coordinates")
    width, height = image_size
    outside = (corners[:, 0] < -0.5) | (corners[:, 0] > width - 0.5)
    outside |= (corners[:, 1] < -0.5) | (corners[:, 1] > height - 0.5)
    if require_inside and outside.any():
        names = [
            n
            for n, o in zip(("top-left", "top-right", "bottom-right", "bottom-left"), outside)
            if o
        ]
        raise DegenerateCornersError(
            f"corner(s) {', '.join(names)} lie outside the {width} x {height} image"
        )
    distances = np.linalg.norm(corners[:, None] - corners[None], axis=2)
    if distances[np.triu_indices(4, 1)].min() < MIN_CORNER_DISTANCE_PX:
        raise DegenerateCornersError(
            "two corners are (nearly) the same point: click four distinct corners"
        )
    edges = np.roll(corners, -1, axis=0) - corners  # edge i runs from corner i to corner i + 1
    if _segments_cross(corners[0], corners[1], corners[2], corners[3]) or _segments_cross(
        corners[1], corners[2], corners[3], corners[0]
    ):
        raise DegenerateCornersError(
            "the corners form a self-crossing shape: give them in the order top-left, top-right, "
            "bottom-right, bottom-left"
        )
    turns = np.cross(edges, np.roll(edges, -1, axis=0))  # turn at corners 1, 2, 3, 0
    sines = turns / (
        np.linalg.norm(edges, axis=1) * np.linalg.norm(np.roll(edges, -1, axis=0), axis=1)
    )
    if np.abs(sines).min() < np.sin(np.radians(MIN_CORNER_ANGLE_DEG)):
        raise DegenerateCornersError(
            "three corners are (nearly) on one line: the shape is not a rectangle's image"
        )
    if not (np.all(turns > 0) or np.all(turns < 0)):
        raise DegenerateCornersError(
            "the corners do not form a convex shape, so they cannot be a rectangle's image"
        )
    if np.all(turns < 0):
        raise DegenerateCornersError(
            "the corners run counter-clockwise: give them as top-left, top-right, bottom-right, "
            "bottom-left as you see them"
        )
    return corners


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Whether the closed segments p1-p2 and q1-q2 properly intersect."""

    def side(a, b, c):
        return np.sign(np.cross(b - a, c - a))

    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0
