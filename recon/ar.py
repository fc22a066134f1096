"""Place a reconstructed mesh into a photo: camera from a rectangle on a plane, then rendering.

Plane frame (DESIGN.md): a rectangle lying on a real plane is given by its four image corners in
the order top-left, top-right, bottom-right, bottom-left as the user sees them (clockwise on
screen). ``u`` runs along TL->TR, ``v`` along TL->BL and ``h`` is the height above the plane on
the camera's side. Units are the plane's: the rectangle is ``plane_size = (width, height)`` when
known, else its width is 1 and its height follows from the recovered aspect ratio::

        TL (0, 0) ------ u ------> TR (width, 0)
         |                            |          h points out of the screen, toward the camera
         v                            |
         |                            |
        BL (0, height) ----------- BR (width, height)

Camera (OpenCV convention, see ``recon.render``): ``x_camera = R @ X + t`` with the world point
``X = (u, v, -h)``. Because ``u x v`` points into the plane, away from the camera, the world
frame ``(u, v, -h)`` is right-handed and ``R`` is a proper rotation (det +1).

Pixel coordinates are ``(x, y)`` with pixel centres at integers; image sizes are ``(width,
height)`` as in PIL. The principal point is taken at the image centre.
"""

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import trimesh
from PIL import Image

from recon.errors import DegenerateCornersError, InvalidMeshError, ReferenceNotFoundError
from recon.render import Rendering, render_mesh

log = logging.getLogger(__name__)

# Used when the focal length cannot be estimated (e.g. a rectangle seen head-on): a 28 mm
# equivalent lens, the field of view of most phone main cameras, as a share of the longer side.
DEFAULT_FOCAL_FRACTION = 28.0 / 36.0
MIN_CORNER_DISTANCE_PX = 4.0  # corners closer than this are one repeated click
MIN_CORNER_ANGLE_DEG = 3.0  # a corner flatter than this makes three points (nearly) collinear
FEATURE_MAX_SIDE = 1024  # images are matched at most this large (speed; features stay stable)
MIN_INLIERS = 15


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera looking at a plane (see the module docstring for the frames).

    K: (3, 3) intrinsics in pixels. R: (3, 3) rotation, t: (3,) translation in plane units,
    mapping world ``(u, v, -h)`` to camera coordinates. image_size: (width, height) in pixels.
    plane_size: (width, height) of the clicked rectangle in plane units.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]
    plane_size: tuple[float, float]

    def to_camera(self, points_uvh: np.ndarray) -> np.ndarray:
        """(N, 3) plane-frame points (u, v, h) -> (N, 3) camera coordinates."""
        points = np.asarray(points_uvh, np.float64).reshape(-1, 3)
        return plane_to_world(points) @ self.R.T + self.t

    def project(self, points_uvh: np.ndarray) -> np.ndarray:
        """(N, 3) plane-frame points (u, v, h) -> (N, 2) pixel (x, y); NaN behind the camera."""
        camera_points = self.to_camera(points_uvh)
        projected = camera_points @ self.K.T
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = projected[:, :2] / projected[:, 2:]
        pixels[camera_points[:, 2] <= 0] = np.nan
        return pixels

    @property
    def position_uvh(self) -> np.ndarray:
        """(3,) the camera centre in the plane frame (its h is the camera's height)."""
        return world_to_plane(-self.R.T @ self.t)

    def plane_homography(self) -> np.ndarray:
        """(3, 3) homography from plane points (u, v, 1) to pixels (x, y, 1)."""
        return self.K @ np.column_stack([self.R[:, 0], self.R[:, 1], self.t])


def plane_to_world(points_uvh: np.ndarray) -> np.ndarray:
    """(N, 3) (u, v, h) -> (N, 3) right-handed world (u, v, -h) used by ``Camera.R``."""
    return np.asarray(points_uvh, np.float64) * np.array([1.0, 1.0, -1.0])


