import numpy as np
import pytest
import scipy.io

from recon.errors import EmptyGridError, InvalidGridError
from recon.mesh import grid_to_mesh
from recon.voxels import (
    as_grid,
    index_to_position,
    load_mat,
    load_npy,
    load_pix3d_voxel,
    normalize_to_canonical,
    pix3d_to_canonical,
    resample,
    save_mat,
    save_npy,
    threshold,
)


def l_shape(side=32):
    """An upright post (tall in +Y) on a base, with a bump at +Z and a marker at +X.

    Occupied in our convention: post i 12..19, j 2..29, k 12..19; base along +X; a bump toward the
    front (+Z) near the top; so every axis and sign is distinguishable.
    """
    grid = np.zeros((side, side, side), dtype=bool)
    grid[12:20, 2:30, 12:20] = True  # post, tall in Y
    grid[12:30, 2:6, 12:20] = True  # foot reaching +X
    grid[14:18, 24:28, 20:26] = True  # bump toward the front (+Z), high up
    return grid


def to_pix3d(ours):
    """Slow, obvious inverse of the documented Pix3D convention: pix[a, b, c] with a = left
    (-X), b = out toward the viewer (+Z), c = up (+Y)."""
    side = ours.shape[0]
    pix = np.zeros_like(ours)
    for i, j, k in np.argwhere(ours):
        pix[side - 1 - i, k, j] = True
    return pix


def test_as_grid_validates():
    assert as_grid(np.ones((32, 32, 32), dtype=bool)).dtype == np.float32
    with pytest.raises(InvalidGridError, match="cube"):
        as_grid(np.zeros((32, 32, 16)))
    with pytest.raises(InvalidGridError, match="not one of"):
        as_grid(np.zeros((16, 16, 16)))
    with pytest.raises(InvalidGridError, match="NaN"):
        as_grid(np.full((32, 32, 32), np.nan))
    with pytest.raises(InvalidGridError, match=r"\[0, 1\]"):
        as_grid(np.full((32, 32, 32), 2.0))


def test_threshold_level():
    grid = np.array([0.2, 0.5, 0.7]).reshape(1, 1, 3)
    assert threshold(grid).tolist() == [[[False, True, True]]]
    assert threshold(grid, 0.6).tolist() == [[[False, False, True]]]


def test_index_to_position_voxel_centres():
    assert np.allclose(index_to_position([0, 0, 0], 32), [-0.5 + 1 / 64] * 3)
    assert np.allclose(index_to_position([[31, 16, 0]], 32), [[0.5 - 1 / 64, 1 / 64, -0.5 + 1 / 64]])


def test_resample_any_pooling_keeps_thin_leg():
    grid = np.zeros((128, 128, 128), dtype=bool)
    grid[5, :, 77] = True  # a leg one voxel thin
    coarse = resample(grid, 32)
    assert coarse.shape == (32, 32, 32) and coarse.dtype == np.float32
    assert coarse[1, :, 19].all() and coarse.sum() == 32


def test_resample_max_pools_probabilities_and_upsamples_nearest():
    grid = np.zeros((64, 64, 64), dtype=np.float32)
    grid[0, 0, 0], grid[1, 1, 1] = 0.3, 0.9
    assert resample(grid, 32)[0, 0, 0] == pytest.approx(0.9)
    small = np.random.default_rng(0).random((32, 32, 32)).astype(np.float32)
    big = resample(small, 128)
    assert big.shape == (128,) * 3 and big[4 * 7 + 3, 4 * 9, 4 * 31 + 2] == small[7, 9, 31]
    assert np.array_equal(resample(big, 32), small)
    with pytest.raises(InvalidGridError):
        resample(np.zeros((64, 64, 64)), 48)


def test_normalize_to_canonical_centres_and_fills():
    grid = np.zeros((32, 32, 32), dtype=bool)
    grid[0:8, 0:4, 0:2] = True  # a small box in a corner
    result = normalize_to_canonical(grid)
    occupied = np.argwhere(result)
    low, high = occupied.min(axis=0), occupied.max(axis=0) + 1
    assert (low[0], high[0]) == (0, 32)  # longest side spans the grid
    assert abs((low[1] + high[1]) / 2 - 16) <= 0.5 and abs((low[2] + high[2]) / 2 - 16) <= 0.5
    assert high[1] - low[1] == 16 and high[2] - low[2] == 8  # proportions kept
    with pytest.raises(EmptyGridError):
        normalize_to_canonical(np.zeros((32, 32, 32)))


def test_npy_and_mat_round_trips_keep_asymmetric_shape(tmp_path):
    grid = l_shape().astype(np.float32) * 0.8
    assert np.array_equal(load_npy(save_npy(tmp_path / "g.npy", grid)), grid)
    loaded = load_mat(save_mat(tmp_path / "g.mat", grid))
    assert np.array_equal(loaded, l_shape().astype(np.float32))
    raw = scipy.io.loadmat(tmp_path / "g.mat")["voxel"]
    assert raw.dtype == np.uint8 and np.array_equal(raw, l_shape().astype(np.uint8))


def test_load_errors(tmp_path):
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(InvalidGridError, match="cannot read"):
        load_npy(tmp_path / "bad.npy")
    scipy.io.savemat(tmp_path / "other.mat", {"grid": np.zeros((32, 32, 32), np.uint8)})
    with pytest.raises(InvalidGridError, match="no 'voxel'"):
        load_mat(tmp_path / "other.mat")


def test_pix3d_conversion_on_asymmetric_shape(tmp_path):
    ours = normalize_to_canonical(l_shape(128))
    pix = to_pix3d(ours)
    # Pix3D's frame for this shape: its foot runs toward -a (our +X is Pix3D's left, -a), the
    # post rises along c and the bump sticks out along +b.
    scipy.io.savemat(tmp_path / "voxel.mat", {"voxel": pix.astype(np.uint8)})
    assert np.array_equal(load_pix3d_voxel(tmp_path / "voxel.mat"), ours)
    assert np.array_equal(pix3d_to_canonical(pix), ours)


def test_pix3d_shape_reaches_mesh_with_y_up_and_front_plus_z(tmp_path):
    pix = to_pix3d(l_shape(128))
    scipy.io.savemat(tmp_path / "voxel.mat", {"voxel": pix.astype(np.uint8)})
    grid = resample(load_pix3d_voxel(tmp_path / "voxel.mat"), 32)
    mesh = grid_to_mesh(grid, smoothing=None)
    vertices = mesh.vertices
    assert vertices[:, 1].max() > 0.45 and vertices[:, 0].max() > 0.3  # tall in +Y, foot at +X
    bump = vertices[vertices[:, 2] > 0.1]
    assert len(bump) and bump[:, 1].min() > 0.25  # only the high bump reaches the front
    back = vertices[vertices[:, 2] < -0.1]
    assert back[:, 1].min() < -0.4  # the back is the full-height post
