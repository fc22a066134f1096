import json
import struct

import numpy as np
import pytest
import trimesh

from recon.errors import EmptyGridError, InvalidMeshError
from recon.mesh import export_mesh, grid_to_mesh, load_mesh


def box_grid(side=32):
    grid = np.zeros((side, side, side), dtype=np.float32)
    grid[8:24, 4:28, 8:24] = 1.0  # box 16 x 24 x 16 voxels
    return grid


def glb_json(path):
    data = path.read_bytes()
    length = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20 : 20 + length])


def test_box_lands_on_voxel_boundaries_with_outward_normals():
    mesh = grid_to_mesh(box_grid(), smoothing=None, color_by_confidence=False)
    assert np.allclose(mesh.bounds, [[-0.25, -0.375, -0.25], [0.25, 0.375, 0.25]], atol=1e-6)
    assert mesh.is_watertight and mesh.volume > 0
    top = mesh.face_normals[mesh.triangles_center[:, 1] > 0.374]
    assert len(top) and np.allclose(top.mean(axis=0), [0, 1, 0], atol=1e-6)
    front = mesh.face_normals[mesh.triangles_center[:, 2] > 0.249]
    assert np.allclose(front.mean(axis=0), [0, 0, 1], atol=1e-6)


def test_grid_touching_the_border_is_closed():
    mesh = grid_to_mesh(np.ones((32, 32, 32), dtype=np.float32), smoothing=None)
    assert mesh.is_watertight
    assert np.allclose(mesh.bounds, [[-0.5] * 3, [0.5] * 3], atol=1e-6)


@pytest.mark.parametrize("smoothing", ["taubin", "laplacian"])
def test_smoothing_keeps_size_and_orientation(smoothing):
    mesh = grid_to_mesh(box_grid(), smoothing=smoothing)
    assert mesh.volume > 0
    assert np.allclose(mesh.bounds, [[-0.25, -0.375, -0.25], [0.25, 0.375, 0.25]], atol=0.04)


def test_tiny_floaters_are_removed():
    grid = box_grid()
    grid[1, 1, 1] = 1.0  # a speck far from the box
    assert len(grid_to_mesh(grid, smoothing=None).split(only_watertight=False)) == 1
    kept = grid_to_mesh(grid, smoothing=None, min_component_fraction=0.0)
    assert len(kept.split(only_watertight=False)) == 2


def test_empty_grid_raises():
    with pytest.raises(EmptyGridError, match="no voxel reaches level 0.5"):
        grid_to_mesh(np.full((32, 32, 32), 0.4, dtype=np.float32))


def test_confidence_colours_follow_probability():
    grid = np.zeros((32, 32, 32), dtype=np.float32)
    grid[4:14, 4:14, 4:14] = 0.55  # unsure box on the left
    grid[18:28, 4:14, 4:14] = 1.0  # sure box on the right
    mesh = grid_to_mesh(grid, smoothing=None, min_component_fraction=0.0)
    colors = mesh.visual.vertex_colors.astype(int)
    left, right = colors[mesh.vertices[:, 0] < -0.1], colors[mesh.vertices[:, 0] > 0.1]
    # Sure parts are a deeper warm colour (less blue) than unsure ones.
    assert left[:, 2].mean() > right[:, 2].mean() + 50
    grey = grid_to_mesh(grid, color_by_confidence=False).visual.vertex_colors
    assert (grey[:, :3] == 200).all()


@pytest.mark.parametrize("suffix", [".glb", ".obj", ".stl", ".ply"])
def test_export_formats_read_back_with_same_bounds(tmp_path, suffix):
    mesh = grid_to_mesh(box_grid())
    path = export_mesh(mesh, tmp_path / f"chair{suffix}")
    loaded = load_mesh(path)
    assert np.allclose(loaded.bounds, mesh.bounds, atol=1e-5)
    assert len(loaded.faces) == len(mesh.faces)
    assert loaded.volume > 0


