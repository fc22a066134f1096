"""recon/preview.py: model-input preview, resolution change, sample agreement, latent walk, pictures."""

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from recon import preview
from recon.images import PreparedImage
from recon.mesh import grid_to_mesh
from recon.models.vae import VoxelVAE
from recon.voxels import resample


def _chair_like(side: int = 32) -> np.ndarray:
    """A seat block at the bottom and one tall post at the back-left (-X, -Z): asymmetric."""
    grid = np.zeros((side, side, side), np.float32)
    s = side // 32
    grid[4 * s:28 * s, 2 * s:10 * s, 6 * s:26 * s] = 1.0
    grid[5 * s:10 * s, 10 * s:30 * s, 6 * s:11 * s] = 1.0
    return grid


def _white_pixels(picture: Image.Image) -> np.ndarray:
    return (np.asarray(picture) > 245).all(axis=2)


def test_model_input_preview_shows_crop_then_tinted_mask():
    crop = Image.new("RGB", (16, 16), (120, 60, 30))
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    prepared = PreparedImage(np.zeros((3, 16, 16), np.float32), crop, mask, (0, 0, 16, 16))
    both = np.asarray(preview.model_input_preview(prepared)).astype(int)
    assert both.shape == (16, 32, 3)
    assert (both[:, :16] == (120, 60, 30)).all()
    right = both[:, 16:]
    # Outside the mask the crop is washed out toward white; inside it gets a blue tint.
    assert (right[0, 0] > 170).all() and (right[0, 0] > (120, 60, 30)).all()
    assert right[8, 8, 2] > right[8, 8, 0]


def test_upsample_keeps_the_shape_and_range():
    grid = _chair_like()
    fine = preview.upsample_probabilities(grid, 64)
    assert fine.shape == (64, 64, 64) and fine.dtype == np.float32
    assert 0.0 <= fine.min() and fine.max() <= 1.0
    # Volume at the iso level scales by 2^3 (within the blur of one fine voxel at the surface).
    assert abs((fine >= 0.5).sum() / (grid >= 0.5).sum() / 8 - 1) < 0.1
    # Downsampled back it is the same shape again.
    assert ((resample(fine, 32) >= 0.5) == (grid >= 0.5)).mean() > 0.99


def test_resolution_change_down_and_same_and_invalid():
    fine = _chair_like(64)
    np.testing.assert_array_equal(preview.upsample_probabilities(fine, 32), resample(fine, 32))
    np.testing.assert_array_equal(preview.upsample_probabilities(fine, 64), fine)
    with pytest.raises(ValueError):
        preview.upsample_probabilities(fine, 48)


def test_sample_agreement_votes():
    full = np.ones((32, 32, 32), np.float32)
    empty = np.zeros((32, 32, 32), np.float32)
    mean, agreement = preview.sample_agreement([full, full, full])
    assert (agreement == 1).all() and (mean == 1).all()
    mean, agreement = preview.sample_agreement([full, empty])
    assert (agreement == 0).all() and np.allclose(mean, 0.5)
    _, agreement = preview.sample_agreement([full, full, full, empty])
    assert np.allclose(agreement, 0.5)
    with pytest.raises(ValueError):
        preview.sample_agreement([])


def test_color_by_agreement_marks_the_unsure_part_red():
    grid = _chair_like()
    without_post = grid.copy()
    without_post[:, 10:, :] = 0  # a second sample that has no post: the post is unsure
    mean, agreement = preview.sample_agreement([grid, grid, without_post, without_post])
    mesh = preview.color_by_agreement(grid_to_mesh(grid, smoothing=None), agreement)
    colors = mesh.visual.vertex_colors[:, :3].astype(int)
    high = mesh.vertices[:, 1] > 0.3  # vertices on the post's top
    low = mesh.vertices[:, 1] < -0.3  # vertices on the seat's bottom
    assert (colors[high, 0] - colors[high, 2]).mean() > 100  # red
    assert abs(colors[low, 0] - colors[low, 2]).mean() < 30  # grey-blue


