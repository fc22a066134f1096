"""Metrics of each model's kind: how crisp, how diverse, how well spread its latent space is, and
how close its shapes are, as a set, to real ones. Generated (predicted) sets come first,
reference (ground-truth) sets second, always.

crispness(grids)                       share of the shape the model is unsure of (lower: crisper)
pairwise_diversity(samples)            mean 1 - IoU between samples drawn for one photo
active_latent_units(mu_batch)          VAE latent dimensions whose mean moves with the input
frechet_distance(features, features)   Fréchet distance between Gaussians fitted to two feature sets
frechet_voxel_distance(grids, grids, classifier)   the project's Fréchet voxel distance (FVD)
random_shapes(vae, count, seed)        the VAE as a generator: grids decoded from z ~ N(0, I)

Fréchet voxel distance (FVD), this project's own metric, in the manner of FID (Heusel et al.,
2017) with Inception replaced by a small 3D CNN:
- features: the 128-d penultimate layer (after its LeakyReLU) of recon.models.VoxelClassifier,
  a ~305k-parameter 3D CNN trained to tell bed, bookcase, chair, desk, sofa, table and wardrobe
  apart from 32^3 occupancy grids (train/voxel_classifier.py; the training data, held-out accuracy
  and exact command are in recon/weights/voxel-classifier/README.md);
- grids are any-pooled (max-pooled) to 32^3 and thresholded at 0.5 first (the shape a user sees
  as the mesh; blur is crispness's business), unless level=None feeds the probabilities as they are;
- FVD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between the features' means and
  covariances; squared feature units, no scaling.
0 means the two sets have the same feature mean and covariance (identical sets score 0 up to
rounding); larger is further apart. Like FID it is biased upward for small sets, so compare only
values computed with the same classifier weights and the same set sizes. It is not comparable
with any number in other papers (their feature networks and data differ).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recon.errors import InvalidGridError
from recon.hub import load_model
from recon.models import VoxelClassifier, VoxelVAE
from recon.voxels import resample

logger = logging.getLogger(__name__)

FEATURE_BATCH = 256  # grids per classifier forward pass
GENERATE_BATCH = 64  # grids per VAE decoder pass (bounds memory at 64^3)


def _grid_batch(grids, name: str) -> np.ndarray:
    """(N, D, D, D) or one (D, D, D) grid -> finite float32 (N, D, D, D); raises InvalidGridError."""
    array = np.asarray(grids, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or not array.shape[1] == array.shape[2] == array.shape[3]:
        raise InvalidGridError(f"{name} must be cubic grids (N, D, D, D), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidGridError(f"{name} contain NaN or infinite values")
    return array


@dataclass(frozen=True)
class Crispness:
    """Share of the active voxels (p > active) that are unsure (p < sure): 0 = every active voxel
    is confidently occupied, 1 = all are in between.

    per_grid: (N,) float64, one value per grid (0 for a grid without active voxels);
    pooled: over the active voxels of all grids together (each voxel weighs the same).
    """

    per_grid: np.ndarray
    pooled: float


def crispness(grids, active: float = 0.2, sure: float = 0.8) -> Crispness:
    """Crispness of probability grids (N, D, D, D) or one (D, D, D). Lower is crisper.

    Raises ValueError unless 0 <= active < sure <= 1, InvalidGridError for a bad array.
    """
    if not 0 <= active < sure <= 1:
        raise ValueError(f"need 0 <= active < sure <= 1, got active={active}, sure={sure}")
    array = _grid_batch(grids, "grids")
    array = array.reshape(len(array), -1)
    is_active = array > active
    unsure = is_active & (array < sure)
    active_counts = is_active.sum(1)
    per_grid = np.divide(unsure.sum(1), active_counts, out=np.zeros(len(array)), where=active_counts > 0)
    total = active_counts.sum()
    return Crispness(per_grid, float(unsure.sum() / total) if total else 0.0)


def pairwise_diversity(samples, level: float = 0.5) -> float:
    """Mean over all pairs of 1 - IoU (occupied: p >= level) of samples (N, D, D, D) for one photo.

    0 = all samples identical (two empty samples count as identical); 1 = no pair overlaps.
    Raises InvalidGridError for a bad array or fewer than two samples.
    """
    array = _grid_batch(samples, "samples")
    occupied = (array >= level).reshape(len(array), -1).astype(np.float32)
    if len(occupied) < 2:
        raise InvalidGridError(f"diversity needs at least 2 samples, got {len(occupied)}")
    intersections = occupied @ occupied.T  # (N, N) voxel counts; exact in float32 below 2^24
    counts = np.diag(intersections)
    unions = counts[:, None] + counts[None, :] - intersections
    distances = np.where(unions > 0, 1 - intersections / np.maximum(unions, 1), 0.0)
    pairs = np.triu_indices(len(occupied), k=1)
    return float(distances[pairs].mean())


def active_latent_units(mu_batch, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across inputs (Burda et al., 2016):
    dimension u is active when Var_x(E_q(z|x)[z_u]) > threshold.

    mu_batch: (N, latent_dim) encoder means of N different inputs (population variance over N).
    Raises ValueError for fewer than two rows or non-finite values.
    """
    mu = np.asarray(mu_batch, dtype=np.float64)
    if mu.ndim != 2 or len(mu) < 2:
        raise ValueError(f"mu_batch must be (N >= 2, latent_dim), got shape {mu.shape}")
    if not np.isfinite(mu).all():
        raise ValueError("mu_batch contains NaN or infinite values")
    return int(np.count_nonzero(mu.var(axis=0) > threshold))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues rounded below 0 -> 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians fitted to feature sets (N, F) and (M, F):
    |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)), covariances with N - 1.

    Tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    S_a^(1/2) S_b S_a^(1/2) (same eigenvalues as S_a S_b), so singular covariances (fewer samples
    than features) need no eps * I and no complex square root appears. Returns a float >= 0.
    Raises ValueError for fewer than two rows, differing widths or non-finite values.
    """
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two feature sets (N >= 2, F) of one width F, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features contain NaN or infinite values")
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def load_voxel_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> VoxelClassifier:
    """The FVD's classifier, eval mode: a local folder or Hub repo id; None -> the environment
    variable RECON_VOXEL_CLASSIFIER_WEIGHTS, else recon/weights/voxel-classifier/.
    Raises recon.errors.WeightsError for missing or unusable weights (see recon.hub)."""
    return load_model("voxel-classifier", path, device=device)


@torch.inference_mode()
def voxel_features(grids, classifier: VoxelClassifier, level: float | None = 0.5) -> np.ndarray:
    """Classifier features (N, feature_dim) float64 of grids (N, D, D, D), D a multiple of the
    classifier's resolution (any-pooled down to it). level: threshold first (occupied = 1), or
    None to use the probabilities. Raises InvalidGridError for a bad array or side."""
    array = _grid_batch(grids, "grids")
    side, resolution = array.shape[1], classifier.resolution
    if side % resolution:
        raise InvalidGridError(f"grids of side {side} cannot be pooled to the classifier's {resolution}^3")
    if side != resolution:
        array = np.stack([resample(grid, resolution) for grid in array])
    if level is not None:
        array = (array >= level).astype(np.float32)
    device = next(classifier.parameters()).device
    features = [classifier.embed(torch.from_numpy(array[start:start + FEATURE_BATCH]).to(device)).double().cpu()
                for start in range(0, len(array), FEATURE_BATCH)]
    return torch.cat(features).numpy()


def frechet_voxel_distance(grids_a, grids_b, classifier: VoxelClassifier, level: float | None = 0.5) -> float:
    """The project's FVD (module docstring) between generated grids (N, D, D, D) and reference
    grids (M, D, D, D), N, M >= 2; `classifier` from load_voxel_classifier (eval mode).
    Raises InvalidGridError / ValueError for bad sets."""
    return frechet_distance(voxel_features(grids_a, classifier, level), voxel_features(grids_b, classifier, level))


def random_shapes(vae: VoxelVAE, count: int, seed: int) -> np.ndarray:
    """The VAE as a generator: float32 (count, D, D, D) probabilities decoded from z ~ N(0, I),
    drawn from a torch.Generator seeded with `seed` (the same seed and count give the same grids).
    Raises ValueError for count < 1."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    generator = torch.Generator().manual_seed(int(seed))
    grids = [vae.generate(min(GENERATE_BATCH, count - start), generator).float().cpu().numpy()
             for start in range(0, count, GENERATE_BATCH)]
    return np.concatenate(grids)
