"""The camera that sees a rectangle lying on a plane, from its four image corners.

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

from recon.ar.checks import check_corners, check_image_size, check_plane_size

log = logging.getLogger(__name__)

# Used when the focal length cannot be estimated (e.g. a rectangle seen head-on): a 28 mm
# equivalent lens, the field of view of most phone main cameras, as a share of the longer side.
DEFAULT_FOCAL_FRACTION = 28.0 / 36.0


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
    image_size = check_image_size(image_size)
    corners = check_corners(corners_px, image_size, require_inside=True)
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
    image_size = check_image_size(image_size)
    corners = check_corners(
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



def _camera_from_quad(corners, image_size, plane_size, focal_px) -> Camera:
    width_px, height_px = image_size
    centre = np.array([(width_px - 1) / 2.0, (height_px - 1) / 2.0])
    unit_square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    square_homography = homography_from_points(unit_square, corners)
    if plane_size is not None:
        plane_size = check_plane_size(plane_size)
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
