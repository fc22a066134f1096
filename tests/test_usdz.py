"""recon.usdz and recon.sizes: a USDZ that reads back Y up, in metres, at the size asked."""

import numpy as np
import pytest
import trimesh

from recon.errors import InvalidMeshError
from recon.mesh import grid_to_mesh
from recon.sizes import TYPICAL_LONGEST_SIDE_M, size_m
from recon.usdz import export_usdz

pxr = pytest.importorskip("pxr")
from pxr import Usd, UsdGeom  # noqa: E402


def chair_grid():
    grid = np.zeros((32, 32, 32), np.float32)
    grid[8:24, 0:32, 10:22] = 1.0  # 16 wide, 32 high, 12 deep voxels
    return grid


def coloured_mesh():
    mesh = grid_to_mesh(chair_grid(), smoothing=None)
    colors = np.tile([200, 30, 30, 255], (len(mesh.vertices), 1)).astype(np.uint8)
    colors[mesh.vertices[:, 0] > 0] = [30, 30, 200, 255]
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colors)
    return mesh


def test_size_follows_the_category_or_the_user():
    width, height, depth = size_m(chair_grid(), "chair")
    assert height == pytest.approx(TYPICAL_LONGEST_SIDE_M["chair"])
    assert (width, depth) == pytest.approx((0.45, 0.3375))
    assert size_m(coloured_mesh(), "chair", longest_side_m=1.0)[1] == pytest.approx(1.0)
    assert max(size_m(chair_grid(), None)) == pytest.approx(1.2)  # no category: the default
    with pytest.raises(ValueError, match="lamp"):
        size_m(chair_grid(), "lamp")
    with pytest.raises(ValueError, match="positive"):
        size_m(chair_grid(), "chair", longest_side_m=-1)


def test_usdz_reads_back_at_real_size_y_up_in_metres(tmp_path):
    mesh = coloured_mesh()
    size = size_m(mesh, "chair")
    path = export_usdz(mesh, tmp_path / "chair.usdz", size)
    assert path.stat().st_size > 1000
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().IsValid()
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    assert len(meshes) == 1
    geometry = meshes[0]
    low, high = np.array(geometry.GetExtentAttr().Get())
    np.testing.assert_allclose(high - low, size, atol=1e-5)
    assert low[1] == pytest.approx(0.0, abs=1e-6)  # stands on the floor
    points = np.array(geometry.GetPointsAttr().Get())
    np.testing.assert_allclose(points.max(axis=0) - points.min(axis=0), size, atol=1e-5)
    assert len(geometry.GetFaceVertexIndicesAttr().Get()) == 3 * len(mesh.faces)
    display = UsdGeom.PrimvarsAPI(geometry).GetPrimvar("displayColor")
    assert display.GetInterpolation() == UsdGeom.Tokens.vertex
    colors = np.array(display.Get())
    right = points[:, 0] > 0
    assert colors[right, 2].mean() > colors[right, 0].mean()  # blue on +X, as painted
    assert colors[~right, 0].mean() > colors[~right, 2].mean()


def test_usdz_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match=".usdz"):
        export_usdz(coloured_mesh(), tmp_path / "chair.usd", (1, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        export_usdz(coloured_mesh(), tmp_path / "chair.usdz", (0, 0, 0))
    with pytest.raises(InvalidMeshError):
        export_usdz(trimesh.Trimesh(), tmp_path / "chair.usdz", (1, 1, 1))