world_to_plane = plane_to_world  # the flip of h is its own inverse


def camera_from_corners(
    corners_px,
    image_size: tuple[int, int],
    plane_size: tuple[float, float] | None = None,
    focal_px: float | None = None,
) -> Camera:
    """Camera from the four image corners of a rectangle lying on a plane.

    corners_px: (4, 2) pixel (x, y) of top-left, top-right, bottom-right, bottom-left.
    image_size: (width, height) of the photo in pixels.
    plane_size: (width, height) of the rectangle in your units (e.g. (21.0, 29.7) cm for A4);
        None: width 1, height recovered from the perspective (needs a focal, given or estimated).
    focal_px: focal length in pixels; None estimates it from the homography's orthogonality
        constraints (falls back to a 28 mm-equivalent lens when the view is too frontal).
    Raises DegenerateCornersError (a ValueError) when the corners cannot be a rectangle's image:
    not 4 finite points, outside the image, repeated, collinear, self-crossing, non-convex or
    counter-clockwise.
    """
    image_size = _check_image_size(image_size)
    corners = _check_corners(corners_px, image_size, require_inside=True)
    return _camera_from_quad(corners, image_size, plane_size, focal_px)


def camera_from_homography(
    homography: np.ndarray,
    reference_size: tuple[int, int],
    image_size: tuple[int, int],
    plane_size: tuple[float, float] | None = None,
    focal_px: float | None = None,
) -> Camera:
    """Camera from a reference picture found in the photo (``homography_from_reference``).

    The picture's outline serves as the rectangle; unlike clicks it may reach past the photo's
    border. plane_size None: width 1 and the picture's own aspect ratio (its pixels are square).
    Raises DegenerateCornersError when the outline is not a usable quadrilateral.
    """
    image_size = _check_image_size(image_size)
    corners = _check_corners(
        corners_from_homography(homography, reference_size), image_size, require_inside=False
    )
    if plane_size is None:
        plane_size = (1.0, reference_size[1] / reference_size[0])
    return _camera_from_quad(corners, image_size, plane_size, focal_px)


def corners_from_homography(homography: np.ndarray, reference_size: tuple[int, int]) -> np.ndarray:
    """(4, 2) scene pixels of the reference picture's outer corners TL, TR, BR, BL.

    reference_size: (width, height) of the reference picture in pixels; its outer edges lie half a
    pixel outside its first and last pixel centres.
    """
    width, height = reference_size
    outline = np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]]
    )
    mapped = np.column_stack([outline, np.ones(4)]) @ np.asarray(homography, np.float64).T
    return mapped[:, :2] / mapped[:, 2:]


