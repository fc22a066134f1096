"""Surface meshes from voxel grids, and mesh files in and out.

Meshes live in the canonical cube of ``recon.voxels`` (Y up, front toward +Z), which is also
glTF's frame, so exported files need no rotation. Faces are wound counter-clockwise seen from
outside, so normals point outward and viewers light the outside.
"""

from pathlib import Path

# trimesh imports fast-simplification on the first decimation; loading a native library (this one
# brings its own OpenMP runtime) on a worker thread while another thread computes can deadlock a
# server: the loader's lock against Python's GIL (a CI run's Gradio server hung that way on its
# first two requests, at once, in USD's module loading). Loaded here, with the rest, at import.
import fast_simplification  # noqa: F401
import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.csgraph
import trimesh
from skimage.measure import marching_cubes

from recon.errors import EmptyGridError, InvalidMeshError
from recon.voxels import as_grid


MAX_FACES = 500_000
# Surface cleaning (see smooth_field and decimate): a Gaussian of 1.5/64 of the cube (1.5 voxels
# at 64^3, 0.75 of a model voxel at 32^3) softens the coarse grid's steps (thin parts are kept),
# and 20k faces hold a 64^3 surface's shape while keeping files and viewers light.
FIELD_SIGMA = 1.5 / 64
FACE_BUDGET = 20_000
EXPORT_FORMATS = (".glb", ".obj", ".stl", ".ply")
NEUTRAL_GREY = (200, 200, 200, 255)
_MATTE_PBR = {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.8}
# Confidence colormap stops (t in [0, 1] -> RGB): pale sand for unsure, terracotta for sure.
_COLOR_STOPS = np.array([0.0, 0.5, 1.0])
_COLOR_VALUES = np.array([[232, 222, 205], [240, 170, 95], [196, 88, 50]], dtype=np.float64)


def _keep_large_components(mesh: trimesh.Trimesh, min_fraction: float) -> trimesh.Trimesh:
    """Drop connected pieces with fewer faces than ``min_fraction`` of the largest piece."""
    faces = mesh.faces
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    count = len(mesh.vertices)
    graph = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    face_labels = labels[faces[:, 0]]
    sizes = np.bincount(face_labels)
    keep = sizes[face_labels] >= min_fraction * sizes.max()
    if keep.all():
        return mesh
    mesh.update_faces(keep)
    mesh.remove_unreferenced_vertices()
    return mesh


def _confidence_colors(grid: np.ndarray, mesh: trimesh.Trimesh, level: float) -> np.ndarray:
    """RGBA uint8 (V, 4): the probability one voxel inside the surface, mapped to a warm ramp.

    At the surface itself the probability equals ``level`` by construction, so we look one voxel
    inward along the (outward) vertex normal, where the model's confidence shows.
    """
    side = grid.shape[0]
    inside = mesh.vertices - mesh.vertex_normals / side
    coordinates = ((inside + 0.5) * side - 0.5).T  # canonical -> voxel index space
    confidence = scipy.ndimage.map_coordinates(grid, coordinates, order=1, mode="nearest")
    t = np.clip((confidence - level) / max(1.0 - level, 1e-6), 0.0, 1.0)
    rgb = np.stack([np.interp(t, _COLOR_STOPS, _COLOR_VALUES[:, c]) for c in range(3)], axis=1)
    alpha = np.full((len(t), 1), 255.0)
    return np.concatenate([rgb, alpha], axis=1).round().astype(np.uint8)


def smooth_field(grid: np.ndarray, level: float, sigma: float = FIELD_SIGMA) -> np.ndarray:
    """The probability grid (D, D, D) blurred by a Gaussian of ``sigma`` cube units, except in
    thin parts: occupied voxels (>= ``level``) that an opening by a ball of the blur's radius
    removes (legs, frames, slats: what the blur would empty) and their neighbours keep at least
    their own values, so the blur can neither empty nor thin them. float32 (D, D, D)."""
    radius = sigma * grid.shape[0]  # voxels
    blurred = scipy.ndimage.gaussian_filter(grid, radius, mode="nearest")
    occupied = grid >= level
    reach = int(np.ceil(radius))
    offsets = np.mgrid[-reach:reach + 1, -reach:reach + 1, -reach:reach + 1]
    ball = (offsets ** 2).sum(axis=0) <= radius ** 2
    # Parts a ball as wide as the blur does not fit in are the ones the blur would empty.
    thin = occupied & ~scipy.ndimage.binary_opening(occupied, structure=ball)
    # The thin part and the voxels around it, where its surface passes, keep their values.
    keep = scipy.ndimage.binary_dilation(thin, structure=np.ones((3, 3, 3), bool))
    return np.where(keep, np.maximum(grid, blurred), blurred).astype(np.float32)


def decimate(mesh: trimesh.Trimesh, max_faces: int) -> trimesh.Trimesh:
    """``mesh`` itself when it has at most ``max_faces`` faces, else a quadric-error decimation
    to about that many (fast-simplification, through trimesh), which keeps its shape and its
    closedness; vertex colours are not carried (they are made afterwards)."""
    if len(mesh.faces) <= max_faces:
        return mesh
    return mesh.simplify_quadric_decimation(face_count=max_faces)


