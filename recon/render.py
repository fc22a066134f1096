"""Render a triangle mesh with a pinhole camera: hidden surfaces removed, Lambert shading.

Camera convention (OpenCV): a world point ``X`` goes to camera coordinates ``x = R @ X + t``
with the camera's x axis to the right of the image, y down and z forward (into the scene); its
pixel is ``K @ x`` divided by depth ``x[2]``. Pixel centres sit at integer coordinates, so pixel
``(col, row)`` covers ``[col - 0.5, col + 0.5] x [row - 0.5, row + 0.5]`` (as ``cv2.projectPoints``
and ``cv2.fillPoly`` assume). Image sizes are ``(width, height)`` as in PIL.

Visibility is found by casting one ray per pixel with embree (embreex, as trimesh uses it),
only inside the mesh's projected bounding box. Anti-aliasing casts 2 x 2 extra rays at the pixels
on the silhouette's edge only, which costs little more than the edge's length.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import trimesh
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

# Sub-pixel offsets of the extra rays cast on silhouette edges (a 2 x 2 grid).
_EDGE_OFFSETS = np.array([[-0.25, -0.25], [0.25, -0.25], [-0.25, 0.25], [0.25, 0.25]])
_NEUTRAL_COLOUR = 0.75  # grey used when a mesh carries no colours


@dataclass(frozen=True, eq=False)
class Rendering:
    """One rendered view, every array of the image's full size.

    colour: (H, W, 3) float32 in [0, 1], shaded, not premultiplied (0 where alpha is 0).
    alpha: (H, W) float32 in [0, 1], pixel coverage (fractional on anti-aliased edges).
    depth: (H, W) float32, camera z of the nearest surface, ``inf`` where nothing was hit.
    """

    colour: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray


def render_mesh(
    mesh: trimesh.Trimesh,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    image_size: tuple[int, int],
    light_direction: np.ndarray | None = None,
    ambient: float = 0.35,
    smooth: bool = True,
    antialias: bool = True,
) -> Rendering:
    """Render ``mesh`` (world coordinates) seen by the camera ``K, R, t`` (see module docstring).

    light_direction: (3,) direction toward a distant light in world coordinates; None gives a
        headlight (light from the camera).
    ambient: share of the light that reaches every surface; the rest is Lambert ``max(0, n.l)``.
    smooth: interpolate vertex normals (curved surfaces); False shades each face flat (boxes).
    Colours: the mesh's vertex or face colours, texture sampled per vertex, else neutral grey.
    Surfaces are two-sided: a normal is flipped to face the camera before shading.
    """
    width, height = int(image_size[0]), int(image_size[1])
    colour = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    depth = np.full((height, width), np.inf, np.float32)
    if len(mesh.faces) == 0:
        return Rendering(colour, alpha, depth)
    K = np.asarray(K, np.float64)
    R = np.asarray(R, np.float64)
    t = np.asarray(t, np.float64).reshape(3)
    # Work in camera coordinates so every ray starts at the origin and depth is the hit's z.
    vertices = _transform(np.asarray(mesh.vertices, np.float64), R) + t
    box = _projected_box(vertices, K, width, height)
    if box is None:
        return Rendering(colour, alpha, depth)
    x0, y0, x1, y1 = box
    cols, rows = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
    light = None if light_direction is None else R @ _unit(light_direction)
    normals = _normals(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces), smooth)
    colours, colours_per_vertex = _surface_colours(mesh)
    shade = _Shader(
        vertices,
        np.asarray(mesh.faces, np.int64),
        (_transform(np.asarray(normals, np.float64), R).astype(np.float32), smooth),
        (colours.astype(np.float32), colours_per_vertex),
        light,
        ambient,
    )

    hit, rgb, z = shade.cast(np.stack([cols.ravel(), rows.ravel()], 1), np.linalg.inv(K))
    hit = hit.reshape(cols.shape)
    premultiplied = rgb.reshape(*cols.shape, 3) * hit[..., None]
    coverage = hit.astype(np.float32)
    nearest = z.reshape(cols.shape)
    if antialias:
        edge = _edge_pixels(hit)
        if edge.any():
            centres = np.stack([cols[edge], rows[edge]], 1).astype(np.float64)
            samples = (centres[:, None, :] + _EDGE_OFFSETS[None]).reshape(-1, 2)
            sub_hit, sub_rgb, sub_z = shade.cast(samples, np.linalg.inv(K))
            count = len(_EDGE_OFFSETS)
            sub_hit = sub_hit.reshape(-1, count)
            coverage[edge] = sub_hit.mean(1)
            premultiplied[edge] = (sub_rgb.reshape(-1, count, 3) * sub_hit[..., None]).mean(1)
            nearest[edge] = np.minimum(nearest[edge], sub_z.reshape(-1, count).min(1))
    covered = coverage > 0
    straight = np.zeros_like(premultiplied)
    straight[covered] = premultiplied[covered] / coverage[covered, None]
    colour[y0:y1, x0:x1] = np.clip(straight, 0.0, 1.0)
    alpha[y0:y1, x0:x1] = coverage
    depth[y0:y1, x0:x1] = nearest
    return Rendering(colour, alpha, depth)


class _Shader:
    """Casts rays from the camera centre (embree) and shades their first hits."""

    def __init__(self, vertices, faces, normals, colours, light, ambient):
        """normals, colours: ((V, 3) or (F, 3) array, per_vertex flag); light None: headlight."""
        self.scene = rtcore_scene.EmbreeScene()
        TriangleMesh(
            scene=self.scene,
            vertices=np.ascontiguousarray(vertices, np.float32),
            indices=np.ascontiguousarray(faces, np.int32),
        )
        self.faces = faces
        self.normals = normals
        self.colours = colours
        self.light = light
        self.ambient = ambient

    def cast(self, pixels: np.ndarray, K_inverse: np.ndarray):
        """pixels (N, 2) -> hit (N,) bool, colour (N, 3) float32, depth (N,) float32 (inf: miss)."""
        # Rays with z = 1 make embree's hit distance equal to the hit's depth. Elementwise
        # arithmetic, not a BLAS product: BLAS threads fight embree's spinning workers on 2 cores.
        x, y = pixels[:, :1].astype(np.float32), pixels[:, 1:].astype(np.float32)
        directions = x * K_inverse[:, 0] + y * K_inverse[:, 1] + K_inverse[:, 2].astype(np.float32)
        directions = directions.astype(np.float32)
        found = self.scene.run(np.zeros_like(directions), directions, output=1)
        faces = found["primID"]
        hit = faces >= 0
        colour = np.zeros((len(pixels), 3), np.float32)
        depth = np.full(len(pixels), np.inf, np.float32)
        if hit.any():
            u, v = found["u"][hit], found["v"][hit]
            weights = (1.0 - u - v, u, v)  # barycentric, embree's order
            colour[hit] = self._shade(faces[hit], weights, directions[hit])
            depth[hit] = found["tfar"][hit]
        return hit, colour, depth

    def _shade(self, faces, weights, directions):
        normals = self._interpolate(*self.normals, faces, weights)
        length = np.sqrt(_dot(normals, normals)) + 1e-12
        # Two-sided: a normal is turned toward the camera (open meshes show their inside,
        # which must not come out black).
        toward_camera = -np.sign(_dot(normals, directions))
        if self.light is None:
            light = -directions / np.sqrt(_dot(directions, directions))[:, None]
        else:
            light = self.light.astype(np.float32)[None, :]
        lambert = np.clip(toward_camera * _dot(normals, light) / length, 0.0, 1.0)
        intensity = self.ambient + (1.0 - self.ambient) * lambert
        base = self._interpolate(*self.colours, faces, weights)
        return base * intensity[:, None]

    def _interpolate(self, values, per_vertex, faces, weights):
        """Per-vertex values blended by barycentric weights; per-face values looked up."""
        if not per_vertex:
            return values[faces]
        corners = self.faces[faces]
        return sum(w[:, None] * values[corners[:, k]] for k, w in enumerate(weights))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of (N, 3) arrays (b may be (1, 3))."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _surface_colours(mesh: trimesh.Trimesh) -> tuple[np.ndarray, bool]:
    """((V, 3) vertex colours, True) or ((F, 3) face colours, False) in [0, 1]; grey if none."""
    visual = mesh.visual
    try:
        if visual.kind == "texture":
            visual = visual.to_color()
        if visual.kind == "vertex":
            return np.asarray(visual.vertex_colors, np.float64)[:, :3] / 255.0, True
        if visual.kind == "face":
            return np.asarray(visual.face_colors, np.float64)[:, :3] / 255.0, False
    except (ValueError, IndexError, AttributeError):
        pass  # an unusable texture is not worth failing a preview for: fall back to grey
    return np.full((len(mesh.faces), 3), _NEUTRAL_COLOUR), False


def _projected_box(vertices: np.ndarray, K: np.ndarray, width: int, height: int):
    """Pixel box (x0, y0, x1, y1), end exclusive, holding the projected mesh; None when empty."""
    if np.all(vertices[:, 2] <= 0):
        return None
    if np.any(vertices[:, 2] <= 1e-9):
        return 0, 0, width, height  # the mesh crosses the camera plane: its projection is unbounded
    projected = vertices @ K.T
    xy = projected[:, :2] / projected[:, 2:]
    x0, y0 = np.floor(xy.min(0)).astype(int) - 1
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def _edge_pixels(hit: np.ndarray) -> np.ndarray:
    """Pixels whose 3 x 3 neighbourhood holds both a hit and a miss."""
    mask = hit.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    grown = cv2.dilate(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    shrunk = cv2.erode(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return grown != shrunk


def _normals(vertices: np.ndarray, faces: np.ndarray, per_vertex: bool) -> np.ndarray:
    """Unit face normals (F, 3), or area-weighted vertex normals (V, 3), from the winding.

    Computed here rather than by trimesh, whose angle-weighted version costs ~10x more.
    """
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    if per_vertex:  # the cross product's length is twice the face area: the weight we want
        normals = np.stack(
            [
                np.bincount(faces.ravel(), np.repeat(normals[:, k], 3), len(vertices))
                for k in range(3)
            ],
            axis=1,
        )
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 3) points times matrix.T, elementwise (see _Shader.cast on avoiding BLAS here)."""
    return (
        points[:, :1] * matrix[:, 0] + points[:, 1:2] * matrix[:, 1] + points[:, 2:] * matrix[:, 2]
    )


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, np.float64).reshape(3)
    return vector / np.linalg.norm(vector)
