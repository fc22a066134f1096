"""Composite a mesh standing on the plane into the photo: pose, rendering, light and contact shadow.

Frames are those of ``recon.ar.camera``: the plane frame ``(u, v, h)`` and the world ``(u, v, -h)``.
"""

import cv2
import numpy as np
import trimesh
from PIL import Image

from recon.ar.camera import Camera, plane_to_world
from recon.errors import InvalidMeshError
from recon.render import Rendering, render_mesh


def place(
    scene_image: Image.Image,
    mesh: trimesh.Trimesh,
    camera: Camera,
    scale: float | None = None,
    rotation_deg: float = 0.0,
    position: tuple[float, float] | None = None,
    light_direction: tuple[float, float, float] | None = None,
    shadow_strength: float = 0.6,
) -> Image.Image:
    """Composite ``mesh`` standing on the plane into the photo; returns an RGB image of its size.

    mesh: canonical frame (Y up, front toward +Z, inside [-0.5, 0.5]^3; see recon.mesh).
    scale: the object's width (its extent along its own X, left to right seen from its front) in
        plane units, e.g. 45 for a 45 cm chair on an A4 sheet given as (21, 29.7); None: the
        rectangle's width.
    rotation_deg: turn about the plane's normal, counter-clockwise seen from above. At 0 the
        object's right is +u and its front faces +v (toward the rectangle's bottom edge).
    position: (u, v) of the centre of the object's footprint; None: the rectangle's centre.
    light_direction: (u, v, h) toward the light; None: from above, leaning toward the camera.
    shadow_strength: darkness in [0, 1] of the soft contact shadow under the object.
    The object's brightness and tint follow the photo's mean colour. If the photo's size differs
    from ``camera.image_size`` (e.g. the corners were clicked on a preview) K is rescaled.
    Raises InvalidMeshError for a mesh without faces.
    """
    scene = np.asarray(scene_image.convert("RGB"), np.float32) / 255.0
    camera = _camera_for_size(camera, (scene.shape[1], scene.shape[0]))
    placed = placed_mesh(mesh, camera, scale, rotation_deg, position)
    rendering = render_placement(placed, camera, light_direction)
    shadow = _contact_shadow(placed, camera) * float(np.clip(shadow_strength, 0.0, 1.0))
    background = scene * (1.0 - shadow[..., None])
    colour = np.clip(rendering.colour * _scene_light(scene), 0.0, 1.0)
    alpha = rendering.alpha[..., None]
    composite = background * (1.0 - alpha) + colour * alpha
    return Image.fromarray(np.round(composite * 255.0).astype(np.uint8), "RGB")


def placed_mesh(
    mesh: trimesh.Trimesh,
    camera: Camera,
    scale: float | None = None,
    rotation_deg: float = 0.0,
    position: tuple[float, float] | None = None,
) -> trimesh.Trimesh:
    """A copy of ``mesh`` with vertices in the plane frame (u, v, h), standing on the plane.

    The footprint's bounding box is centred on ``position``, the lowest point touches h = 0; see
    ``place`` for the arguments. (u, v, h) is a left-handed frame, so this copy's normals point
    inward until mapped to the world by ``plane_to_world``. Raises InvalidMeshError for a mesh
    without faces.
    """
    if mesh is None or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise InvalidMeshError("the mesh has no faces to place")
    vertices = np.asarray(mesh.vertices, np.float64)
    low, high = vertices.min(0), vertices.max(0)
    extent = high - low
    if not np.all(np.isfinite(extent)) or extent.max() <= 0:
        raise InvalidMeshError("the mesh is a single point or has non-finite vertices")
    width = extent[0] if extent[0] > 1e-6 * extent.max() else extent.max()
    scale = camera.plane_size[0] if scale is None else float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number of plane units, not {scale}")
    if position is None:
        position = (camera.plane_size[0] / 2.0, camera.plane_size[1] / 2.0)
    position = np.asarray(position, np.float64).reshape(-1)
    if position.shape != (2,) or not np.all(np.isfinite(position)):
        raise ValueError(f"position must be two finite numbers (u, v), not {position.tolist()}")
    if not np.isfinite(rotation_deg):
        raise ValueError(f"rotation_deg must be a finite number, not {rotation_deg}")
    base = np.array([(low[0] + high[0]) / 2.0, low[1], (low[2] + high[2]) / 2.0])
    local = (vertices - base) * (scale / width)
    turn = np.radians(rotation_deg)
    cos, sin = np.cos(turn), np.sin(turn)
    # Canonical (X, Y, Z) -> plane (u, v, h): X -> u, Z (front) -> v, Y (up) -> h, then a turn
    # about h that is counter-clockwise seen from above.
    u = cos * local[:, 0] + sin * local[:, 2] + position[0]
    v = -sin * local[:, 0] + cos * local[:, 2] + position[1]
    placed = mesh.copy()
    placed.vertices = np.column_stack([u, v, local[:, 1]])
    return placed