def grid_to_mesh(
    grid: np.ndarray,
    level: float = 0.5,
    smoothing: str | None = "taubin",
    iterations: int = 30,
    min_component_fraction: float = 0.02,
    color_by_confidence: bool = True,
    max_faces: int | None = FACE_BUDGET,
) -> trimesh.Trimesh:
    """Extract the ``level`` iso-surface of a probability grid (D, D, D) as a closed mesh.

    Vertices are in canonical cube coordinates ([-0.5, 0.5]^3, Y up, front +Z), normals point
    outward. Pieces with fewer faces than ``min_component_fraction`` of the largest piece are
    removed. ``smoothing``: "taubin" (keeps volume) or "laplacian" smooth the field first
    (smooth_field) and the mesh after; None extracts the raw surface. A mesh with more than
    ``max_faces`` faces is decimated to about that many (None: never). Vertex colours show the
    occupancy confidence (warm ramp), or a neutral light grey when ``color_by_confidence`` is
    False. Raises EmptyGridError when no voxel reaches ``level``; InvalidGridError for a bad grid.
    """
    grid = as_grid(grid)
    if smoothing not in ("taubin", "laplacian", None):
        raise ValueError(f"smoothing must be 'taubin', 'laplacian' or None, got {smoothing!r}")
    if not (0.0 < level < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level}")
    if grid.max() < level:
        raise EmptyGridError(
            f"no voxel reaches level {level} (highest probability {grid.max():.3f}): "
            "there is no surface; try a lower level"
        )
    side = grid.shape[0]
    field = grid if smoothing is None else smooth_field(grid, level)
    # Padding closes surfaces that touch the grid's faces.
    vertices, faces, _, _ = marching_cubes(np.pad(field, 1), level)
    vertices = (vertices - 1 + 0.5) / side - 0.5  # undo the pad, voxel centres at (i + .5)/D - .5
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if mesh.volume < 0:  # make the winding outward whatever the extractor's habit
        mesh.invert()
    if min_component_fraction > 0:
        mesh = _keep_large_components(mesh, min_component_fraction)
    if smoothing == "taubin":
        trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=0.53, iterations=iterations)
    elif smoothing == "laplacian":
        trimesh.smoothing.filter_laplacian(mesh, lamb=0.5, iterations=iterations)
    if max_faces is not None:
        mesh = decimate(mesh, max_faces)
    if color_by_confidence:
        colors = _confidence_colors(grid, mesh, level)
    else:
        colors = np.tile(np.array(NEUTRAL_GREY, dtype=np.uint8), (len(mesh.vertices), 1))
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colors)
    return mesh


def _use_matte_material(tree: dict) -> None:
    """Give primitives without a material a white, matte, non-metal one (edits the glTF tree).

    glTF's default material is fully metallic, which viewers without an environment map render
    nearly black; vertex colours multiply this white base colour.
    """
    materials = tree.setdefault("materials", [])
    materials.append({"name": "matte", "pbrMetallicRoughness": _MATTE_PBR})
    for gltf_mesh in tree.get("meshes", []):
        for primitive in gltf_mesh["primitives"]:
            primitive.setdefault("material", len(materials) - 1)


def export_mesh(mesh: trimesh.Trimesh, path) -> Path:
    """Write ``mesh`` in the format named by the suffix (.glb, .obj, .stl, .ply); returns the path.

    GLB and OBJ carry vertex normals and colours (glTF's frame is ours: +Y up, +Z front).
    Raises ValueError for another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"cannot export a mesh as {suffix or 'no suffix'!r}; use one of {EXPORT_FORMATS}")
    if suffix == ".glb":
        mesh.export(path, file_type="glb", include_normals=True, tree_postprocessor=_use_matte_material)
    elif suffix == ".obj":
        mesh.export(path, file_type="obj", include_normals=True, include_color=True)
    else:
        mesh.export(path, file_type=suffix[1:])
    return path


def _vertex_colors(part: trimesh.Trimesh) -> np.ndarray:
    """RGBA uint8 (V, 4) of any visual: glTF COLOR_0 beside a material, plain colours, or a
    texture's colours sampled at the vertices."""
    colors = getattr(part.visual, "vertex_attributes", {}).get("color")
    if colors is not None and len(colors) == len(part.vertices):
        return np.asarray(colors)
    if part.visual.kind == "texture":
        return part.visual.to_color().vertex_colors
    return part.visual.vertex_colors


def load_mesh(path, max_faces: int = MAX_FACES) -> trimesh.Trimesh:
    """Read a mesh file; a scene is flattened into one mesh with vertex colours.

    Raises InvalidMeshError when the file is missing, not a mesh, has no faces, or has more than
    ``max_faces`` faces.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidMeshError(f"mesh file not found: {path}")
    if path.stat().st_size == 0:
        raise InvalidMeshError(f"mesh file {path.name} is empty")
    try:
        # From an open file with no resolver, so an uploaded OBJ cannot pull in other files
        # (mtllib ../../secret.mtl, textures) from beside or outside the upload folder.
        with path.open("rb") as file:
            scene = trimesh.load_scene(file, file_type=path.suffix.lower().lstrip("."))
    except Exception as error:  # trimesh's loaders raise many unrelated types on bad input
        raise InvalidMeshError(
            f"cannot read {path.name} as a mesh ({type(error).__name__}: {error}); use .glb, .obj, .stl or .ply"
        ) from error
    parts = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        part = scene.geometry[name]
        if isinstance(part, trimesh.Trimesh) and len(part.faces):
            vertices = trimesh.transform_points(part.vertices, transform)
            parts.append(trimesh.Trimesh(vertices, part.faces, vertex_colors=_vertex_colors(part), process=False))
    faces = sum(len(part.faces) for part in parts)
    if faces == 0:
        raise InvalidMeshError(f"{path.name} holds no triangles: it is not a surface mesh")
    if faces > max_faces:
        raise InvalidMeshError(
            f"{path.name} has {faces:,} faces, more than the limit of {max_faces:,}; simplify it first"
        )
    return parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)
