import dataclasses

import numpy as np
import pytest

from scipy import ndimage

from train.data.procedural import (CATEGORIES, STYLES, Furniture, Part, _rotation_y_to, furniture_bounds,
                                   furniture_mesh, furniture_voxels, generate)

IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _box(center, size, rotation=IDENTITY, shape="box"):
    return Part(shape, center, size, rotation, (200, 100, 50), "wood")


def _reference_voxels(f: Furniture, resolution: int, step: int) -> np.ndarray:
    """Slow, obvious reference: every `step`-th voxel centre against every part, no index boxes."""
    from train.data.procedural import canonical_transform
    centre, scale = canonical_transform(f)
    axis = ((np.arange(resolution) + 0.5) / resolution - 0.5)[::step]
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    points = points / scale + centre  # back to metres
    inside = np.zeros(len(points), bool)
    for part in f.parts:
        local = (points - np.array(part.center)) @ np.array(part.rotation)
        half = np.array(part.size) / 2
        if part.shape == "box":
            inside |= np.all(np.abs(local) <= half, axis=1)
        else:
            inside |= (((local[:, 0] / half[0]) ** 2 + (local[:, 2] / half[2]) ** 2 <= 1)
                       & (np.abs(local[:, 1]) <= half[1]))
    return inside.reshape((len(axis),) * 3)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_generates_in_the_canonical_frame(category):
    for seed in range(3):
        furniture = generate(category, np.random.default_rng(seed))
        assert furniture.category == category and len(furniture.parts) >= 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            furniture.category = "x"
        grid = furniture_voxels(furniture, 128)
        occupied = np.argwhere(grid)
        low, high = occupied.min(0), occupied.max(0) + 1
        assert (high - low).max() == 128  # longest side spans the grid
        assert np.all(np.abs(low + high - 128) <= 1)  # box centred
        mesh = furniture_mesh(furniture)
        assert mesh.bounds.min() >= -0.5 - 1e-9 and mesh.bounds.max() <= 0.5 + 1e-9
        assert np.ptp(mesh.bounds, axis=0).max() > 0.97  # inscribed cylinders lose a little
        assert len(mesh.visual.vertex_colors) == len(mesh.vertices)


@pytest.mark.parametrize("category", CATEGORIES)
def test_generator_varies_proportions_and_part_counts(category):
    rng = np.random.default_rng(7)
    draws = [generate(category, rng) for _ in range(20)]
    part_counts = {len(f.parts) for f in draws}
    shapes = {tuple(np.round(np.ptp(furniture_mesh(f).bounds, axis=0), 2)) for f in draws}
    assert len(part_counts) >= 4
    assert len(shapes) >= 18


def test_voxels_match_slow_reference_for_tilted_parts():
    strut_rotation = tuple(map(tuple, _rotation_y_to(np.array([0.3, 1.0, -0.2]) / np.linalg.norm([0.3, 1.0, -0.2]))))
    furniture = Furniture("table", (
        _box((0.0, 0.7, 0.0), (1.0, 0.04, 0.6)),
        _box((0.3, 0.35, 0.1), (0.05, 0.7, 0.05), strut_rotation, shape="cylinder"),
        _box((-0.3, 0.35, -0.1), (0.04, 0.7, 0.04), strut_rotation),
    ))
    assert np.array_equal(furniture_voxels(furniture, 128)[::3, ::3, ::3], _reference_voxels(furniture, 128, 3))


def test_oval_cylinder_voxels_match_reference_and_bounds():
    # An elliptic top 1.6 x 0.9 m, and a tilted oval bar: exact bounds and voxels as the reference.
    tilt = tuple(map(tuple, _rotation_y_to(np.array([0.6, 0.8, 0.0]))))
    furniture = Furniture("table", (_box((0.0, 0.73, 0.0), (1.6, 0.03, 0.9), shape="cylinder"),
                                    _box((0.2, 0.3, 0.1), (0.2, 0.5, 0.08), tilt, shape="cylinder")))
    lo, hi = furniture_bounds(furniture)
    assert np.allclose([lo[0], hi[0], lo[2], hi[2]], [-0.8, 0.8, -0.45, 0.45])
    assert np.array_equal(furniture_voxels(furniture, 128)[::3, ::3, ::3], _reference_voxels(furniture, 128, 3))
    top = furniture_voxels(Furniture("table", furniture.parts[:1]), 128)
    assert abs(top.any(axis=1).sum() / 128 ** 2 - np.pi / 4 * 0.9 / 1.6) < 0.01  # ellipse area share


