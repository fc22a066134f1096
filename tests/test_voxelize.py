import numpy as np
import pytest
import trimesh

from train.data.voxelize import fill_ratio, surface_voxels, voxelize_mesh

D = 128


def centres_inside(boxes) -> np.ndarray:
    """Slow obvious reference: voxel centres strictly inside the union of axis-aligned boxes."""
    c = (np.arange(D) + 0.5) / D - 0.5
    x, y, z = np.meshgrid(c, c, c, indexing="ij")
    grid = np.zeros((D, D, D), dtype=bool)
    for low, high in boxes:
        grid |= (x > low[0]) & (x < high[0]) & (y > low[1]) & (y < high[1]) & (z > low[2]) & (z < high[2])
    return grid


def box(low, high) -> trimesh.Trimesh:
    low, high = np.asarray(low), np.asarray(high)
    return trimesh.creation.box(extents=high - low, transform=trimesh.transformations.translation_matrix((low + high) / 2))


L_PARTS = [((-0.4, -0.45, -0.3), (0.1, 0.45, 0.3)), ((-0.4, -0.45, -0.3), (0.42, -0.1, 0.3))]


def l_shape() -> trimesh.Trimesh:
    outline = np.array([(-0.4, -0.45), (0.42, -0.45), (0.42, -0.1), (0.1, -0.1), (0.1, 0.45), (-0.4, 0.45)])
    mesh = trimesh.creation.extrude_triangulation(outline, np.array([(0, 1, 2), (0, 2, 3), (0, 3, 5), (3, 4, 5)]), 0.6)
    mesh.apply_translation((0, 0, -0.3))
    return mesh


@pytest.mark.parametrize("low, high", [((-0.5,) * 3, (0.5,) * 3), ((-0.31, -0.2, -0.123), (0.333, 0.4, 0.27))])
def test_cube_is_exact(low, high):
    grid = voxelize_mesh(box(low, high))
    assert grid.shape == (D, D, D) and grid.dtype == bool
    np.testing.assert_array_equal(grid, centres_inside([(low, high)]))


def test_l_shape_is_exact_and_keeps_its_concave_corner():
    mesh = l_shape()
    assert mesh.is_watertight
    expected = centres_inside(L_PARTS)
    grid = voxelize_mesh(mesh)
    np.testing.assert_array_equal(grid, expected)
    # the notch (upper right, x > 0.1 and y > -0.1) stays empty
    assert not grid[80:, 70:, :].any()


def test_overlapping_parts_are_a_union_not_a_parity():
    mesh = trimesh.util.concatenate([box(*part) for part in L_PARTS])
    np.testing.assert_array_equal(voxelize_mesh(mesh), centres_inside(L_PARTS))


def test_open_box_missing_one_face_fills_solid():
    cube = box((-0.3,) * 3, (0.3,) * 3)
    open_box = trimesh.Trimesh(cube.vertices, cube.faces[cube.face_normals[:, 1] < 0.5])  # no top
    assert not open_box.is_watertight
    np.testing.assert_array_equal(voxelize_mesh(open_box), centres_inside([((-0.3,) * 3, (0.3,) * 3)]))


def test_inverted_normals_give_the_same_solid():
    cube = box((-0.3,) * 3, (0.2,) * 3)
    cube.invert()
    np.testing.assert_array_equal(voxelize_mesh(cube), centres_inside([((-0.3,) * 3, (0.2,) * 3)]))


def test_single_sided_plane_becomes_one_voxel_sheet():
    plane = trimesh.Trimesh([[-0.4, 0.1, -0.4], [0.4, 0.1, -0.4], [0.4, 0.1, 0.4], [-0.4, 0.1, 0.4]], [[0, 1, 2], [0, 2, 3]])
    grid = voxelize_mesh(plane)
    layers = np.unique(np.nonzero(grid)[1])
    assert layers.tolist() == [int((0.1 + 0.5) * D)]
    assert grid.sum() == 104 * 104  # the plane spans 0.8 of 128 voxels (102.4 -> 104 touched columns)


def test_hollow_shell_with_small_gap_is_filled_but_open_shelves_are_not():
    # a closed cabinet made of 2-voxel-thick boards with a 2-voxel gap under the top (sealed)
    t, g = 2 / D, 2 / D
    boards = [((-0.3, -0.3, -0.3), (0.3, -0.3 + t, 0.3)), ((-0.3, 0.3 - t, -0.3), (0.3, 0.3, 0.3)),
              ((-0.3, -0.3, -0.3), (-0.3 + t, 0.3 - t - g, 0.3)), ((0.3 - t, -0.3, -0.3), (0.3, 0.3, 0.3)),
              ((-0.3, -0.3, -0.3), (0.3, 0.3, -0.3 + t)), ((-0.3, -0.3, 0.3 - t), (0.3, 0.3, 0.3))]
    closed = voxelize_mesh(trimesh.util.concatenate([box(*b) for b in boards]))
    assert closed[64, 64, 64]
    shelves = voxelize_mesh(trimesh.util.concatenate([box(*b) for b in boards[:5]]))  # no front
    assert not shelves[64, 64, 64:100].any() and shelves[64, 64, 26]  # open at the front, back board solid


def test_surface_voxels_cover_a_sliver_triangle():
    sliver = np.array([[[-0.45, 0.0, 0.0], [0.45, 0.001, 0.0], [0.0, 0.0003, 0.0]]])
    grid = surface_voxels(sliver, D)
    assert grid[:, 64, 64].sum() >= 115  # covers its length, 0.9 of the cube
    assert grid.sum() < 140


def test_fill_ratio_and_empty_mesh():
    assert fill_ratio(np.ones((4, 4, 4), dtype=bool)) == 1.0
    with pytest.raises(ValueError):
        voxelize_mesh(trimesh.Trimesh())
