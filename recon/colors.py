"""Vertex colours taken from the photo: project the mesh into the crop the model saw, colour what
the camera saw, and fill what it did not see from the mirror-symmetric side or the nearest seen
vertex.

The camera follows recon.viewpoint (azimuth, elevation in the canonical frame). Its distance and
focal length are unknown, so the projection is fitted: the mesh is projected from a few candidate
distances (pinhole, and far away = weak perspective), each scaled and shifted so its bounding box
covers the object mask's bounding box in the crop (one scale per image axis, which also absorbs
part of the predicted shape's error in width or height), and the candidate whose silhouette
overlaps the mask best is used, for the projection and for the visibility rays alike.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.ndimage
import scipy.spatial
import trimesh

from recon.images import PreparedImage
from recon.viewpoint import image_axes, viewpoint_or_default

logger = logging.getLogger(__name__)

COLOR_MODES = ("photo", "plain")
NEUTRAL_COLOR = (200, 200, 200, 255)
RAY_OFFSET = 2e-3  # cube units a visibility ray starts off the surface, so it misses its own face
MIN_FACING = 0.1  # cos of the steepest angle between normal and view still sampled (grazing
#                   vertices sit on the silhouette, where the photo's pixels mix in background)
MASK_EROSION_PX = 1  # crop pixels peeled off the mask's edge so background does not bleed in
MAX_SNAP_PX = 4  # crop pixels a seen vertex may land outside the mask and still be sampled
CAMERA_DISTANCES = (1.5, 2.5, 4.0, None)  # cube units; None: far away (parallel projection)


def project_to_crop(vertices: np.ndarray, mask: np.ndarray, azimuth_deg: float,
                    elevation_deg: float, distance: float | None = None) -> np.ndarray:
    """Pixel coordinates (V, 2) as (x, y), pixel centres at integers, of canonical-frame vertices
    (V, 3) seen from the viewpoint, fitted to the bounding box of `mask` (S, S) bool.

    distance: the camera's distance from the centre in cube units (a pinhole camera), or None for
    weak perspective (parallel projection). Raises ValueError when the mask is empty.
    """
    if not mask.any():
        raise ValueError("the object mask is empty: there is nothing to fit the mesh to")
    right, up, toward = image_axes(azimuth_deg, elevation_deg)
    plane = np.stack([vertices @ right, -(vertices @ up)], axis=1)  # image y runs down
    if distance is not None:
        depth = distance - vertices @ toward
        plane = plane / np.maximum(depth, 1e-3)[:, None]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box_low = np.array([cols[0], rows[0]]) - 0.5  # pixel edges, not centres
    box_high = np.array([cols[-1], rows[-1]]) + 0.5
    low, high = plane.min(axis=0), plane.max(axis=0)
    scale = (box_high - box_low) / np.maximum(high - low, 1e-9)
    return (plane - low) * scale + box_low


def _silhouette_iou(pixels: np.ndarray, mask: np.ndarray) -> float:
    """IoU of `mask` with the pixels hit by projected vertices (V, 2), closed and filled."""
    splat = np.zeros(mask.shape, dtype=bool)
    cells = np.clip(np.round(pixels).astype(int), 0, np.array(mask.shape[::-1]) - 1)
    splat[cells[:, 1], cells[:, 0]] = True
    splat = scipy.ndimage.binary_fill_holes(scipy.ndimage.binary_closing(splat, iterations=2))
    return float((splat & mask).sum() / max((splat | mask).sum(), 1))


def fit_camera_distance(vertices: np.ndarray, mask: np.ndarray, azimuth_deg: float,
                        elevation_deg: float) -> float | None:
    """The CAMERA_DISTANCES entry (cube units; None: weak perspective) whose projection of the
    vertices best covers `mask` (S, S) bool: photos are taken from 1.5 to 6 object sizes away,
    where perspective moves the far end of a piece by several pixels."""
    scores = [_silhouette_iou(project_to_crop(vertices, mask, azimuth_deg, elevation_deg, d), mask)
              for d in CAMERA_DISTANCES]
    return CAMERA_DISTANCES[int(np.argmax(scores))]


def visible_vertices(mesh: trimesh.Trimesh, azimuth_deg: float, elevation_deg: float,
                     distance: float | None = None) -> np.ndarray:
    """bool (V,): vertices facing the camera whose ray toward it leaves the mesh without hitting
    it. distance: the camera's distance in cube units, None for parallel rays (weak perspective).
    Uses embree through trimesh when embreex is installed."""
    _, _, toward = image_axes(azimuth_deg, elevation_deg)
    vertices = np.asarray(mesh.vertices)
    if distance is None:
        directions = np.broadcast_to(toward, vertices.shape)
    else:
        directions = distance * toward - vertices
        directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    normals = np.asarray(mesh.vertex_normals)
    facing = np.einsum("ij,ij->i", normals, directions) > MIN_FACING
    candidates = np.flatnonzero(facing)
    visible = np.zeros(len(vertices), dtype=bool)
    if len(candidates) == 0:
        return visible
    origins = vertices[candidates] + RAY_OFFSET * normals[candidates]
    blocked = mesh.ray.intersects_any(origins, np.ascontiguousarray(directions[candidates]))
    visible[candidates[~blocked]] = True
    return visible


def _bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Values (N, C) of image (H, W, C) at (x, y) points (N, 2), edges clamped."""
    coordinates = [points[:, 1], points[:, 0]]
    return np.stack([scipy.ndimage.map_coordinates(image[..., c].astype(np.float64), coordinates,
                                                   order=1, mode="nearest")
                     for c in range(image.shape[2])], axis=1)


