"""recon.render: silhouettes, depth and shading of the embree renderer against slow references."""

import cv2
import numpy as np
import pytest
import trimesh

from recon.render import render_mesh

K = np.array([[120.0, 0.0, 39.5], [0.0, 120.0, 29.5], [0.0, 0.0, 1.0]])
SIZE = (80, 60)


def coloured(mesh, rgb):
    mesh.visual.vertex_colors = np.tile([*rgb, 255], (len(mesh.vertices), 1))
    return mesh


def brute_force_depth(mesh, K, R, t, size):
    """Nearest hit depth per pixel centre by testing every ray against every triangle."""
    width, height = size
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    rays = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)], 1) @ np.linalg.inv(K).T
    triangles = (np.asarray(mesh.vertices) @ R.T + t)[mesh.faces]  # (F, 3, 3)
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e1, e2 = b - a, c - a
    depth = np.full(len(rays), np.inf)
    for ray_index, d in enumerate(rays):  # Moller-Trumbore, origin at the camera centre
        p = np.cross(d, e2)
        det = np.sum(e1 * p, 1)
        ok = np.abs(det) > 1e-12
        s = -a
        u = np.sum(s * p, 1) / np.where(ok, det, 1)
        q = np.cross(s, e1)
        v = (q @ d) / np.where(ok, det, 1)
        distance = np.sum(e2 * q, 1) / np.where(ok, det, 1)
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (distance > 0)
        if hit.any():
            depth[ray_index] = distance[hit].min()  # rays have z = 1, so distance is depth
    return depth.reshape(height, width)


def test_depth_matches_brute_force_ray_casting():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.6)
    R = cv2.Rodrigues(np.array([0.3, -0.5, 0.2]))[0]
    t = np.array([0.1, -0.05, 3.0])
    rendering = render_mesh(sphere, K, R, t, SIZE, antialias=False)
    expected = brute_force_depth(sphere, K, R, t, SIZE)
    assert np.array_equal(np.isfinite(rendering.depth), np.isfinite(expected))
    both = np.isfinite(expected)
    assert np.abs(rendering.depth[both] - expected[both]).max() < 1e-4
    assert np.array_equal(rendering.alpha > 0, both)


def test_silhouette_matches_filled_projected_triangles():
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.8))
    R = cv2.Rodrigues(np.array([0.4, 0.6, 0.1]))[0]
    t = np.array([0.0, 0.0, 3.5])
    # 4x the usual size, so one-pixel rounding differences on the edge do not dominate.
    big_K = np.diag([4.0, 4.0, 1.0]) @ K
    big_K[:2, 2] += 1.5
    big_size = (SIZE[0] * 4, SIZE[1] * 4)
    alpha = render_mesh(box, big_K, R, t, big_size).alpha
    pixels, _ = cv2.projectPoints(np.asarray(box.vertices), cv2.Rodrigues(R)[0], t, big_K, None)
    mask = np.zeros(big_size[::-1], np.uint8)
    for triangle in np.round(pixels.reshape(-1, 2)[box.faces] * 16).astype(np.int32):
        cv2.fillPoly(mask, [triangle], 1, shift=4)
    inside = mask.astype(bool)
    assert ((alpha > 0.5) & inside).sum() / ((alpha > 0.5) | inside).sum() > 0.95


def test_antialiasing_gives_fractional_edges_only_on_the_silhouette():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    R = cv2.Rodrigues(np.array([0.0, 0.0, 0.3]))[0]
    t = np.array([0.0, 0.0, 4.0])
    smooth = render_mesh(box, K, R, t, SIZE).alpha
    hard = render_mesh(box, K, R, t, SIZE, antialias=False).alpha
    assert set(np.unique(hard)) <= {0.0, 1.0}
    partial = (smooth > 0) & (smooth < 1)
    assert partial.sum() > 20
    interior = cv2.erode((hard > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert not (partial & interior).any()
    assert abs(smooth.sum() - hard.sum()) < 0.05 * hard.sum()  # coverage is unbiased


def test_near_object_hides_far_one_and_colours_come_from_vertices():
    near = coloured(trimesh.creation.box(extents=(0.5, 0.5, 0.5)), (255, 0, 0))
    far = coloured(
        trimesh.creation.box(
            extents=(2.0, 2.0, 0.1), transform=trimesh.transformations.translation_matrix((0, 0, 2))
        ),
        (0, 0, 255),
    )
    scene = trimesh.util.concatenate([near, far])
    rendering = render_mesh(scene, K, np.eye(3), np.array([0.0, 0.0, 3.0]), SIZE, ambient=1.0)
    centre = rendering.colour[29, 39]
    assert rendering.depth[29, 39] == pytest.approx(2.75, abs=1e-4)
    assert centre[0] > 0.99 and centre[2] < 0.01
    assert rendering.colour[10, 39][2] > 0.99  # the far board shows around the near box
    assert rendering.depth[10, 39] == pytest.approx(4.95, abs=1e-3)


def test_lambert_shading_follows_the_light():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))  # no colours: neutral grey 0.75
    t = np.array([0.0, 0.0, 4.0])  # the camera faces the box's -Z face head-on
    for light, intensity in [
        ((0, 0, -1), 1.0),
        ((1, 0, -1), 0.35 + 0.65 / np.sqrt(2)),
        ((1, 0, 0), 0.35),
        ((0, 0, 1), 0.35),
    ]:
        rendering = render_mesh(box, K, np.eye(3), t, SIZE, light_direction=light, smooth=False)
        assert rendering.colour[29, 39] == pytest.approx([0.75 * intensity] * 3, abs=1e-5)
    headlight = render_mesh(box, K, np.eye(3), t, SIZE, smooth=False)
    assert headlight.colour[29, 39] == pytest.approx([0.75] * 3, abs=1e-5)


def test_nothing_visible_gives_an_empty_rendering():
    box = trimesh.creation.box()
    behind = render_mesh(box, K, np.eye(3), np.array([0.0, 0.0, -5.0]), SIZE)
    aside = render_mesh(box, K, np.eye(3), np.array([50.0, 0.0, 5.0]), SIZE)
    empty = render_mesh(trimesh.Trimesh(), K, np.eye(3), np.zeros(3), SIZE)
    for rendering in (behind, aside, empty):
        assert rendering.alpha.shape == (60, 80) and rendering.alpha.max() == 0
        assert np.isinf(rendering.depth).all()
