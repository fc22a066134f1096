"""Mirrored and stretched variants (train/data/variants.py) of an L-shaped model: a floor slab with
a post standing on its +X end, as a mesh and as its voxel grid (both canonical)."""

import numpy as np
import pytest
import trimesh

from train.data.variants import STRETCH_RANGE, draw_variant, shape_variant

N = 32
# (low corner, high corner) of each box in the canonical cube; extents (1, 1, 0.5), centred
L_BOXES = [((-0.5, -0.5, -0.25), (0.5, -0.3, 0.25)),  # slab
           ((0.3, -0.3, -0.25), (0.5, 0.5, 0.25))]  # post on the +X end


def l_mesh(boxes=L_BOXES) -> trimesh.Trimesh:
    parts = []
    for low, high in boxes:
        low, high = np.array(low), np.array(high)
        parts.append(trimesh.creation.box(extents=high - low,
                                          transform=trimesh.transformations.translation_matrix((low + high) / 2)))
    mesh = trimesh.util.concatenate(parts)
    mesh.visual.vertex_colors = np.tile([180, 120, 60, 255], (len(mesh.vertices), 1))
    return mesh


def l_grid(boxes=L_BOXES, n: int = N) -> np.ndarray:
    """bool (n, n, n): voxels whose centre lies inside a box (i along +X, j along +Y, k along +Z)."""
    centres = (np.arange(n) + 0.5) / n - 0.5
    x, y, z = np.meshgrid(centres, centres, centres, indexing="ij")
    grid = np.zeros((n, n, n), bool)
    for low, high in boxes:
        grid |= ((low[0] <= x) & (x <= high[0]) & (low[1] <= y) & (y <= high[1]) & (low[2] <= z) & (z <= high[2]))
    return grid


def occupied_span(grid: np.ndarray, axis: int) -> tuple[int, int]:
    """(first, last) occupied index along `axis`."""
    others = tuple(a for a in range(3) if a != axis)
    indices = np.flatnonzero(grid.any(axis=others))
    return int(indices[0]), int(indices[-1])


def post_side(grid: np.ndarray) -> int:
    """+1 when the upper half of the grid (the post) lies at +X, -1 at -X."""
    upper = grid[:, N // 2:, :]
    return 1 if upper[N // 2:].sum() > upper[:N // 2].sum() else -1


def test_the_fixture_is_an_asymmetric_l():
    grid = l_grid()
    assert post_side(grid) == 1 and not np.array_equal(grid, grid[::-1])
    assert occupied_span(grid, 0) == (0, N - 1) and occupied_span(grid, 1) == (0, N - 1)


def test_mirror_flips_voxels_and_vertices_along_x_together():
    mesh, grid = l_mesh(), l_grid()
    variant, voxels = shape_variant(mesh, grid, mirror=True)
    assert np.array_equal(voxels, grid[::-1])  # i runs along +X
    assert post_side(voxels) == -1
    np.testing.assert_allclose(variant.vertices, mesh.vertices * [-1, 1, 1], atol=1e-9)
    # the mesh agrees with the grid: its post (the vertices above the slab) is now at -X too
    assert variant.vertices[variant.vertices[:, 1] > 0, 0].max() < 0
    # a reflection reverses the winding; the faces are turned back so the surface still faces out
    assert variant.is_winding_consistent and variant.volume == pytest.approx(mesh.volume)
    assert len(variant.visual.vertex_colors) == len(variant.vertices)
    unchanged, same = shape_variant(mesh, grid, mirror=False)
    assert np.array_equal(same, grid) and np.allclose(unchanged.vertices, mesh.vertices)


def stretched_boxes(factors) -> list:
    return [(tuple(np.multiply(low, factors)), tuple(np.multiply(high, factors))) for low, high in L_BOXES]


@pytest.mark.parametrize("stretch,factors", [
    ((1.0, 0.8, 1.25), (1.0, 0.8, 1.25)),  # X stays the longest side: the factors apply as given
    ((0.8, 1.25, 1.0), (0.64, 1.0, 0.8)),  # Y becomes longest (1.25): everything / 1.25
])
def test_stretch_changes_proportions_and_stays_canonical(stretch, factors):
    mesh, grid = l_mesh(), l_grid()
    variant, voxels = shape_variant(mesh, grid, mirror=False, stretch=stretch)
    extents = variant.bounds[1] - variant.bounds[0]
    np.testing.assert_allclose(extents, np.multiply([1.0, 1.0, 0.5], factors), atol=1e-9)
    assert extents.max() == pytest.approx(1.0)  # the longest side spans the cube
    np.testing.assert_allclose(variant.bounds.mean(axis=0), 0, atol=1e-9)  # centred
    for axis in range(3):
        first, last = occupied_span(voxels, axis)
        assert abs((last - first + 1) - extents[axis] * N) <= 1, axis  # within a voxel
        assert abs((first + last) / 2 - (N - 1) / 2) <= 1, axis
    # the grid is the stretched shape's own grid, within a voxel at the faces
    truth = l_grid(stretched_boxes(factors))
    assert (voxels & truth).sum() / (voxels | truth).sum() > 0.85
    assert post_side(voxels) == 1


def test_stretch_and_mirror_combine():
    variant, voxels = shape_variant(l_mesh(), l_grid(), mirror=True, stretch=(1.0, 0.8, 1.25))
    assert post_side(voxels) == -1 and variant.vertices[variant.vertices[:, 1] > 0, 0].max() < 0
    truth = l_grid(stretched_boxes((1.0, 0.8, 1.25)))[::-1]
    assert (voxels & truth).sum() / (voxels | truth).sum() > 0.85


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="cube"):
        shape_variant(l_mesh(), np.zeros((32, 32, 16), bool), mirror=True)
    with pytest.raises(ValueError, match="positive"):
        shape_variant(l_mesh(), l_grid(), mirror=False, stretch=(1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="three"):
        shape_variant(l_mesh(), l_grid(), mirror=False, stretch=(1.0, 1.0))


def test_drawn_variants_are_seeded_and_in_range():
    draws = [draw_variant(np.random.default_rng(seed)) for seed in range(200)]
    again = draw_variant(np.random.default_rng(3))
    assert again[0] == draws[3][0] and np.array_equal(again[1], draws[3][1])
    factors = np.stack([stretch for _, stretch in draws])
    assert factors.shape == (200, 3)
    assert STRETCH_RANGE[0] <= factors.min() and factors.max() <= STRETCH_RANGE[1]
    assert 0.3 < np.mean([mirror for mirror, _ in draws]) < 0.7