def photo_vertex_colors(mesh: trimesh.Trimesh, crop_rgb: np.ndarray, crop_mask: np.ndarray,
                        azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """RGBA uint8 (V, 4): each vertex's colour in the photo, for a canonical-frame mesh.

    crop_rgb: (S, S, 3) uint8, crop_mask: (S, S) bool: the square crop the model saw
    (recon.images.PreparedImage .crop / .mask). A vertex the camera sees (visible_vertices) takes
    the photo's colour where it lands (bilinear), inside the slightly eroded mask, or at the mask's
    nearest pixel when it lands at most MAX_SNAP_PX outside. A hidden one takes its mirror twin's
    colour (the vertex nearest to (-x, y, z)) when that twin was seen, else the nearest seen
    vertex's. With nothing seen (empty mask) every vertex is NEUTRAL_COLOR.
    Raises ValueError when the crop and mask shapes disagree.
    """
    crop_rgb = np.asarray(crop_rgb)
    crop_mask = np.asarray(crop_mask, dtype=bool)
    if crop_rgb.ndim != 3 or crop_rgb.shape[:2] != crop_mask.shape or crop_rgb.shape[2] < 3:
        raise ValueError(f"crop {crop_rgb.shape} and mask {crop_mask.shape} must be (S, S, 3) and (S, S)")
    vertices = np.asarray(mesh.vertices)
    colors = np.tile(np.array(NEUTRAL_COLOR, dtype=np.uint8), (len(vertices), 1))
    if not crop_mask.any() or len(vertices) == 0:
        return colors
    inner = scipy.ndimage.binary_erosion(crop_mask, iterations=MASK_EROSION_PX)
    if not inner.any():
        inner = crop_mask
    distance = fit_camera_distance(vertices, crop_mask, azimuth_deg, elevation_deg)
    pixels = project_to_crop(vertices, crop_mask, azimuth_deg, elevation_deg, distance)
    # A seen vertex landing just outside the (eroded) mask, as the fit is not exact, is sampled
    # at the nearest mask pixel; one further out is treated as unseen.
    gap, (nearest_row, nearest_col) = scipy.ndimage.distance_transform_edt(~inner, return_indices=True)
    cell = np.clip(np.round(pixels).astype(int), 0, np.array(crop_mask.shape[::-1]) - 1)
    cell_gap = gap[cell[:, 1], cell[:, 0]]
    outside = cell_gap > 0
    pixels[outside] = np.stack([nearest_col[cell[outside, 1], cell[outside, 0]],
                                nearest_row[cell[outside, 1], cell[outside, 0]]], axis=1)
    seen = visible_vertices(mesh, azimuth_deg, elevation_deg, distance) & (cell_gap <= MAX_SNAP_PX)
    if not seen.any():
        return colors
    rgb = np.zeros((len(vertices), 3))
    rgb[seen] = _bilinear(crop_rgb[..., :3], pixels[seen])
    hidden = np.flatnonzero(~seen)
    if len(hidden):
        _, twins = scipy.spatial.cKDTree(vertices).query(vertices[hidden] * np.array([-1.0, 1.0, 1.0]))
        twin_seen = seen[twins]
        rgb[hidden[twin_seen]] = rgb[twins[twin_seen]]
        rest = hidden[~twin_seen]
        if len(rest):
            seen_index = np.flatnonzero(seen)
            _, nearest = scipy.spatial.cKDTree(vertices[seen_index]).query(vertices[rest])
            rgb[rest] = rgb[seen_index[nearest]]
    colors[:, :3] = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return colors


def color_mesh(mesh: trimesh.Trimesh, prepared: PreparedImage, azimuth_deg: float | None = None,
               elevation_deg: float | None = None, colors: str = "photo") -> trimesh.Trimesh:
    """The mesh coloured as asked: "photo" returns a copy with photo_vertex_colors (viewpoint None:
    recon.viewpoint's default, logged); "plain" returns the mesh unchanged (its own colours, e.g.
    recon.mesh's confidence ramp). Raises ValueError for another mode."""
    if colors not in COLOR_MODES:
        raise ValueError(f"colors must be one of {', '.join(COLOR_MODES)}, got {colors!r}")
    if colors == "plain":
        return mesh
    azimuth_deg, elevation_deg = viewpoint_or_default(azimuth_deg, elevation_deg)
    painted = mesh.copy()
    painted.visual = trimesh.visual.ColorVisuals(painted, vertex_colors=photo_vertex_colors(
        mesh, np.asarray(prepared.crop.convert("RGB")), prepared.mask, azimuth_deg, elevation_deg))
    return painted
