"""Writing a reconstruction to files: the grid (.npy, .mat) and the mesh (.obj, .glb, .stl, .ply)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from recon.mesh import export_mesh
from recon.voxels import save_mat, save_npy

GRID_FORMATS = ("npy", "mat")
MESH_FORMATS = ("obj", "glb", "stl", "ply")
FORMATS = GRID_FORMATS + MESH_FORMATS


def parse_formats(text: str) -> tuple[str, ...]:
    """"npy,mat,glb" -> ("npy", "mat", "glb"); raises ValueError naming an unknown format."""
    formats = tuple(dict.fromkeys(part.strip().lower().lstrip(".") for part in text.split(",") if part.strip()))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return formats


def export_reconstruction(grid: np.ndarray, mesh: trimesh.Trimesh | None, directory: str | Path,
                          stem: str, formats: tuple[str, ...], level: float = 0.5) -> dict[str, Path]:
    """Write `grid` and `mesh` as DIRECTORY/STEM.<format> for each format; returns format -> path.

    .npy holds the probabilities, .mat the boolean grid at `level` (key "voxel", uint8).
    A mesh format with mesh None (an empty grid) is skipped.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in formats:
        path = directory / f"{stem}.{name}"
        if name == "npy":
            save_npy(path, grid)
        elif name == "mat":
            save_mat(path, grid, level=level)
        elif mesh is not None:
            export_mesh(mesh, path)
        else:
            continue
        written[name] = path
    return written