def test_glb_keeps_colours_normals_and_a_lit_material(tmp_path):
    mesh = grid_to_mesh(box_grid())
    path = export_mesh(mesh, tmp_path / "chair.glb")
    tree = glb_json(path)
    attributes = tree["meshes"][0]["primitives"][0]["attributes"]
    assert {"POSITION", "NORMAL", "COLOR_0"} <= set(attributes)
    material = tree["materials"][tree["meshes"][0]["primitives"][0]["material"]]["pbrMetallicRoughness"]
    assert material["metallicFactor"] == 0  # glTF defaults to metal, which renders dark
    assert material["roughnessFactor"] >= 0.5 and material["baseColorFactor"] == [1, 1, 1, 1]
    loaded = load_mesh(path)
    assert np.array_equal(loaded.visual.vertex_colors, mesh.visual.vertex_colors)


def test_export_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=".fbx"):
        export_mesh(grid_to_mesh(box_grid()), tmp_path / "a.fbx")


def test_load_mesh_errors(tmp_path):
    with pytest.raises(InvalidMeshError, match="not found"):
        load_mesh(tmp_path / "missing.glb")
    (tmp_path / "empty.obj").write_text("")
    with pytest.raises(InvalidMeshError, match="empty"):
        load_mesh(tmp_path / "empty.obj")
    (tmp_path / "text.glb").write_text("hello, not a mesh")
    with pytest.raises(InvalidMeshError, match="text.glb"):
        load_mesh(tmp_path / "text.glb")
    (tmp_path / "points.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    with pytest.raises(InvalidMeshError, match="no triangles"):
        load_mesh(tmp_path / "points.obj")
    path = export_mesh(trimesh.creation.icosphere(subdivisions=3), tmp_path / "sphere.stl")
    with pytest.raises(InvalidMeshError, match="1,280 faces"):
        load_mesh(path, max_faces=1000)


def test_scene_is_flattened(tmp_path):
    scene = trimesh.Scene([trimesh.creation.box(), trimesh.creation.box().apply_translation([3, 0, 0])])
    path = tmp_path / "scene.glb"
    scene.export(path)
    mesh = load_mesh(path)
    assert isinstance(mesh, trimesh.Trimesh) and len(mesh.faces) == 24
    assert mesh.bounds[1][0] == pytest.approx(3.5)


def test_surface_cleaning_keeps_thin_legs_and_stays_closed():
    from recon.preview import upsample_probabilities

    grid = np.zeros((32, 32, 32), dtype=np.float32)
    grid[6:26, 14:17, 6:26] = 1.0  # a table top
    for i in (6, 25):
        for k in (6, 25):
            grid[i, 2:14, k] = 1.0  # legs one voxel thin
    fine = upsample_probabilities(grid, 64)  # the app's default: 64 from the model's 32
    mesh = grid_to_mesh(fine)
    low = mesh.vertices[mesh.vertices[:, 1] < -0.3]
    # Each leg reaches (nearly) the floor of the grid: four separate feet.
    corners = {(x > 0, z > 0) for x, z in low[:, [0, 2]]}
    assert corners == {(False, False), (False, True), (True, False), (True, True)}
    assert mesh.vertices[:, 1].min() < -0.4
    assert mesh.is_watertight and mesh.volume > 0


def test_surface_cleaning_decimates_to_the_face_budget():
    rng = np.random.default_rng(0)
    grid = scipy_blur(rng.random((64, 64, 64)).astype(np.float32))
    mesh = grid_to_mesh(grid, max_faces=5000)
    assert len(mesh.faces) <= 5000 and len(mesh.visual.vertex_colors) == len(mesh.vertices)
    assert len(grid_to_mesh(grid, max_faces=None).faces) > 5000


def scipy_blur(noise):
    import scipy.ndimage

    blurred = scipy.ndimage.gaussian_filter(noise, 4)
    return ((blurred - blurred.min()) / np.ptp(blurred)).astype(np.float32)
