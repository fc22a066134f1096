"""Real sizes: how big a piece of furniture is, in metres, when the photo cannot say.

A photo fixes an object's shape but not its scale, so the longest side comes from its category.
TYPICAL_LONGEST_SIDE_M holds one typical value per category (DESIGN.md's order), rounded from
common retail dimensions and standards (IKEA-style catalogue ranges; EN 1335 / BIFMA desk and
chair sizes):

- bed 2.0: mattress lengths are 190-200 cm, frames 200-210 cm;
- bookcase 1.8: the usual tall bookcase is 180-200 cm high (its longest side);
- chair 0.9: dining and office chairs are 80-100 cm high to the top of the back;
- desk 1.2: desk tops are 100-160 cm wide, 120 cm the most common;
- sofa 2.0: three-seaters are 190-230 cm wide, two-seaters 150-180 cm;
- table 1.4: four- to six-seat dining tables are 120-180 cm long;
- wardrobe 2.0: wardrobes are 190-240 cm high (or wide, for double ones).

Without a category (a model without a category head) DEFAULT_LONGEST_SIDE_M is used: 1.2 m,
the middle of the table, so the error is at most a factor of about 1.7 either way.
"""

from __future__ import annotations

import numpy as np
import trimesh

from recon.voxels import index_to_position

TYPICAL_LONGEST_SIDE_M = {"bed": 2.0, "bookcase": 1.8, "chair": 0.9, "desk": 1.2, "sofa": 2.0,
                          "table": 1.4, "wardrobe": 2.0}
DEFAULT_LONGEST_SIDE_M = 1.2


def canonical_extents(mesh_or_grid: trimesh.Trimesh | np.ndarray, level: float = 0.5) -> np.ndarray:
    """(3,) extents along X, Y, Z in cube units of a canonical mesh, or of a grid's voxels >= level
    (each voxel counted whole). Raises ValueError for an empty mesh or grid."""
    if isinstance(mesh_or_grid, trimesh.Trimesh):
        if len(mesh_or_grid.vertices) == 0:
            raise ValueError("the mesh has no vertices: it has no size")
        return np.ptp(np.asarray(mesh_or_grid.vertices), axis=0)
    grid = np.asarray(mesh_or_grid)
    occupied = np.argwhere(grid >= level)
    if len(occupied) == 0:
        raise ValueError(f"no voxel reaches level {level}: the grid has no size")
    side = grid.shape[0]
    low = index_to_position(occupied.min(axis=0), side) - 0.5 / side
    high = index_to_position(occupied.max(axis=0), side) + 0.5 / side
    return high - low


def size_m(mesh_or_grid: trimesh.Trimesh | np.ndarray, category: str | None,
           longest_side_m: float | None = None) -> tuple[float, float, float]:
    """(width, height, depth) in metres: the canonical extents (X, Y, Z) scaled so the longest
    is `longest_side_m` when given, else the category's typical size (TYPICAL_LONGEST_SIDE_M;
    DEFAULT_LONGEST_SIDE_M for None). Raises ValueError for an unknown category or a size that
    is not a positive finite number."""
    if longest_side_m is None:
        if category is not None and category not in TYPICAL_LONGEST_SIDE_M:
            raise ValueError(f"unknown category {category!r}: choose one of {', '.join(TYPICAL_LONGEST_SIDE_M)}")
        longest_side_m = TYPICAL_LONGEST_SIDE_M.get(category, DEFAULT_LONGEST_SIDE_M)
    longest_side_m = float(longest_side_m)
    if not np.isfinite(longest_side_m) or longest_side_m <= 0:
        raise ValueError(f"the longest side must be a positive number of metres, got {longest_side_m}")
    extents = canonical_extents(mesh_or_grid)
    width, height, depth = extents * (longest_side_m / extents.max())
    return float(width), float(height), float(depth)
