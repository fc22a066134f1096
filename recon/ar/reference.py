"""Find a known flat picture (poster, printed sheet) in a scene photo: the homography between them.

Pixel coordinates are ``(x, y)`` with pixel centres at integers; sizes are ``(width, height)``.
"""

import cv2
import numpy as np
from PIL import Image

from recon.ar.camera import corners_from_homography
from recon.errors import ReferenceNotFoundError

FEATURE_MAX_SIDE = 1024  # images are matched at most this large (speed; features stay stable)
MIN_INLIERS = 15


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