def test_interpolate_latents_includes_both_ends():
    start, end = np.zeros(4), np.arange(4.0)
    line = preview.interpolate_latents(start, end, 5)
    assert line.shape == (5, 4)
    np.testing.assert_allclose(line[0], start)
    np.testing.assert_allclose(line[-1], end)
    np.testing.assert_allclose(line[2], end / 2)
    with pytest.raises(ValueError):
        preview.interpolate_latents(start, end, 1)


def test_vae_latent_walk_starts_and_ends_at_each_photos_reconstruction():
    torch.manual_seed(0)
    vae = VoxelVAE(image_size=64, resolution=32, latent_dim=8, feature_dim=32, base_channels=4).eval()
    rng = np.random.default_rng(0)
    photos = [PreparedImage(rng.uniform(-1, 1, (3, 64, 64)).astype(np.float32), Image.new("RGB", (64, 64)),
                            np.ones((64, 64), bool), (0, 0, 64, 64)) for _ in range(2)]
    grids = preview.vae_latent_walk(vae, photos[0], photos[1], steps=4)
    assert len(grids) == 4 and grids[0].shape == (32, 32, 32)
    ends = vae.reconstruct(torch.from_numpy(np.stack([p.pixels for p in photos]))).numpy()
    np.testing.assert_allclose(grids[0], ends[0], atol=1e-5)
    np.testing.assert_allclose(grids[-1], ends[1], atol=1e-5)
    assert not np.allclose(grids[1], grids[0])


def test_render_view_is_upright_and_front_facing():
    mesh = grid_to_mesh(_chair_like(), smoothing=None)
    picture = preview.render_view(mesh, size=128, azimuth_deg=0, elevation_deg=0)
    occupied = ~_white_pixels(picture)
    rows, cols = np.nonzero(occupied)
    top = rows < rows.min() + 10  # the post's top: it stands up, on the viewer's left (-X)
    assert cols[top].max() < 64
    assert occupied.sum() > 0.1 * 128 * 128
    # Turned by 90 degrees the viewer sees the right side: the post (at the back, -Z) is on the right.
    side = ~_white_pixels(preview.render_view(mesh, size=128, azimuth_deg=90, elevation_deg=0))
    rows, cols = np.nonzero(side)
    assert cols[rows < rows.min() + 10].min() > 64
    # Lit, not dark: the object's mean brightness stays well above black.
    assert np.asarray(picture)[occupied].mean() > 80


def test_turntable_morph_and_gif(tmp_path):
    boxes = [trimesh.creation.box((side, 0.5, 0.3)) for side in (0.2, 0.4, 0.6, 0.8)]
    frames = preview.turntable_frames(boxes, frames=4, size=64, elevation_deg=0, turns=0.1)
    assert len(frames) == 4 and frames[0].size == (64, 64)
    assert (~_white_pixels(frames[0])).sum() < (~_white_pixels(frames[-1])).sum()
    path = preview.save_gif(frames, tmp_path / "walk.gif", bounce=True)
    with Image.open(path) as gif:
        assert gif.n_frames == 6  # 4 forward, 2 back (the ends are not repeated)
    with pytest.raises(ValueError):
        preview.turntable_frames([], frames=4)


def test_strip_and_corners():
    pictures = [Image.new("RGB", (20, 10), (0, 0, 0)) for _ in range(3)]
    assert preview.strip_image(pictures, ["a", "b", "c"]).size == (60, 10)
    scene = Image.new("RGB", (200, 100), (255, 255, 255))
    corners = [(20, 20), (180, 20), (180, 80), (20, 80)]
    marked = np.asarray(preview.draw_corners(scene, corners))
    for x, y in corners:
        assert marked[y, x, 0] > 200 and marked[y, x, 1] < 100  # a red dot on each corner
    assert marked[20, 100].tolist() != [255, 255, 255]  # the outline joins them
    two = np.asarray(preview.draw_corners(scene, corners[:2]))
    assert two[80, 100].tolist() == [255, 255, 255]  # no closing line before four corners
