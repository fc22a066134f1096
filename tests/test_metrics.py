import numpy as np
import pytest
import trimesh

from recon.errors import EmptyGridError, InvalidGridError
from recon.metrics import f_score, surface_points, voxel_iou


def slow_iou(prediction, truth, level):
    inter = union = 0
    for p, t in zip(prediction.ravel(), truth.ravel()):
        inter += p >= level and t >= level
        union += p >= level or t >= level
    return 1.0 if union == 0 else inter / union


def slow_f_score(prediction, truth, threshold):
    def share_close(points, others):
        close = [min(np.linalg.norm(p - o) for o in others) < threshold for p in points]
        return sum(close) / len(points)

    precision, recall = share_close(prediction, truth), share_close(truth, prediction)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def test_voxel_iou_matches_slow_reference():
    rng = np.random.default_rng(1)
    for level in (0.3, 0.5, 0.8):
        prediction, truth = rng.random((32, 32, 32)), rng.random((32, 32, 32))
        assert voxel_iou(prediction, truth, level) == pytest.approx(slow_iou(prediction, truth, level))


def test_voxel_iou_known_values():
    truth = np.zeros((32, 32, 32), dtype=bool)
    truth[:16] = True
    prediction = np.zeros_like(truth)
    prediction[:8] = True
    assert voxel_iou(prediction, truth) == pytest.approx(0.5)
    assert voxel_iou(truth, truth) == 1.0
    assert voxel_iou(np.zeros_like(truth), np.zeros_like(truth)) == 1.0
    assert voxel_iou(np.zeros_like(truth), truth) == 0.0
    with pytest.raises(InvalidGridError, match="shape"):
        voxel_iou(np.zeros((32, 32, 32)), np.zeros((64, 64, 64)))


def test_f_score_matches_slow_reference():
    rng = np.random.default_rng(2)
    prediction = rng.random((200, 3)) * 0.2
    truth = rng.random((150, 3)) * 0.2
    for threshold in (0.005, 0.01, 0.03):
        assert f_score(prediction, truth, threshold) == pytest.approx(slow_f_score(prediction, truth, threshold))


def test_f_score_edge_cases():
    points = np.random.default_rng(3).random((50, 3))
    assert f_score(points, points) == 1.0
    assert f_score(points, points + 1.0) == 0.0
    assert f_score(np.empty((0, 3)), np.empty((0, 3))) == 1.0
    assert f_score(points, np.empty((0, 3))) == 0.0


def test_surface_points_lie_on_the_box_surface():
    grid = np.zeros((32, 32, 32), dtype=np.float32)
    grid[8:24, 8:24, 8:24] = 1.0  # cube of side 0.5 centred at the origin
    points = surface_points(grid, count=1000)
    assert points.shape == (1000, 3)
    # On the box's faces, or on the bevels marching cubes cuts at its edges (within a voxel).
    distance = np.abs(points).max(axis=1)
    assert (distance <= 0.25 + 1e-6).all() and (distance > 0.25 - 1 / 32).all()
    assert np.mean(distance > 0.25 - 1e-6) > 0.8
    assert np.array_equal(points, surface_points(grid, count=1000))  # default rng is seeded
    other = surface_points(grid, count=1000, rng=np.random.default_rng(5))
    assert f_score(other, points, threshold=0.05) > 0.99


def test_surface_points_from_mesh_and_empty_grid():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.4)
    points = surface_points(sphere, count=500)
    assert np.allclose(np.linalg.norm(points, axis=1), 0.4, atol=0.01)
    with pytest.raises(EmptyGridError):
        surface_points(np.zeros((32, 32, 32), dtype=np.float32))