def homography_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3, 3) H with target ~ H @ source, by the normalised DLT (Hartley) on N >= 4 (N, 2) pairs."""
    source_t, source_n = _normalise(source)
    target_t, target_n = _normalise(target)
    rows = []
    for (x, y), (a, b) in zip(source_n, target_n):
        rows.append([-x, -y, -1, 0, 0, 0, a * x, a * y, a])
        rows.append([0, 0, 0, -x, -y, -1, b * x, b * y, b])
    normalised = np.linalg.svd(np.asarray(rows))[2][-1].reshape(3, 3)
    homography = np.linalg.inv(target_t) @ normalised @ source_t
    return homography / homography[2, 2]


def homography_from_reference(
    reference_image: Image.Image | np.ndarray,
    scene_image: Image.Image | np.ndarray,
    detector: str = "sift",
) -> np.ndarray:
    """(3, 3) homography mapping reference-picture pixels to scene pixels.

    Features (OpenCV SIFT, or "orb") are matched with Lowe's ratio test (one match per scene
    point), RANSAC fits the homography and direct image alignment (ECC) refines it to sub-pixel
    accuracy. Both images are matched at most FEATURE_MAX_SIDE pixels large; the result is in
    full-resolution pixels. SIFT is the default: on a tilted synthetic picture its raw fit was 3x
    more accurate than ORB's (corners off 1.4 px against 4.8 px) and it costs about 0.35 s of
    CPU at 1024 px against ORB's 0.15 s, well inside the 1.5 s budget (scripts/bench_ar.py).
    Raises ReferenceNotFoundError (a ValueError) when either image has no usable features, too
    few matches agree, or the found outline is not a plausible view of a flat picture.
    """
    reference, reference_scale = _gray_for_matching(reference_image)
    scene, scene_scale = _gray_for_matching(scene_image)
    if detector == "sift":
        features, norm = cv2.SIFT_create(nfeatures=3000), cv2.NORM_L2
    elif detector == "orb":
        features, norm = cv2.ORB_create(nfeatures=3000), cv2.NORM_HAMMING
    else:
        raise ValueError(f"detector must be 'sift' or 'orb', not {detector!r}")
    reference_points, reference_descriptors = features.detectAndCompute(reference, None)
    scene_points, scene_descriptors = features.detectAndCompute(scene, None)
    for name, points in (("reference picture", reference_points), ("scene photo", scene_points)):
        if len(points) < MIN_INLIERS:
            raise ReferenceNotFoundError(
                f"the {name} has too few features ({len(points)}) to match: use a reference "
                "with texture or print, and a sharp, well-lit photo"
            )
    pairs = cv2.BFMatcher(norm).knnMatch(reference_descriptors, scene_descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    # One match per scene point: a large reference has many near-copies of one coarse feature,
    # and their pile-up on one scene point lets RANSAC pick a homography that collapses.
    best_per_scene_point = {}
    for match in sorted(good, key=lambda m: m.distance):
        best_per_scene_point.setdefault(match.trainIdx, match)
    good = list(best_per_scene_point.values())
    if len(good) < MIN_INLIERS:
        raise ReferenceNotFoundError(
            f"reference picture not found in the scene photo (only {len(good)} distinctive "
            f"matches, {MIN_INLIERS} needed)"
        )
    source = np.float32([reference_points[m.queryIdx].pt for m in good])
    target = np.float32([scene_points[m.trainIdx].pt for m in good])
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, 3.0, maxIters=5000)
    inlier_count = 0 if inliers is None else int(inliers.sum())
    if homography is None or inlier_count < MIN_INLIERS:
        raise ReferenceNotFoundError(
            f"reference picture not found in the scene photo (only {inlier_count} matches "
            f"agree on one plane, {MIN_INLIERS} needed)"
        )
    homography = _refine_by_alignment(reference, scene, homography)
    full = np.linalg.inv(scene_scale) @ homography @ reference_scale
    full /= full[2, 2]
    _check_found_outline(full, _size_of(reference_image), _size_of(scene_image))
    return full


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


def camera_to_json(camera: Camera) -> dict:
    """A JSON-ready dict of the camera (K, R, t, sizes) with a note on its conventions."""
    return {
        "K": camera.K.tolist(),
        "R": camera.R.tolist(),
        "t": camera.t.tolist(),
        "image_size": list(camera.image_size),
        "plane_size": list(camera.plane_size),
        "convention": (
            "OpenCV: x_camera = R @ (u, v, -h) + t, pixel = K @ x_camera / z; x right, y down, "
            "z forward; u along the rectangle's top edge, v along its left edge, h above the "
            "plane; pixel centres at integers; sizes are (width, height)"
        ),
    }


# --- camera from a quadrilateral -----------------------------------------------------------


def _camera_from_quad(corners, image_size, plane_size, focal_px) -> Camera:
    width_px, height_px = image_size
    centre = np.array([(width_px - 1) / 2.0, (height_px - 1) / 2.0])
    unit_square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    square_homography = homography_from_points(unit_square, corners)
    if plane_size is not None:
        plane_size = _check_plane_size(plane_size)
    if focal_px is None:
        focal = _estimate_focal(square_homography, centre, max(image_size), plane_size)
    else:
        focal = float(focal_px)
        if not np.isfinite(focal) or focal <= 0:
            raise ValueError(f"focal_px must be a positive number of pixels, not {focal_px}")
    K = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    columns = np.linalg.inv(K) @ square_homography
    if plane_size is None:
        # The unit square's columns are width * r1 and height * r2 (r1, r2 unit vectors).
        ratio = np.linalg.norm(columns[:, 1]) / np.linalg.norm(columns[:, 0])
        plane_size = (1.0, float(ratio))
    columns = columns @ np.diag([1.0 / plane_size[0], 1.0 / plane_size[1], 1.0])
    scale = 2.0 / (np.linalg.norm(columns[:, 0]) + np.linalg.norm(columns[:, 1]))
    if columns[2, 2] < 0:
        scale = -scale  # the plane lies in front of the camera
    r1, r2, t = (scale * columns).T
    R = _nearest_rotation(np.column_stack([r1, r2, np.cross(r1, r2)]))
    R, t = _refine_pose(corners, K, R, t, plane_size)
    return Camera(
        K, R, t, (int(width_px), int(height_px)), (float(plane_size[0]), float(plane_size[1]))
    )


def _estimate_focal(square_homography, centre, longer_side, plane_size) -> float:
    """Focal in pixels from r1 . r2 = 0 (and |r1| = |r2| when the rectangle's size is known)."""
    shift = np.array([[1.0, 0.0, -centre[0]], [0.0, 1.0, -centre[1]], [0.0, 0.0, 1.0]])
    # Pixels relative to the principal point, in units of the longer side: numbers near 1.
    H = np.diag([1.0 / longer_side, 1.0 / longer_side, 1.0]) @ shift @ square_homography
    if plane_size is not None:
        H = H @ np.diag([1.0 / plane_size[0], 1.0 / plane_size[1], 1.0])
    H /= np.linalg.norm(H)
    a, b = H[:, 0], H[:, 1]
    # Each constraint reads c * w + d = 0 with w = 1 / focal^2 (focal in longer-side units).
    constraints = [(a[0] * b[0] + a[1] * b[1], a[2] * b[2])]
    if plane_size is not None:
        constraints.append((a[0] ** 2 + a[1] ** 2 - b[0] ** 2 - b[1] ** 2, a[2] ** 2 - b[2] ** 2))
    c, d = np.array(constraints).T
    w = -np.dot(c, d) / np.dot(c, c) if np.dot(c, c) > 1e-18 else -1.0
    focal = 1.0 / np.sqrt(w) if w > 0 else np.nan
    # Beyond 0.2..10 longer sides (fields of view of about 5 to 136 degrees) the estimate is noise.
    if not 0.2 <= focal <= 10.0:
        log.warning("focal length not recoverable from this view; assuming a 28 mm lens")
        focal = DEFAULT_FOCAL_FRACTION
    return float(focal * longer_side)


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    """The rotation closest to ``matrix`` in the Frobenius norm (polar decomposition via SVD)."""
    u, _, vt = np.linalg.svd(matrix)
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt


def _refine_pose(corners, K, R, t, plane_size):
    """Least-squares reprojection refinement of the closed-form pose (helps with noisy clicks)."""
    width, height = plane_size
    plane = np.array([[0, 0, 0], [width, 0, 0], [width, height, 0], [0, height, 0]], np.float64)
    ok, rvec, tvec = cv2.solvePnP(
        plane,
        corners.astype(np.float64),
        K,
        None,
        cv2.Rodrigues(R)[0],
        t.reshape(3, 1).copy(),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok or tvec[2, 0] <= 0:
        return R, t
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


def _normalise(points):
    """Hartley normalisation: (3, 3) similarity T, and the points moved to mean 0, RMS radius √2."""
    points = np.asarray(points, np.float64)
    mean = points.mean(0)
    spread = np.sqrt(np.mean(np.sum((points - mean) ** 2, axis=1)))
    s = np.sqrt(2.0) / max(spread, 1e-12)
    T = np.array([[s, 0.0, -s * mean[0]], [0.0, s, -s * mean[1]], [0.0, 0.0, 1.0]])
    return T, (points - mean) * s


# --- validation at the edge ----------------------------------------------------------------


def _check_image_size(image_size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height) in pixels, not {image_size!r}")
    if width < 2 or height < 2:
        raise ValueError(f"image_size must be at least 2 x 2 pixels, not {image_size!r}")
    return width, height


def _check_plane_size(plane_size) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in plane_size)
    except (TypeError, ValueError):
        raise ValueError(f"plane_size must be (width, height), not {plane_size!r}")
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"plane_size must be two positive numbers, not {plane_size!r}")
    return width, height


