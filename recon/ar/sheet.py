"""Find a white sheet of paper lying on a surface in a photo, without clicks.

Steps: candidate regions (bright, grey pixels at several thresholds, pixels brighter than their
neighbourhood, areas enclosed by edges) -> their outlines -> convex quadrilaterals -> corners
refined on the full-resolution photo (sub-pixel edge points across each side, a least-squares line
per side, one side's edge may be faint, corners where the lines meet) -> an inside that looks like
paper -> the candidates with the strongest edges checked, best first, as a rectangle of the
sheet's aspect under a pinhole camera with a plausible focal -> the first that passes, or None.

Corner order (DESIGN.md): TL, TR, BR, BL as seen (clockwise on screen), with TL -> TR along a
short side of the sheet, so ``camera_from_corners(corners, size, plane_size=(0.210, 0.297))``
reads an A4 sheet the right way round. Of the two short sides the upper one on screen comes
first. Pixel coordinates are ``(x, y)`` with pixel centres at integers.
"""

from typing import NamedTuple

import cv2
import numpy as np

A4_ASPECT = 297.0 / 210.0
LETTER_ASPECT = 279.4 / 215.9
WORKING_MAX_SIDE = 800  # candidates are searched at most this large; corners are refined at full size
THRESHOLD_LEVELS = 12  # global whiteness thresholds tried, between the median and the brightest
MIN_SIDE_PX = 8.0  # a side shorter than this (working pixels) is too small to measure
MAX_AREA_SHARE = 0.25  # a sheet covering more of the photo is a wall or a table, not a sheet
MIN_FILL = 0.85  # the region must fill its quadrilateral (area share)
FOCAL_RANGE = (0.5, 3.0)  # plausible focal lengths, in units of the photo's longer side
FOCAL_STEPS = 40  # focals tried across that range (4.6 % apart)
# A quadrilateral is a sheet's image if a posed rectangle of the sheet's aspect reprojects onto
# it this closely (largest corner distance): a pixel and a share of its longest side.
FIT_TOLERANCE_PX = 0.4
FIT_TOLERANCE_SHARE = 0.004
MIN_EDGE_CONTRAST = 12.0  # whiteness step (0-255) across the sheet's edges
MIN_EDGE_INLIERS = 0.5  # share of a side's points with a clear step on the fitted line
MAX_EDGE_RMS_PX = 0.8  # RMS distance of those points from their line
WEAK_SIDE_SHARE = 0.6  # one side of a quadrilateral may pass at this share of the two limits above
WEAK_SIDE_MIN_PX = 40.0  # if it is this long (full-size pixels): enough edge points to trust a line
MAX_INTERIOR_SPREAD = 14.0  # whiteness std inside the sheet once its shading gradient is removed
MAX_REFINED = 80  # candidates refined at full resolution (the most stable first)
MAX_FITTED = 8  # refined candidates tried as a rectangle (the best edges first)