def test_known_box_has_exact_voxel_count():
    # 1.0 x 0.5 x 0.25 box: at 32^3 it spans 32 x 16 x 8 voxels exactly.
    grid = furniture_voxels(Furniture("bed", (_box((0, 0.25, 0), (1.0, 0.5, 0.25)),)), 32)
    assert grid.sum() == 32 * 16 * 8
    occupied = np.argwhere(grid)
    assert occupied[:, 1].min() == 8 and occupied[:, 2].min() == 12


def test_thin_leg_survives_downsampling():
    # A leg 1 cm thick under a 1 m top: less than a voxel at 32^3, kept by any-pooling.
    furniture = Furniture("table", (_box((0, 0.98, 0), (1.0, 0.04, 1.0)), _box((0.3, 0.5, 0.3), (0.01, 0.96, 0.01))))
    grid = furniture_voxels(furniture, 32)
    leg_column = grid[int((0.3 + 0.5) * 32), :, int((0.3 + 0.5) * 32)]
    assert leg_column.all()


def test_front_faces_plus_z_and_up_is_plus_y():
    rng = np.random.default_rng(3)
    for _ in range(5):
        chair = furniture_voxels(generate("chair", rng), 32)
        top = chair[:, 24:, :]  # the back rises above the seat at the chair's rear (-Z)
        assert np.argwhere(top)[:, 2].mean() < 16
        bed = furniture_voxels(generate("bed", rng), 32)
        tall = bed[:, 12:, :]  # the headboard stands at the rear of the bed
        assert np.argwhere(tall)[:, 2].mean() < 16


def test_unknown_category_raises():
    with pytest.raises(ValueError, match="unknown category"):
        generate("lamp", np.random.default_rng(0))
    with pytest.raises(ValueError, match="divide"):
        furniture_voxels(generate("bed", np.random.default_rng(0)), 48)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_style_is_drawn(category):
    rng = np.random.default_rng(11)
    drawn = {generate(category, rng).style for _ in range(300)}
    assert drawn == set(STYLES[category])


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_seed_gives_identical_furniture(category):
    seed = (5, CATEGORIES.index(category), 17)  # as train.data.generate seeds model 17
    first = generate(category, np.random.default_rng(seed))
    assert first == generate(category, np.random.default_rng(seed))
    assert first != generate(category, np.random.default_rng((5, CATEGORIES.index(category), 18)))


@pytest.mark.parametrize("category", CATEGORIES)
def test_pieces_stand_on_the_floor_in_one_piece_and_mesh_matches_voxels(category):
    for index in range(25):
        furniture = generate(category, np.random.default_rng((0, CATEGORIES.index(category), index)))
        lo, _ = furniture_bounds(furniture)
        assert abs(lo[1]) < 0.01, (furniture.style, index, lo[1])  # feet on y = 0, nothing below
        grid = furniture_voxels(furniture, 64)
        _, components = ndimage.label(grid, np.ones((3, 3, 3)))
        assert components == 1, (furniture.style, index)  # no floating parts
        occupied = np.argwhere(grid)
        low, high = occupied.min(0) / 64 - 0.5, (occupied.max(0) + 1) / 64 - 0.5
        vertices = furniture_mesh(furniture).vertices
        # voxels are decided at voxel centres of the 128^3 grid: a tilted part's corner may pass
        # up to one fine voxel beyond the last occupied one
        assert np.all(vertices >= low - 1 / 128) and np.all(vertices <= high + 1 / 128)
