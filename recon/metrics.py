"""Reconstruction quality metrics. Prediction comes first, ground truth second, always.

Protocol: grids are compared as they are (no re-alignment, no threshold search); points are in
canonical cube units, so an F-score threshold of 0.01 is 1% of the cube's side.
"""

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from recon.errors import InvalidGridError
from recon.mesh import grid_to_mesh


def voxel_iou(prediction: np.ndarray, truth: np.ndarray, level: float = 0.5) -> float:
    """Intersection over union of the occupied voxels (``>= level``) of two same-shape grids.

    Both empty -> 1.0 (they agree). Raises InvalidGridError when shapes differ.
    """
    prediction, truth = np.asarray(prediction), np.asarray(truth)
    if prediction.shape != truth.shape:
        raise InvalidGridError(f"grids differ in shape: prediction {prediction.shape}, truth {truth.shape}")
    predicted, actual = prediction >= level, truth >= level
    union = np.count_nonzero(predicted | actual)
    if union == 0:
        return 1.0
    return np.count_nonzero(predicted & actual) / union


def surface_points(
    source: np.ndarray | trimesh.Trimesh,
    level: float = 0.5,
    count: int = 2048,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Sample ``count`` points uniformly (by area) on a surface: float64 (count, 3).

    ``source`` is a probability grid (its unsmoothed ``level`` iso-surface is used, in canonical
    cube coordinates) or a mesh. ``rng`` defaults to a fixed seed, so results repeat.
    Raises EmptyGridError for a grid with no occupied voxel.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if isinstance(source, trimesh.Trimesh):
        mesh = source
    else:
        mesh = grid_to_mesh(source, level, smoothing=None, min_component_fraction=0.0, color_by_confidence=False)
    triangles = mesh.triangles  # (F, 3, 3)
    areas = mesh.area_faces
    chosen = rng.choice(len(areas), size=count, p=areas / areas.sum())
    # Uniform barycentric sampling: reflect (u, v) back into the triangle when u + v > 1.
    u, v = rng.random(count), rng.random(count)
    outside = u + v > 1
    u[outside], v[outside] = 1 - u[outside], 1 - v[outside]
    a, b, c = triangles[chosen, 0], triangles[chosen, 1], triangles[chosen, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


def f_score(prediction_points: np.ndarray, truth_points: np.ndarray, threshold: float = 0.01) -> float:
    """F-score at distance ``threshold`` between point sets (N, 3) and (M, 3).

    Precision: share of predicted points closer than ``threshold`` to some true point; recall:
    share of true points closer than ``threshold`` to some predicted point; F = 2PR / (P + R).
    Both sets empty -> 1.0; one empty -> 0.0.
    """
    prediction_points = np.asarray(prediction_points, dtype=np.float64).reshape(-1, 3)
    truth_points = np.asarray(truth_points, dtype=np.float64).reshape(-1, 3)
    if len(prediction_points) == 0 or len(truth_points) == 0:
        return float(len(prediction_points) == len(truth_points))
    to_truth, _ = cKDTree(truth_points).query(prediction_points, k=1)
    to_prediction, _ = cKDTree(prediction_points).query(truth_points, k=1)
    precision = np.mean(to_truth < threshold)
    recall = np.mean(to_prediction < threshold)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