def _check_corners(corners_px, image_size, require_inside: bool) -> np.ndarray:
    """(4, 2) float64 corners, or DegenerateCornersError saying what is wrong with them."""
    try:
        corners = np.asarray(corners_px, np.float64)
    except (TypeError, ValueError):
        raise DegenerateCornersError("corners must be four (x, y) pixel pairs")
    if corners.shape != (4, 2):
        count = corners.shape[0] if corners.ndim == 2 and corners.shape[1] == 2 else "malformed"
        raise DegenerateCornersError(
            f"exactly four corners (x, y) are needed (TL, TR, BR, BL), got {count}"
        )
    if not np.all(np.isfinite(corners)):
        raise DegenerateCornersError("corners contain NaN or infinite coordinates")
    width, height = image_size
    outside = (corners[:, 0] < -0.5) | (corners[:, 0] > width - 0.5)
    outside |= (corners[:, 1] < -0.5) | (corners[:, 1] > height - 0.5)
    if require_inside and outside.any():
        names = [
            n
            for n, o in zip(("top-left", "top-right", "bottom-right", "bottom-left"), outside)
            if o
        ]
        raise DegenerateCornersError(
            f"corner(s) {', '.join(names)} lie outside the {width} x {height} image"
        )
    distances = np.linalg.norm(corners[:, None] - corners[None], axis=2)
    if distances[np.triu_indices(4, 1)].min() < MIN_CORNER_DISTANCE_PX:
        raise DegenerateCornersError(
            "two corners are (nearly) the same point: click four distinct corners"
        )
    edges = np.roll(corners, -1, axis=0) - corners  # edge i runs from corner i to corner i + 1
    if _segments_cross(corners[0], corners[1], corners[2], corners[3]) or _segments_cross(
        corners[1], corners[2], corners[3], corners[0]
    ):
        raise DegenerateCornersError(
            "the corners form a self-crossing shape: give them in the order top-left, top-right, "
            "bottom-right, bottom-left"
        )
    turns = np.cross(edges, np.roll(edges, -1, axis=0))  # turn at corners 1, 2, 3, 0
    sines = turns / (
        np.linalg.norm(edges, axis=1) * np.linalg.norm(np.roll(edges, -1, axis=0), axis=1)
    )
    if np.abs(sines).min() < np.sin(np.radians(MIN_CORNER_ANGLE_DEG)):
        raise DegenerateCornersError(
            "three corners are (nearly) on one line: the shape is not a rectangle's image"
        )
    if not (np.all(turns > 0) or np.all(turns < 0)):
        raise DegenerateCornersError(
            "the corners do not form a convex shape, so they cannot be a rectangle's image"
        )
    if np.all(turns < 0):
        raise DegenerateCornersError(
            "the corners run counter-clockwise: give them as top-left, top-right, bottom-right, "
            "bottom-left as you see them"
        )
    return corners


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Whether the closed segments p1-p2 and q1-q2 properly intersect."""

    def side(a, b, c):
        return np.sign(np.cross(b - a, c - a))

    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


# --- feature matching helpers --------------------------------------------------------------


def _size_of(image) -> tuple[int, int]:
    if isinstance(image, Image.Image):
        return image.size
    return np.asarray(image).shape[1], np.asarray(image).shape[0]


def _gray_for_matching(image) -> tuple[np.ndarray, np.ndarray]:
    """8-bit grayscale at most FEATURE_MAX_SIDE large and the (3, 3) map full -> working pixels."""
    if isinstance(image, Image.Image):
        gray = np.asarray(image.convert("L"))
    else:
        array = np.asarray(image)
        if array.ndim == 3:
            array = cv2.cvtColor(array[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
        gray = array.astype(np.uint8)
    s = min(1.0, FEATURE_MAX_SIDE / max(gray.shape))
    if s < 1.0:
        size = (max(1, round(gray.shape[1] * s)), max(1, round(gray.shape[0] * s)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        sx, sy = size[0] / _size_of(image)[0], size[1] / _size_of(image)[1]
    else:
        sx = sy = 1.0
    # Pixel centres at integers: a pixel's edge -0.5 maps to -0.5 at either size.
    scale = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return gray, scale


def _refine_by_alignment(reference, scene, homography) -> np.ndarray:
    """Homography refined by ECC image alignment; the feature estimate if alignment fails.

    Feature positions are off by a pixel or so under foreshortening, which is a few degrees of
    camera tilt; aligning the pictures' intensities removes most of that. The reference is first
    shrunk to about its size in the scene: finer detail cannot help and costs time.
    """
    corners = corners_from_homography(homography, reference.shape[::-1])
    area_in_scene = 0.5 * abs(np.sum(np.cross(corners, np.roll(corners, -1, axis=0))))
    s = min(1.0, np.sqrt(area_in_scene / reference.size))
    size = (max(8, round(reference.shape[1] * s)), max(8, round(reference.shape[0] * s)))
    template = cv2.resize(reference, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    sx, sy = size[0] / reference.shape[1], size[1] / reference.shape[0]
    shrink = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    start = homography @ np.linalg.inv(shrink)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        _, warp = cv2.findTransformECC(
            template,
            scene.astype(np.float32),
            (start / start[2, 2]).astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            None,
            3,
        )
    except cv2.error:
        return homography  # no convergence (e.g. a textureless region): keep the feature fit
    refined = warp.astype(np.float64) @ shrink
    moved = np.abs(corners_from_homography(refined, reference.shape[::-1]) - corners).max()
    # Alignment that wanders off by more than a tenth of the outline found a different optimum.
    if not np.isfinite(moved) or moved > 0.1 * np.sqrt(area_in_scene):
        return homography
    return refined / refined[2, 2]


def _check_found_outline(homography, reference_size, scene_size) -> None:
    """ReferenceNotFoundError unless the picture's outline is a plausible convex quadrilateral."""
    width, height = reference_size
    outline = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], np.float64)
    mapped = outline @ homography.T
    if np.any(mapped[:, 2] <= 0):
        raise ReferenceNotFoundError(
            "reference picture not found: the match folds behind the camera"
        )
    quad = mapped[:, :2] / mapped[:, 2:]
    edges = np.roll(quad, -1, axis=0) - quad
    turns = np.cross(edges, np.roll(edges, -1, axis=0))
    area = 0.5 * abs(np.sum(np.cross(quad, np.roll(quad, -1, axis=0))))
    scene_area = float(scene_size[0] * scene_size[1])
    if not np.all(turns > 0):
        raise ReferenceNotFoundError("reference picture not found: the matched outline is twisted")
    if area < max(0.0005 * scene_area, 256.0) or area > 16.0 * scene_area:
        raise ReferenceNotFoundError(
            "reference picture not found: the matched outline has an implausible size"
        )


# --- compositing ---------------------------------------------------------------------------


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