def render_placement(placed: trimesh.Trimesh, camera: Camera, light_direction=None) -> Rendering:
    """Render a mesh given in the plane frame (``placed_mesh``) with ``camera`` (full image)."""
    if light_direction is None:
        towards_camera = camera.position_uvh - placed.vertices.mean(0)
        towards_camera[2] = 0.0
        towards_camera /= max(np.linalg.norm(towards_camera), 1e-12)
        light_direction = np.array([0.0, 0.0, 1.0]) + 0.6 * towards_camera
    # Canonical -> (u, v, -h) is a proper rotation (two axis swaps), so the winding stays outward.
    world = trimesh.Trimesh(plane_to_world(placed.vertices), placed.faces, process=False)
    world.visual = placed.visual.copy()
    return render_mesh(
        world,
        camera.K,
        camera.R,
        camera.t,
        camera.image_size,
        light_direction=plane_to_world(np.asarray(light_direction, np.float64)),
    )

def _camera_for_size(camera: Camera, image_size: tuple[int, int]) -> Camera:
    """The same camera for a photo resized to ``image_size`` (pixel centres kept consistent)."""
    if tuple(image_size) == tuple(camera.image_size):
        return camera
    sx = image_size[0] / camera.image_size[0]
    sy = image_size[1] / camera.image_size[1]
    resize = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return Camera(resize @ camera.K, camera.R, camera.t, tuple(image_size), camera.plane_size)


def _scene_light(scene: np.ndarray) -> np.ndarray:
    """(3,) gain on the object's colour so it is lit like the photo: brightness and a mild tint."""
    mean = scene.reshape(-1, 3).mean(0)
    luminance = float(mean @ np.array([0.299, 0.587, 0.114]))
    gain = np.clip(luminance / 0.5, 0.35, 1.25)
    tint = np.clip(0.7 + 0.3 * mean / max(mean.mean(), 1e-6), 0.8, 1.2)
    return (gain * tint).astype(np.float32)


def _contact_shadow(placed: trimesh.Trimesh, camera: Camera) -> np.ndarray:
    """(H, W) float32 in [0, 1]: a soft dark blob under the object, drawn on the plane.

    The footprint (hull of the object seen from above, weaker) and the points touching the plane
    (stronger) are drawn into a small top-down map in plane units, blurred, then warped into the
    photo with the plane's homography, so the shadow has the plane's perspective.
    """
    vertices = placed.vertices
    uv, heights = vertices[:, :2], vertices[:, 2]
    size = float(max(np.ptp(uv, axis=0).max(), heights.max(), 1e-9))
    margin = 0.35 * size
    origin = uv.min(0) - margin
    span = np.ptp(uv, axis=0) + 2 * margin
    cell = span.max() / 256.0  # plane units per map pixel
    shape = (int(np.ceil(span[1] / cell)) + 1, int(np.ceil(span[0] / cell)) + 1)
    shadow = np.zeros(shape, np.float32)
    to_map = lambda points: np.round((points - origin) / cell).astype(np.int32)
    hull = cv2.convexHull(to_map(uv))
    # Occlusion reaches a little past the footprint: grow the hull before blurring it.
    cv2.fillConvexPoly(shadow, hull, 0.6)
    cv2.polylines(shadow, [hull], True, 0.6, thickness=max(1, int(0.08 * size / cell)))
    touching = heights <= heights.min() + 0.03 * max(np.ptp(heights), 1e-9)
    for x, y in to_map(uv[touching]):
        cv2.circle(shadow, (int(x), int(y)), max(1, int(0.04 * size / cell)), 1.0, -1)
    sigma = 0.05 * size / cell
    shadow = cv2.GaussianBlur(shadow, (0, 0), sigma)
    map_to_plane = np.array([[cell, 0.0, origin[0]], [0.0, cell, origin[1]], [0.0, 0.0, 1.0]])
    width, height = camera.image_size
    warped = cv2.warpPerspective(
        shadow,
        camera.plane_homography() @ map_to_plane,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.clip(warped, 0.0, 1.0)
