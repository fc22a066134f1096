"""Mirrored and stretched variants of a catalogue model, so a few hundred real designs give
thousands of distinct training shapes.

    shape_variant(mesh, voxels, mirror, stretch) -> (mesh, voxels)
    draw_variant(rng) -> (mirror, stretch)

Both inputs and outputs are in the canonical frame of ``recon.voxels`` (longest side spans the
cube, box centred): a stretch scales the object along X, Y and Z, then the result is
re-normalised into the cube, so only the proportions change. A mirror flips X (the left-right
axis), which keeps the piece upright and front-facing. Voxels are resampled from the 128^3 grid
by nearest neighbour, which is exact for a mirror and within one fine voxel for a stretch.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import trimesh

STRETCH_RANGE = (0.8, 1.25)  # per-axis scale factors of a stretched variant


def draw_variant(rng: np.random.Generator) -> tuple[bool, np.ndarray]:
    """A random (mirror, stretch (3,)) with independent per-axis factors in STRETCH_RANGE."""
    low, high = np.log(STRETCH_RANGE)
    return bool(rng.random() < 0.5), np.exp(rng.uniform(low, high, 3))


def _canonical_scale(extent: np.ndarray, stretch: np.ndarray) -> np.ndarray:
    """Per-axis factors that stretch a box of `extent` (3,) and bring its longest side back to 1."""
    stretched = extent * stretch
    return stretch / stretched.max()


def shape_variant(mesh: trimesh.Trimesh, voxels: np.ndarray, mirror: bool,
                  stretch=(1.0, 1.0, 1.0)) -> tuple[trimesh.Trimesh, np.ndarray]:
    """The mirrored / stretched mesh and bool (N, N, N) voxels of a canonical model.

    Raises ValueError when voxels is not a cube or stretch is not three positive numbers.
    """
    stretch = np.asarray(stretch, np.float64)
    if voxels.ndim != 3 or len(set(voxels.shape)) != 1:
        raise ValueError(f"voxels must be a cube, got shape {voxels.shape}")
    if stretch.shape != (3,) or np.any(stretch <= 0):
        raise ValueError(f"stretch must be three positive factors, got {stretch}")
    lo, hi = mesh.bounds
    factors = _canonical_scale(hi - lo, stretch)
    vertices = (mesh.vertices - (lo + hi) / 2) * factors
    faces = np.asarray(mesh.faces)
    if mirror:
        vertices[:, 0] *= -1
        faces = faces[:, ::-1]  # a reflection turns the winding: keep the normals outward
    variant = trimesh.Trimesh(vertices, faces, visual=mesh.visual.copy(), process=False)
    if mirror and variant.visual.kind == "face":
        variant.visual.face_colors = mesh.visual.face_colors
    grid = voxels[::-1] if mirror else voxels
    if not np.allclose(factors, 1.0):
        n = grid.shape[0]
        centre = (n - 1) / 2
        # output index o -> input index centre + (o - centre) / factor (nearest voxel); grid-constant
        # keeps the outer half of the edge voxels ("constant" drops it, thinning the shape by a voxel)
        grid = scipy.ndimage.affine_transform(grid.astype(np.uint8), 1.0 / factors,
                                              offset=centre - centre / factors, order=0,
                                              mode="grid-constant", cval=0).astype(bool)
    return variant, np.ascontiguousarray(grid)
