"""USDZ for iOS AR Quick Look: the mesh at its real size, Y up, in metres, with its colours.

Quick Look places a model with its origin on the floor, so the mesh is moved to stand on Y = 0,
centred in X and Z. Vertex colours travel as ``primvars:displayColor`` (vertex interpolation, in
linear light as USD expects) and a UsdPreviewSurface material reads them through a primvar
reader, so viewers that ignore displayColor on its own still show them. Needs ``usd-core``
(package ``pxr``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import trimesh

# At import, not in export_usdz: loading USD's native libraries in a server's worker thread while
# another thread computes can deadlock the process (see recon.mesh on fast-simplification).
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdUtils, Vt

from recon.errors import InvalidMeshError
from recon.sizes import canonical_extents

ROOT_PRIM = "/Furniture"


def _linear_rgb(colors_uint8: np.ndarray) -> np.ndarray:
    """sRGB uint8 (V, 3+) -> linear float (V, 3) in [0, 1]."""
    srgb = np.asarray(colors_uint8, np.float64)[:, :3] / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _real_size_vertices(mesh: trimesh.Trimesh, size_m) -> np.ndarray:
    """Vertices (V, 3) in metres: uniformly scaled so the longest side is max(size_m), standing
    on Y = 0 and centred in X and Z."""
    extents = canonical_extents(mesh)
    scale = float(max(size_m)) / float(extents.max())
    vertices = np.asarray(mesh.vertices, np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    base = np.array([(low[0] + high[0]) / 2, low[1], (low[2] + high[2]) / 2])
    return (vertices - base) * scale


def export_usdz(mesh: trimesh.Trimesh, path, size_m) -> Path:
    """Write ``mesh`` (canonical frame, Y up, front +Z) as a .usdz package; returns the path.

    size_m: (width, height, depth) in metres (recon.sizes.size_m); the mesh is scaled uniformly so
    its longest side is the largest of them. The stage is Y up with metersPerUnit 1 and a default
    prim; the file opens in AR Quick Look. Raises InvalidMeshError for a mesh without faces and
    ValueError for a suffix other than .usdz or a size that is not positive.
    """
    path = Path(path)
    if path.suffix.lower() != ".usdz":
        raise ValueError(f"a USDZ file must end in .usdz, got {path.name!r}")
    if len(mesh.faces) == 0:
        raise InvalidMeshError("the mesh has no faces to export")
    size = np.asarray(size_m, np.float64).reshape(-1)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or size.max() <= 0:
        raise ValueError(f"size_m must be three positive metres (width, height, depth), got {size_m}")
    vertices = _real_size_vertices(mesh, size)
    with tempfile.TemporaryDirectory() as folder:
        layer = Path(folder) / "model.usdc"
        stage = Usd.Stage.CreateNew(str(layer))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        root = UsdGeom.Xform.Define(stage, ROOT_PRIM)
        stage.SetDefaultPrim(root.GetPrim())
        geometry = UsdGeom.Mesh.Define(stage, f"{ROOT_PRIM}/Mesh")
        geometry.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(vertices.astype(np.float32)))
        geometry.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3, np.int32)))
        geometry.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.asarray(mesh.faces, np.int32).ravel()))
        geometry.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)  # counter-clockwise = outside
        geometry.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)  # triangles as they are
        geometry.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(mesh.vertex_normals, np.float32)))
        geometry.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        geometry.CreateExtentAttr([Gf.Vec3f(*low.tolist()), Gf.Vec3f(*high.tolist())])
        colors = _linear_rgb(mesh.visual.vertex_colors).astype(np.float32)
        display = UsdGeom.PrimvarsAPI(geometry).CreatePrimvar(
            "displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex)
        display.Set(Vt.Vec3fArray.FromNumpy(colors))
        material = UsdShade.Material.Define(stage, f"{ROOT_PRIM}/Material")
        surface = UsdShade.Shader.Define(stage, f"{ROOT_PRIM}/Material/Surface")
        surface.CreateIdAttr("UsdPreviewSurface")
        surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.8)
        surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
        reader = UsdShade.Shader.Define(stage, f"{ROOT_PRIM}/Material/Colors")
        reader.CreateIdAttr("UsdPrimvarReader_float3")
        reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("displayColor")
        reader.CreateInput("fallback", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(0.58, 0.58, 0.58))
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
            reader.CreateOutput("result", Sdf.ValueTypeNames.Float3))
        material.CreateSurfaceOutput().ConnectToSource(surface.CreateOutput("surface", Sdf.ValueTypeNames.Token))
        UsdShade.MaterialBindingAPI.Apply(geometry.GetPrim()).Bind(material)
        stage.GetRootLayer().Save()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not UsdUtils.CreateNewARKitUsdzPackage(Sdf.AssetPath(str(layer)), str(path)):
            raise OSError(f"could not write the USDZ package {path}")
    return path
