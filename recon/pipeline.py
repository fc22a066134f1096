"""Photo in, voxel grid and mesh out: the one pipeline the app and the command line share.

    prepare_image -> predict (model) -> grid_to_mesh

`Reconstructor` loads a model once and runs batches; `get_reconstructor` caches one per
(model, weights, device) so the app and the command line load each model a single time.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image

from recon.generative_metrics import random_shapes
from recon.colors import color_mesh
from recon.hub import load_model, resolve_device
from recon.images import PreparedImage, load_image, prepare_image
from recon.mesh import grid_to_mesh

logger = logging.getLogger(__name__)

MODEL_KINDS = ("cgan", "vae")


@dataclass(frozen=True)
class Reconstruction:
    """One photo's result for one model.

    grid: (D, D, D) float32 occupancy probabilities in the canonical frame (see recon.voxels).
    mesh: the iso-surface of `grid`, canonical cube coordinates, Y up, front toward +Z.
    seed: the latent seed used (None when the model ran deterministically).
    timings: seconds per stage ("preprocess", "forward", "mesh").
    category, category_scores ({category: probability}), azimuth_deg, elevation_deg: what the
    model predicts about the object and the camera (recon.viewpoint), None when it has no such heads.
    """

    model: str
    grid: np.ndarray
    mesh: trimesh.Trimesh
    prepared: PreparedImage
    seed: int | None
    timings: dict[str, float] = field(default_factory=dict)
    category: str | None = None
    category_scores: dict[str, float] | None = None
    azimuth_deg: float | None = None
    elevation_deg: float | None = None


@dataclass(frozen=True)
class GeneratedShape:
    """A shape the VAE made up from its prior (no photo): grid (D, D, D) float32 probabilities,
    its mesh (as in Reconstruction), and the seed of the latent draw."""

    grid: np.ndarray
    mesh: trimesh.Trimesh
    seed: int


def _limit_cpu_threads() -> None:
    # torch defaults to every core; on a small shared CPU one request should not starve the server.
    if not torch.cuda.is_available() and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


class Reconstructor:
    """A loaded model that turns photos into voxel grids.

    model: "cgan" or "vae"; weights: a local folder, a Hub repo id, or None for the default
    (environment variable RECON_CGAN_WEIGHTS / RECON_VAE_WEIGHTS, else the embedded folder);
    device: "auto" (CUDA when present), "cpu" or "cuda".
    Raises ValueError for an unknown model and recon.errors.WeightsError for unusable weights.
    """

    def __init__(self, model: str = "cgan", weights: str | Path | None = None, device: str = "auto"):
        if model not in MODEL_KINDS:
            raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODEL_KINDS)}")
        _limit_cpu_threads()
        self.kind = model
        self.device = resolve_device(device)
        started = time.perf_counter()
        self.network = load_model(model, weights, device=self.device)
        self.load_seconds = time.perf_counter() - started
        self.image_size = int(self.network.image_size)
        self.resolution = int(self.network.resolution)

    def prepare(self, image: str | Path | bytes | Image.Image) -> PreparedImage:
        """Load (when given a path or bytes) and crop one photo exactly as in training."""
        if not isinstance(image, Image.Image):
            image = load_image(image)
        # A real alpha channel is an exact mask: paint the background white. Without one the mask
        # is only an estimate, so keep the background (training saw both plain and room ones).
        background = "white" if image.mode == "RGBA" else "keep"
        return prepare_image(image, size=self.image_size, background=background)

    def predict(self, images: list[PreparedImage], seed: int | None = None) -> list[np.ndarray]:
        """Occupancy grids for prepared photos, in one batch.

        seed: None runs the model deterministically (cGAN: z = 0, VAE: the mean latent); an int
        draws the latent from a generator seeded with it (the same seed gives the same grids).
        Returns one (D, D, D) float32 array per image.
        """
        if not images:
            return []
        batch = torch.from_numpy(np.stack([p.pixels for p in images])).to(self.device)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
        with torch.inference_mode():
            probabilities = self.network.reconstruct(batch, generator=generator)
        return list(probabilities.float().cpu().numpy())

    def to_mesh(self, grid: np.ndarray, level: float = 0.5, smoothing: str | None = "taubin",
                color_by_confidence: bool = True) -> trimesh.Trimesh:
        """The grid's iso-surface at `level` (see recon.mesh.grid_to_mesh)."""
        return grid_to_mesh(grid, level=level, smoothing=smoothing,
                            color_by_confidence=color_by_confidence)

    def reconstruct(self, image: str | Path | bytes | Image.Image, seed: int | None = None,
                    level: float = 0.5, smoothing: str | None = "taubin",
                    colors: str = "photo") -> Reconstruction:
        """One photo -> grid and mesh (coloured as recon.colors.color_mesh: "photo" or "plain"),
        with the seconds each stage took."""
        clock = time.perf_counter()
        prepared = self.prepare(image)
        timings = {"preprocess": time.perf_counter() - clock}
        clock = time.perf_counter()
        (grid,) = self.predict([prepared], seed=seed)
        timings["forward"] = time.perf_counter() - clock
        clock = time.perf_counter()
        mesh = color_mesh(self.to_mesh(grid, level=level, smoothing=smoothing), prepared, colors=colors)
        timings["mesh"] = time.perf_counter() - clock
        return Reconstruction(self.kind, grid, mesh, prepared, seed, timings)

    def random_furniture(self, seed: int, level: float = 0.5, smoothing: str | None = "taubin") -> GeneratedShape:
        """The VAE as a generator: one shape decoded from z ~ N(0, I) drawn with `seed`, and its mesh.

        Raises ValueError for the cGAN (it needs a photo), EmptyGridError when no voxel reaches `level`.
        """
        if self.kind != "vae":
            raise ValueError(f"random furniture needs the VAE (z ~ N(0, I) has no photo); this is the {self.kind}")
        (grid,) = random_shapes(self.network, 1, seed)
        return GeneratedShape(grid, self.to_mesh(grid, level=level, smoothing=smoothing), int(seed))


@functools.lru_cache(maxsize=8)
def get_reconstructor(model: str = "cgan", weights: str | None = None,
                      device: str = "auto") -> Reconstructor:
    """The process-wide Reconstructor for these arguments, loaded on first use."""
    return Reconstructor(model, weights, device)
