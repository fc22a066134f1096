"""Writing a reconstruction to files: the grid (.npy, .mat), the mesh (.obj, .glb, .stl, .ply,
.usdz at real size) and a JSON sidecar of what the model says about the object (.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh

from recon.mesh import export_mesh
from recon.sizes import size_m
from recon.usdz import export_usdz
from recon.voxels import save_mat, save_npy

GRID_FORMATS = ("npy", "mat")
MESH_FORMATS = ("obj", "glb", "stl", "ply", "usdz")
FORMATS = GRID_FORMATS + MESH_FORMATS + ("json",)


def parse_formats(text: str) -> tuple[str, ...]:
    """"npy,mat,glb" -> ("npy", "mat", "glb"); raises ValueError naming an unknown format."""
    formats = tuple(dict.fromkeys(part.strip().lower().lstrip(".") for part in text.split(",") if part.strip()))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return formats


def sidecar(category: str | None, category_scores: dict[str, float] | None,
            azimuth_deg: float | None, elevation_deg: float | None,
            size: tuple[float, float, float]) -> dict:
    """The JSON sidecar of DESIGN.md: {"category", "category_scores", "azimuth_deg",
    "elevation_deg", "size_m": [width, height, depth]}. A value the model does not predict (no
    category or viewpoint head) is None (JSON null); size_m is always there (recon.sizes)."""
    return {
        "category": category,
        "category_scores": None if category_scores is None else {k: float(v) for k, v in category_scores.items()},
        "azimuth_deg": None if azimuth_deg is None else float(azimuth_deg),
        "elevation_deg": None if elevation_deg is None else float(elevation_deg),
        "size_m": [float(v) for v in size],
    }


def reconstruction_sidecar(reconstruction, mesh: trimesh.Trimesh | None = None,
                           longest_side_m: float | None = None) -> dict:
    """`sidecar` of a recon.pipeline.Reconstruction: its category and viewpoint (None where the
    model has no head for them) and the real size of `mesh` (default: its own mesh, or its grid
    when there is none) for its category, or `longest_side_m` when given (recon.sizes.size_m)."""
    r = reconstruction
    shape = mesh if mesh is not None else (r.mesh if r.mesh is not None else r.grid)
    return sidecar(r.category, r.category_scores, r.azimuth_deg, r.elevation_deg,
                   size_m(shape, r.category, longest_side_m))


def export_reconstruction(grid: np.ndarray, mesh: trimesh.Trimesh | None, directory: str | Path,
                          stem: str, formats: tuple[str, ...], level: float = 0.5,
                          details: dict | None = None) -> dict[str, Path]:
    """Write `grid` and `mesh` as DIRECTORY/STEM.<format> for each format; returns format -> path.

    .npy holds the probabilities, .mat the boolean grid at `level` (key "voxel", uint8), .usdz the
    mesh at details["size_m"] metres, .json `details` (see `sidecar`). details None: no category or
    viewpoint, the size from recon.sizes' default. A mesh format with mesh None (an empty grid)
    is skipped.
    """
    if details is None and ("usdz" in formats or "json" in formats):
        details = sidecar(None, None, None, None, size_m(mesh if mesh is not None else grid, None))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in formats:
        path = directory / f"{stem}.{name}"
        if name == "npy":
            save_npy(path, grid)
        elif name == "mat":
            save_mat(path, grid, level=level)
        elif name == "json":
            path.write_text(json.dumps(details, indent=2) + "\n")
        elif name == "usdz" and mesh is not None:
            export_usdz(mesh, path, details["size_m"])
        elif mesh is not None:
            export_mesh(mesh, path)
        else:
            continue
        written[name] = path
    return written