def find_sheet(image: np.ndarray, aspect: float = A4_ASPECT) -> np.ndarray | None:
    """(4, 2) float64 corners TL, TR, BR, BL (pixels, sub-pixel) of a white sheet, or None.

    image: (H, W, 3) uint8 RGB photo (a PIL image is converted). aspect: the sheet's long side
    over its short side (297/210 for A4, LETTER_ASPECT for Letter). None when no candidate is
    both a plausible view of such a sheet and a clean bright quadrilateral; when several are, the
    one with the strongest, straightest edges. Raises ValueError for an image that is not
    (H, W, 3) uint8 or an aspect below 1.
    """
    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 16:
        raise ValueError(f"find_sheet needs an (H, W, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    if not np.isfinite(aspect) or aspect < 1.0:
        raise ValueError(f"aspect is the long side over the short side (>= 1), not {aspect}")
    search = _search(rgb)
    refined = []  # (score, corners): clean bright quadrilaterals with straight edges
    for corners, votes in zip(search.corners[search.worth], search.votes[search.worth]):
        found = _refined_quad(corners, rgb, search.whiteness, search.smooth, search.photo_median)
        if found is not None:
            refined.append((found[1] * np.sqrt(votes), found[0]))
    refined.sort(key=lambda entry: -entry[0])
    image_size = (rgb.shape[1], rgb.shape[0])
    for _, corners in refined[:MAX_FITTED]:
        labelled = _label_corners(corners, image_size, aspect)
        if labelled is not None:
            return labelled
    return None


class _Search(NamedTuple):
    """find_sheet's images and candidates before the per-candidate fits."""

    whiteness: np.ndarray  # (H, W) uint8: the smallest RGB channel
    smooth: np.ndarray  # (H, W) float32: whiteness blurred (sigma 1), where edges are fitted
    photo_median: float  # median whiteness of the photo (working size)
    corners: np.ndarray  # (N, 4, 2) candidate quadrilaterals, full-size pixels, most votes first
    votes: np.ndarray  # (N,) how many region masks gave each
    worth: np.ndarray  # (N,) bool: passed both quick screens, so worth fitting


def _search(rgb: np.ndarray) -> _Search:
    """Candidates of an (H, W, 3) uint8 photo, searched at most WORKING_MAX_SIDE large, and
    whether each passes the quick screens (all at once, before the costly edge fits)."""
    red, green, blue = cv2.split(rgb)
    whiteness = cv2.min(cv2.min(red, green), blue)  # bright and grey: high in every channel
    scale = min(1.0, WORKING_MAX_SIDE / max(rgb.shape[:2]))
    small = whiteness if scale == 1.0 else cv2.resize(
        whiteness, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    photo_median = float(np.median(small))
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    candidates = _candidate_quads(small)[:MAX_REFINED]
    quads = np.array([quad for quad, _ in candidates]).reshape(-1, 4, 2)
    votes = np.array([count for _, count in candidates], int)
    smooth = cv2.GaussianBlur(whiteness.astype(np.float32), (0, 0), 1.0)
    # Working pixel centres sit at (x + 0.5) / scale - 0.5 in the full image.
    corners = (quads + 0.5) / scale - 0.5
    worth = _brighter_than_around(quads, small, photo_median) & _edges_may_fit(corners, smooth)
    return _Search(whiteness, smooth, photo_median, corners, votes, worth)


def _candidate_quads(whiteness: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Convex quadrilaterals (4, 2) of bright regions in working pixels, with their vote counts.

    Regions: pixels above each of THRESHOLD_LEVELS whiteness levels, pixels brighter than their
    neighbourhood, and areas enclosed by edges (for a sheet touching something as bright as
    itself). A quadrilateral found in many of these masks is a stable region (like an MSER): it
    is listed once, with the number of masks that gave it, most votes first.
    """
    levels = np.linspace(np.percentile(whiteness, 50), np.percentile(whiteness, 99.8),
                         THRESHOLD_LEVELS + 2)[1:-1]
    masks = [cv2.threshold(whiteness, level, 1, cv2.THRESH_BINARY)[1] for level in levels]  # > level
    local = cv2.blur(whiteness, (31, 31))
    masks.append((whiteness.astype(np.int16) > local.astype(np.int16) + 8).astype(np.uint8))
    kernel = np.ones((3, 3), np.uint8)
    masks = [(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), 0.0) for mask in masks]
    # Areas enclosed by edges, with short gaps in the edges closed: their outlines lie inside
    # the edges by the closing's radius plus a pixel, so they are grown back by that much.
    edge_maps = {limits: cv2.Canny(whiteness, *limits) for limits in ((20, 50), (10, 30))}
    for limits, radius in (((20, 50), 1), ((10, 30), 1), ((20, 50), 3)):
        edges = cv2.dilate(edge_maps[limits], np.ones((2 * radius + 1,) * 2, np.uint8))
        masks.append((1 - edges // 255, radius + 1.0))
    min_area, max_area = MIN_SIDE_PX**2, MAX_AREA_SHARE * whiteness.size
    quads, votes = np.zeros((0, 4, 2)), []
    for mask, growth in masks:
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if len(contour) < 4 or not min_area <= cv2.contourArea(contour) <= max_area:
                continue
            quad = _quad_of(contour)
            if quad is None:
                continue
            quad = _grown(quad, growth) if growth else quad
            same = np.flatnonzero(np.abs(quads - quad).max(axis=(1, 2)) < 2.5)
            if len(same):
                votes[same[0]] += 1
            else:
                quads = np.concatenate([quads, quad[None]])
                votes.append(1)
    order = np.argsort(votes, kind="stable")[::-1]
    return [(quads[i], votes[i]) for i in order]


def _brighter_than_around(quads: np.ndarray, whiteness: np.ndarray, photo_median: float) -> np.ndarray:
    """(N,) bool: whether each (4, 2) clockwise quadrilateral (working pixels) may hold a sheet.

    A quick, loose form of _looks_like_paper's brightness test, for all candidates at once and
    before the costly edge fits: at 25 points inside, the quadrilateral is brighter than the
    photo's median, and brighter by half MIN_EDGE_CONTRAST than the darker quarter of 24 points
    3 pixels outside its sides (up to three sides may run along something as bright as the paper,
    or brighter, as long as a soft shadow or a dark strip marks their edges at full size).
    """
    if not len(quads):
        return np.zeros(0, bool)
    grid = np.linspace(0.2, 0.8, 5)
    u, v = (axis.ravel() for axis in np.meshgrid(grid, grid))
    weights = np.stack([(1 - u) * (1 - v), u * (1 - v), u * v, (1 - u) * v], axis=1)  # bilinear, (25, 4)
    inside = np.einsum("pk,nkd->npd", weights, quads)
    starts, ends = quads, np.roll(quads, -1, axis=1)
    directions = (ends - starts) / np.linalg.norm(ends - starts, axis=2, keepdims=True)
    normals = np.stack([directions[..., 1], -directions[..., 0]], axis=2)  # outward, clockwise, y down
    along = np.linspace(0.15, 0.85, 6)[None, None, :, None]
    outside = starts[:, :, None] + along * (ends - starts)[:, :, None] + 3.0 * normals[:, :, None]
    points = np.concatenate([inside, outside.reshape(len(quads), 24, 2)], axis=1).astype(np.float32)
    values = cv2.remap(whiteness.astype(np.float32), points[..., 0], points[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    inner, outer = np.median(values[:, :25], axis=1), np.percentile(values[:, 25:], 25, axis=1)
    return (inner > photo_median) & (inner >= outer + 0.5 * MIN_EDGE_CONTRAST)


def _edges_may_fit(quads: np.ndarray, smooth: np.ndarray, reach: float = 5.0) -> np.ndarray:
    """(N,) bool: whether each (4, 2) clockwise quadrilateral (full-size pixels) can pass the
    first pass of _side_lines: the same profile ends, the same inlier-share tests, for all
    candidates in one remap. False here means _refine_corners would return None."""
    if not len(quads):
        return np.zeros(0, bool)
    starts, ends = quads, np.roll(quads, -1, axis=1)
    lengths = np.linalg.norm(ends - starts, axis=2)  # (N, 4)
    directions = (ends - starts) / np.maximum(lengths, 1e-9)[..., None]
    normals = np.stack([directions[..., 1], -directions[..., 0]], axis=2)
    outward = np.sum(normals * ((starts + ends) / 2 - quads.mean(1, keepdims=True)), axis=2) >= 0
    normals = np.where(outward[..., None], normals, -normals)
    counts = np.clip(lengths / 3, 8, 60).astype(int)  # as in _side_line
    index = np.arange(60)
    used = index < counts[..., None]  # (N, 4, 60)
    along = (0.1 + 0.8 * index / np.maximum(counts[..., None] - 1, 1)) * lengths[..., None]
    points = starts[:, :, None] + along[..., None] * directions[:, :, None]
    ends_across = np.stack([points - reach * normals[:, :, None], points + reach * normals[:, :, None]], axis=3)
    flat = ends_across.reshape(-1, 2, 2).astype(np.float32)
    values = cv2.remap(smooth, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    step_sizes = np.abs(values[:, 0] - values[:, 1]).reshape(used.shape)

    def passing(share: float) -> np.ndarray:
        strong = (step_sizes > 0.5 * share * MIN_EDGE_CONTRAST) & used
        found = strong.sum(axis=2)
        return (found >= 4) & (found / counts >= share * MIN_EDGE_INLIERS) & (lengths >= 2 * reach)

    strict, weak = passing(1.0), passing(WEAK_SIDE_SHARE) & (lengths >= WEAK_SIDE_MIN_PX)
    failing = (~strict).sum(axis=1)
    return (failing == 0) | ((failing == 1) & np.any(~strict & weak, axis=1))


def _quad_of(contour: np.ndarray) -> np.ndarray | None:
    """The (4, 2) clockwise quadrilateral a contour fills, or None if it is no quadrilateral."""
    area = cv2.contourArea(contour)
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for share in (0.02, 0.035, 0.05):
        approx = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(approx) == 4:
            break
    else:
        return None
    quad = approx.reshape(4, 2).astype(np.float64)
    quad_area = abs(cv2.contourArea(quad.astype(np.float32)))
    if quad_area <= 0 or area / quad_area < MIN_FILL:
        return None
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    if sides.min() < MIN_SIDE_PX:
        return None
    return _clockwise(quad)


def _grown(quad: np.ndarray, distance: float) -> np.ndarray:
    """The clockwise quadrilateral with every side moved ``distance`` pixels outward."""
    lines = []
    for start, end in zip(quad, np.roll(quad, -1, axis=0)):
        direction = (end - start) / np.linalg.norm(end - start)
        normal = np.array([direction[1], -direction[0]])  # outward for clockwise order, y down
        lines.append(np.array([normal[0], normal[1], normal @ start + distance]))
    return np.array([_intersection(lines[i - 1], lines[i]) for i in range(4)])


def _clockwise(quad: np.ndarray) -> np.ndarray:
    """The same four points in clockwise order on screen (y down), starting anywhere."""
    centre = quad.mean(0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    return quad[np.argsort(angles)]


def _refined_quad(corners, rgb, whiteness, smooth, photo_median):
    """(corners (4, 2) clockwise, edge contrast) moved onto the edges near ``corners``, or None.

    Works on a crop around the candidate of ``smooth`` (the whiteness smoothed, as float). None
    when the sides are not clear straight edges or the inside is not plain paper.
    """
    height, width = whiteness.shape
    margin = 12
    low = np.maximum(np.floor(corners.min(0)).astype(int) - margin, 0)
    high = np.minimum(np.ceil(corners.max(0)).astype(int) + margin + 1, [width, height])
    crop = (slice(low[1], high[1]), slice(low[0], high[0]))
    local = smooth[crop]
    refined = _refine_corners(corners - low, local)
    if refined is None:
        return None
    corners, contrast = refined
    red, green, blue = cv2.split(rgb[crop])
    saturation = (cv2.max(cv2.max(red, green), blue) - whiteness[crop]).astype(np.float32)
    if not _looks_like_paper(_clockwise(corners), local, saturation, photo_median):
        return None
    return _clockwise(corners + low), contrast


def _label_corners(corners, image_size, aspect) -> np.ndarray | None:
    """Clockwise corners relabelled TL, TR, BR, BL with TL -> TR a short side, or None.

    None unless some focal length in FOCAL_RANGE makes the quadrilateral the image of a
    rectangle with right angles and the given aspect (principal point at the image centre).
    A far sheet fits either way round; then a fit whose best focal lies inside FOCAL_RANGE is
    preferred to one at its ends (whose best focal lies outside the plausible range), and
    otherwise the closer fit.
    """
    corners = _clockwise(corners)
    fits = [_rectangle_fit(np.roll(corners, -shift, axis=0), image_size, aspect) for shift in (0, 1)]
    longest = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).max()
    tolerance = FIT_TOLERANCE_PX + FIT_TOLERANCE_SHARE * longest
    passing = [shift for shift in (0, 1) if fits[shift][0] <= tolerance]
    if not passing:
        return None
    inside = [shift for shift in passing if not fits[shift][1]]
    shift = min(inside if len(inside) == 1 else passing, key=lambda shift: fits[shift][0])
    labelled = np.roll(corners, -shift, axis=0)
    # Of the two short sides, the upper one on screen is the top edge.
    if labelled[2:].mean(0)[1] < labelled[:2].mean(0)[1]:
        labelled = np.roll(labelled, -2, axis=0)
    return labelled


def _rectangle_fit(corners, image_size, aspect) -> tuple[float, bool]:
    """(smallest largest-corner reprojection error in pixels, whether that best focal is an end
    of FOCAL_RANGE) of a rectangle of ``aspect`` seen by a pinhole camera with a focal in
    FOCAL_RANGE, its principal point at the image centre.

    corners: (4, 2) clockwise, TL -> TR taken as the short side (width 1, height ``aspect``).
    """
    width, height = image_size
    longer = max(width, height)
    rectangle = np.array([[0, 0, 0], [1, 0, 0], [1, aspect, 0], [0, aspect, 0]], np.float64)
    best, best_step = np.inf, 0
    for step, focal in enumerate(np.geomspace(*FOCAL_RANGE, FOCAL_STEPS) * longer):
        K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
        ok, rotation, translation = cv2.solvePnP(rectangle, corners, K, None, flags=cv2.SOLVEPNP_IPPE)
        if not ok or translation[2, 0] <= 0:
            continue
        projected, _ = cv2.projectPoints(rectangle, rotation, translation, K, None)
        error = float(np.linalg.norm(projected.reshape(4, 2) - corners, axis=1).max())
        if error < best:
            best, best_step = error, step
    return best, best_step in (0, FOCAL_STEPS - 1)


def _refine_corners(corners, whiteness, passes=((5.0, 0.5), (2.0, 0.25))):
    """Corners moved onto the sheet's edges: (refined (4, 2), mean edge contrast) or None.

    Each pass looks for the steepest whiteness drop across each side within ``reach`` pixels
    (profile step ``step``), fits a line to those points and intersects neighbouring lines.
    None when a side has too few edge points on a straight line or too weak a step.
    """
    contrast = 0.0
    for reach, step in passes:
        fitted = _side_lines(corners, whiteness, reach, step)
        if fitted is None:
            return None
        lines, contrasts = zip(*fitted)
        corners = np.array([_intersection(lines[i - 1], lines[i]) for i in range(4)])
        if not np.all(np.isfinite(corners)):
            return None
        contrast = float(np.min(contrasts))
    height, width = whiteness.shape
    if (corners < -0.5).any() or (corners[:, 0] > width - 0.5).any() or (corners[:, 1] > height - 0.5).any():
        return None
    return corners, contrast


def _side_lines(corners, whiteness, reach, step):
    """[(line, contrast)] of the four sides from ``corners`` on, or None.

    One side at least WEAK_SIDE_MIN_PX long may have a faint or partly missing edge (lying against
    something as bright as the paper): it is fitted with the weak limits. None when a second side
    fails.
    """
    centre = corners.mean(0)
    sides = list(zip(corners, np.roll(corners, -1, axis=0)))
    fitted, weak = [], None
    for index, (start, end) in enumerate(sides):
        fitted.append(_side_line(start, end, centre, whiteness, reach, step))
        if fitted[-1] is None:
            if weak is not None:
                return None
            weak = index
    if weak is not None:
        start, end = sides[weak]
        if np.linalg.norm(end - start) < WEAK_SIDE_MIN_PX:
            return None
        fitted[weak] = _side_line(start, end, centre, whiteness, reach, step, weak=True)
        if fitted[weak] is None:
            return None
    return fitted


def _side_line(start, end, centre, whiteness, reach, step, weak=False):
    """((a, b, c) line a x + b y = c with unit normal, contrast) of one side, or None.

    weak: the side's edge may be faint or partly missing (WEAK_SIDE_SHARE of the thresholds):
    then a steepest drop at the end of a profile is no edge point (the edge lies beyond reach).
    """
    share = WEAK_SIDE_SHARE if weak else 1.0
    direction = end - start
    length = np.linalg.norm(direction)
    if length < 2 * reach:
        return None
    direction /= length
    normal = np.array([direction[1], -direction[0]])
    if np.dot(normal, (start + end) / 2 - centre) < 0:
        normal = -normal  # outward
    count = int(np.clip(length / 3, 8, 60))
    along = np.linspace(0.1, 0.9, count)[:, None] * length
    offsets = np.arange(-reach, reach + step / 2, step)
    points = start + along * direction  # (N, 2)
    samples = points[:, None, :] + offsets[None, :, None] * normal  # (N, S, 2)
    profiles = cv2.remap(whiteness, samples[..., 0].astype(np.float32), samples[..., 1].astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Either way across: a side can lie against something brighter than the paper.
    drop = np.abs(np.gradient(profiles, step, axis=1))
    peak = np.clip(np.argmax(drop[:, 1:-1], axis=1) + 1, 1, len(offsets) - 2)
    rows = np.arange(count)
    left, middle, right = drop[rows, peak - 1], drop[rows, peak], drop[rows, peak + 1]
    curvature = left - 2 * middle + right
    shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1), 0.0)
    position = offsets[peak] + np.clip(shift, -0.5, 0.5) * step
    edge_points = points + position[:, None] * normal
    step_sizes = np.abs(profiles[:, 0] - profiles[:, -1])  # whiteness inside vs outside
    strong = step_sizes > 0.5 * share * MIN_EDGE_CONTRAST
    if weak:
        strong &= (peak > 1) & (peak < len(offsets) - 2)
    if strong.sum() < 4 or strong.mean() < share * MIN_EDGE_INLIERS:
        return None
    line, inliers, rms = _fit_line(edge_points[strong])
    if inliers * strong.mean() < share * MIN_EDGE_INLIERS or rms > MAX_EDGE_RMS_PX:
        return None
    step_size = float(np.median(step_sizes[strong]))
    if step_size < share * MIN_EDGE_CONTRAST:
        return None
    return line, step_size


def _fit_line(points: np.ndarray):
    """Total least-squares line (a, b, c), a x + b y = c, |(a, b)| = 1, through (N, 2) points.

    Two rounds: points farther than 1 px (or 3 robust sigmas) from the first line are dropped.
    Returns (line, share of points kept, RMS distance of the kept points in pixels).
    """
    keep = np.ones(len(points), bool)
    for _ in range(2):
        centre = points[keep].mean(0)
        _, _, vt = np.linalg.svd(points[keep] - centre, full_matrices=False)
        normal = vt[1]
        distances = (points - centre) @ normal
        spread = 1.4826 * np.median(np.abs(distances[keep]))
        keep = np.abs(distances) <= max(1.0, 3.0 * spread)
        if keep.sum() < 4:
            return np.array([normal[0], normal[1], normal @ centre]), 0.0, np.inf
    rms = float(np.sqrt(np.mean(distances[keep] ** 2)))
    return np.array([normal[0], normal[1], normal @ centre]), float(keep.mean()), rms


def _intersection(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(2,) point where two lines a x + b y = c meet (NaN when parallel)."""
    matrix = np.array([first[:2], second[:2]])
    if abs(np.linalg.det(matrix)) < 1e-9:
        return np.full(2, np.nan)
    return np.linalg.solve(matrix, np.array([first[2], second[2]]))


def _looks_like_paper(corners, whiteness, saturation, photo_median) -> bool:
    """Whether the inside of the clockwise quadrilateral (crop pixels) looks like a white sheet:
    uniform once a linear shading ramp is removed, nearly grey, brighter than the photo's median
    and than a band just outside it."""
    inner = _polygon_mask(corners.mean(0) + 0.8 * (corners - corners.mean(0)), whiteness.shape)
    band = _polygon_mask(_grown(corners, 6.0), whiteness.shape) & ~_polygon_mask(_grown(corners, 2.0), whiteness.shape)
    ys, xs = np.nonzero(inner)
    if len(xs) < 12 or not band.any():
        return False
    values = whiteness[ys, xs]
    ramp = np.column_stack([xs, ys, np.ones(len(xs))]).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(ramp, values, rcond=None)
    spread = float(np.std(values - ramp @ coefficients))
    brightness = float(np.median(values))
    grey = float(np.median(saturation[ys, xs]))
    return (spread <= MAX_INTERIOR_SPREAD and grey <= 0.25 * brightness + 8
            and brightness > photo_median and brightness >= float(np.median(whiteness[band])) + MIN_EDGE_CONTRAST)


def _polygon_mask(corners, shape) -> np.ndarray:
    """(H, W) bool: pixels inside the convex polygon (sub-pixel vertices, 1/16 px precision)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    return mask.astype(bool)
