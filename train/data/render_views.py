"""Render any mesh source into Pix3D's layout, so one loader serves real and generated data.

    <root>/img/<category>/<id>.png                 RGB view
    <root>/mask/<category>/<id>.png                object mask, L mode 0/255
    <root>/model/<category>/<name>/model.obj       mesh in Pix3D's model frame
    <root>/model/<category>/<name>/voxel.mat       key 'voxel', uint8 128^3, Pix3D's voxel axes
    <root>/pix3d.json                              Pix3D's fields, plus "background": clean|room|cutout

A "cutout" view is the object alone: img holds its straight (not premultiplied) colour, black
where nothing was hit, and mask its anti-aliased coverage (0-255; >= 128 is the object, as for
every mask). The training loader composites cutouts over backgrounds drawn at load time
(train.data.composite), so one render serves any number of backgrounds.

Frames and cameras (Pix3D's, as its README and sample annotations show):
- Pix3D's model frame is ours (recon.voxels: +X viewer's right, +Y up, +Z front) turned 180
  degrees about Y: model (x, y, z) = (-X, Y, -Z). Meshes come in our canonical frame.
- A model point p goes to camera coordinates ``c = rot_mat @ p + trans_mat``; the camera's x
  points to the image's left, y up, z forward, so pixel ``u = W/2 - f c_x / c_z``,
  ``v = H/2 - f c_y / c_z`` with ``f = focal_length / 32 * W`` (focal_length in mm for a 32 mm
  wide sensor). ``cam_position = -rot_mat.T @ trans_mat``. The sample confirms the handedness:
  each rot_mat's rows satisfy x = y cross z, with y close to world up.
- ``inplane_rotation`` (radians) is the roll we apply about the optical axis.
Pixel centres sit at integer coordinates (recon.render's convention).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import scipy.io
import trimesh
from PIL import Image

from recon import voxels as recon_voxels
from recon.render import render_mesh
from train.data.backgrounds import plain_background, room_background

log = logging.getLogger(__name__)

SENSOR_WIDTH_MM = 32.0
PIX3D_FROM_OURS = np.diag([-1.0, 1.0, -1.0])  # model frame of Pix3D <- our canonical frame
OPENCV_FROM_PIX3D_CAMERA = np.diag([-1.0, -1.0, 1.0])  # camera x left/y up -> x right/y down
BACKGROUNDS = ("clean", "room", "cutout")


@dataclass(frozen=True)
class ViewpointDistribution:
    """Camera distribution in our canonical frame (angles in degrees).

    azimuth: angle of the camera about +Y from the object's front (+Z), positive toward +X;
    front views (|azimuth| <= 90) follow a normal law, `back_fraction` of views are uniform on the
    circle. distance: camera to object centre in units of the object's longest side, log-normal.
    offset: trans_mat x/z and y/z, the object's offset from the optical axis (normal).
    """

    azimuth_mean: float
    azimuth_std: float
    back_fraction: float
    elevation_mean: float
    elevation_std: float
    log_distance_mean: float
    log_distance_std: float
    log_focal_mean: float
    log_focal_std: float
    inplane_std: float
    offset_std: float
    truncated_fraction: float


def fit_viewpoints(annotations: Iterable[Mapping]) -> ViewpointDistribution:
    """Fit ViewpointDistribution to Pix3D annotations (dicts with rot_mat, trans_mat,
    focal_length, inplane_rotation, truncated; values parsed, not JSON strings)."""
    rows = list(annotations)
    R = np.array([r["rot_mat"] for r in rows], float)
    t = np.array([r["trans_mat"] for r in rows], float)
    camera = -np.einsum("nji,nj->ni", R, t) @ PIX3D_FROM_OURS  # camera centres, our frame
    distance = np.linalg.norm(camera, axis=1)
    azimuth = np.degrees(np.arctan2(camera[:, 0], camera[:, 2]))
    elevation = np.degrees(np.arcsin(camera[:, 1] / distance))
    front = np.abs(azimuth) <= 90
    focal = np.array([r["focal_length"] for r in rows], float)
    return ViewpointDistribution(
        azimuth_mean=float(azimuth[front].mean()), azimuth_std=float(azimuth[front].std()),
        back_fraction=float(1 - front.mean()),
        elevation_mean=float(elevation.mean()), elevation_std=float(elevation.std()),
        log_distance_mean=float(np.log(distance).mean()), log_distance_std=float(np.log(distance).std()),
        log_focal_mean=float(np.log(focal).mean()), log_focal_std=float(np.log(focal).std()),
        inplane_std=float(np.std([r["inplane_rotation"] for r in rows])),
        offset_std=float(np.concatenate([t[:, 0] / t[:, 2], t[:, 1] / t[:, 2]]).std()),
        truncated_fraction=float(np.mean([bool(r["truncated"]) for r in rows])),
    )


# fit_viewpoints on the 100 annotation rows shared with the project (Pix3D beds); tests re-fit
# them and compare. Only beds were available: other categories reuse these numbers.
PIX3D_VIEWPOINTS = ViewpointDistribution(
    azimuth_mean=10.8742, azimuth_std=31.7862, back_fraction=0.02,
    elevation_mean=15.2801, elevation_std=7.2564,
    log_distance_mean=0.4275, log_distance_std=0.4893,
    log_focal_mean=3.7928, log_focal_std=0.4860,
    inplane_std=0.0905, offset_std=0.0725, truncated_fraction=0.2,
)

# Our renders keep the camera outside the object and the object big enough to learn from.
DISTANCE_RANGE = (1.2, 6.0)
FILL_RANGE = (0.6, 0.95)  # projected object size / image size for an untruncated view
OVERFILL_RANGE = (1.0, 1.15)  # truncated views: the object sticks out of the image a little


@dataclass(frozen=True)
class PixCamera:
    """One Pix3D camera: rot_mat (3, 3), trans_mat (3,) act on model-frame points."""

    rot_mat: np.ndarray
    trans_mat: np.ndarray
    focal_length: float  # mm, 32 mm sensor width
    inplane_rotation: float  # radians
    image_size: tuple[int, int]  # (W, H)

    @property
    def focal_px(self) -> float:
        return self.focal_length / SENSOR_WIDTH_MM * self.image_size[0]

    def opencv(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(K, R, t) in OpenCV's convention acting on points of OUR canonical frame."""
        width, height = self.image_size
        K = np.array([[self.focal_px, 0, width / 2], [0, self.focal_px, height / 2], [0, 0, 1]])
        R = OPENCV_FROM_PIX3D_CAMERA @ self.rot_mat @ PIX3D_FROM_OURS
        return K, R, OPENCV_FROM_PIX3D_CAMERA @ self.trans_mat

    def project(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 3) in our canonical frame -> pixel coordinates (N, 2) (u, v)."""
        K, R, t = self.opencv()
        camera = points @ R.T + t
        return camera[:, :2] / camera[:, 2:] * self.focal_px + K[:2, 2]


def camera_from_annotation(entry: Mapping) -> PixCamera:
    """PixCamera from a pix3d.json entry (ours or Pix3D's)."""
    return PixCamera(np.array(entry["rot_mat"], float), np.array(entry["trans_mat"], float),
                     float(entry["focal_length"]), float(entry["inplane_rotation"]),
                     tuple(int(v) for v in entry["img_size"]))


def sample_camera(rng: np.random.Generator, vertices: np.ndarray, image_size: tuple[int, int],
                  distribution: ViewpointDistribution = PIX3D_VIEWPOINTS) -> tuple[PixCamera, bool]:
    """Draw a camera looking at a mesh (vertices (N, 3), canonical frame) -> (camera, truncated).

    Azimuth, elevation, distance, roll and optical-axis offset follow `distribution`; the focal
    length is then chosen so the object fills a random share of the image (the drawn distance
    keeps Pix3D's perspective strength).
    """
    d = distribution
    if rng.random() < d.back_fraction:
        azimuth = rng.uniform(-180, 180)
    else:
        azimuth = rng.normal(d.azimuth_mean, d.azimuth_std)
    elevation = np.clip(rng.normal(d.elevation_mean, d.elevation_std), -5, 60)
    distance = np.clip(np.exp(rng.normal(d.log_distance_mean, d.log_distance_std)), *DISTANCE_RANGE)
    a, e = np.radians(azimuth), np.radians(elevation)
    centre = distance * np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    centre = PIX3D_FROM_OURS @ centre  # into Pix3D's model frame
    forward = -centre / np.linalg.norm(centre)
    right_handed_x = np.cross([0.0, 1.0, 0.0], forward)  # image-left axis: x = y cross z
    x = right_handed_x / np.linalg.norm(right_handed_x)
    rotation = np.stack([x, np.cross(forward, x), forward])
    roll = rng.normal(0, d.inplane_std)
    c, s = np.cos(roll), np.sin(roll)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ rotation
    translation = -rotation @ centre
    translation[:2] += rng.normal(0, d.offset_std, 2) * translation[2]
    # Projection is linear in f about the principal point: scale f so the extreme vertex lands
    # at the wanted share of the half-image.
    truncated = rng.random() < d.truncated_fraction
    fill = rng.uniform(*(OVERFILL_RANGE if truncated else FILL_RANGE))
    unit = PixCamera(rotation, translation, SENSOR_WIDTH_MM / image_size[0], roll, image_size)
    offsets = np.abs(unit.project(vertices) - np.array(image_size) / 2)  # at f = 1 px
    focal_px = fill * min(image_size[0] / 2 / offsets[:, 0].max(), image_size[1] / 2 / offsets[:, 1].max())
    return PixCamera(rotation, translation, focal_px * SENSOR_WIDTH_MM / image_size[0], roll,
                     image_size), truncated


def horizon_row(camera: PixCamera) -> float:
    """Image row (pixels) where the horizontal floor plane vanishes for this camera."""
    K, R, _ = camera.opencv()
    forward = R[2] * np.array([1.0, 0.0, 1.0])  # the optical axis, flattened onto the floor
    direction = R @ (forward / max(np.linalg.norm(forward), 1e-9))
    if direction[2] <= 1e-6:
        return -1e3  # looking straight down: the horizon is far above the image
    return float(K[1, 1] * direction[1] / direction[2] + K[1, 2])


def render_view(mesh: trimesh.Trimesh, camera: PixCamera, background: str,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shade the mesh (canonical frame, vertex colours) over a background.

    Returns (rgb uint8 (H, W, 3), mask uint8 (H, W) coverage 0-255); light: random direction
    from above, random ambient share (Lambert + ambient). background: "clean", "room" or
    "cutout" (the object's colour alone, black around it).
    """
    width, height = camera.image_size
    K, R, t = camera.opencv()
    light = rng.normal(size=3)
    light[1] = abs(light[1]) + 0.5  # mostly from above, as rooms are lit
    rendering = render_mesh(mesh, K, R, t, (width, height), light_direction=light,
                            ambient=rng.uniform(0.25, 0.55), smooth=False)
    if background == "cutout":
        backdrop = np.zeros((height, width, 3))
    elif background == "room":
        backdrop = room_background(height, width, rng, horizon=horizon_row(camera))
    elif background == "clean":
        backdrop = plain_background(height, width, rng)
    else:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    alpha = rendering.alpha[..., None]
    exposure = rng.uniform(0.85, 1.15)
    colour = np.clip(rendering.colour * 255 * exposure, 0, 255)
    rgb = colour if background == "cutout" else colour * alpha + backdrop * (1 - alpha)
    return rgb.round().astype(np.uint8), (rendering.alpha * 255).round().astype(np.uint8)


def canonical_to_pix3d_voxels(grid: np.ndarray) -> np.ndarray:
    """Our canonical bool grid (D, D, D) -> Pix3D's voxel.mat axes (inverse of
    recon.voxels.pix3d_to_canonical's axis change, which must stay a signed permutation)."""
    flips = [axis for axis, flip in enumerate(recon_voxels.PIX3D_FLIPS) if flip]
    unflipped = np.flip(grid, axis=flips) if flips else grid
    return np.ascontiguousarray(unflipped.transpose(np.argsort(recon_voxels.PIX3D_AXES)))


def write_model(root: Path, category: str, name: str, mesh: trimesh.Trimesh,
                voxels: np.ndarray) -> tuple[str, str]:
    """Write model.obj (Pix3D model frame) and voxel.mat (Pix3D axes, 128^3 uint8).

    mesh: canonical frame; voxels: bool (128, 128, 128) canonical. Returns the two paths
    relative to root (POSIX), as pix3d.json stores them.
    """
    if voxels.shape != (128, 128, 128):
        raise ValueError(f"Pix3D voxel.mat is 128^3, got {voxels.shape}")
    folder = Path("model") / category / name
    (root / folder).mkdir(parents=True, exist_ok=True)
    turned = mesh.copy()
    turned.vertices = mesh.vertices @ PIX3D_FROM_OURS.T
    turned.export(root / folder / "model.obj", file_type="obj", include_normals=False)
    scipy.io.savemat(root / folder / "voxel.mat",
                     {"voxel": canonical_to_pix3d_voxels(voxels).astype(np.uint8)}, do_compression=True)
    return (folder / "model.obj").as_posix(), (folder / "voxel.mat").as_posix()


def render_views(root: Path, category: str, name: str, mesh: trimesh.Trimesh, voxels: np.ndarray,
                 views: int, rng: np.random.Generator, source: str = "recon3d-procedural",
                 image_size: int = 128, room_fraction: float = 0.5, cutout: bool = False) -> list[dict]:
    """Write one model and `views` renders of it under `root`; returns their pix3d.json entries.

    mesh: canonical frame with vertex/face colours; voxels: bool (128,)*3 canonical. Image ids
    are "<name>_<view>". Each entry records its background kind: "cutout" for every view when
    `cutout`, else "room" for a `room_fraction` share of views and "clean" for the others.
    """
    root = Path(root)
    model_path, voxel_path = write_model(root, category, name, mesh, voxels)
    for folder in ("img", "mask"):
        (root / folder / category).mkdir(parents=True, exist_ok=True)
    entries = []
    for view in range(views):
        camera, _ = sample_camera(rng, mesh.vertices, (image_size, image_size))
        if cutout:
            background = "cutout"
        else:
            background = "room" if rng.random() < room_fraction else "clean"
        rgb, coverage = render_view(mesh, camera, background, rng)
        mask = coverage >= 128
        if not mask.any():
            log.warning("empty render of %s view %d: skipped", name, view)
            continue
        image_id = f"{name}_{view:03d}"
        img = f"img/{category}/{image_id}.png"
        mask_path = f"mask/{category}/{image_id}.png"
        Image.fromarray(rgb).save(root / img, compress_level=1)
        saved_mask = coverage if cutout else mask.astype(np.uint8) * 255
        Image.fromarray(saved_mask).save(root / mask_path, compress_level=1)
        entries.append(_annotation(img, mask_path, category, camera, mask, model_path, voxel_path,
                                   source, background))
    return entries


def _annotation(img, mask_path, category, camera: PixCamera, mask, model_path, voxel_path,
                source, background) -> dict:
    rows, cols = np.nonzero(mask)
    height, width = mask.shape
    bbox = [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]
    touches_border = bbox[0] == 0 or bbox[1] == 0 or bbox[2] == width or bbox[3] == height
    return {
        "img": img, "category": category, "img_size": [width, height], "2d_keypoints": [],
        "mask": mask_path, "img_source": source, "model": model_path, "model_raw": "",
        "model_source": source, "3d_keypoints": "", "voxel": voxel_path,
        "rot_mat": camera.rot_mat.tolist(), "trans_mat": camera.trans_mat.tolist(),
        "focal_length": camera.focal_length,
        "cam_position": (-camera.rot_mat.T @ camera.trans_mat).tolist(),
        "inplane_rotation": camera.inplane_rotation, "truncated": bool(touches_border),
        "occluded": False, "slightly_occluded": False, "bbox": bbox, "background": background,
    }


def write_annotations(root: Path, entries: list[dict]) -> Path:
    """Write <root>/pix3d.json (a list, like Pix3D's), entries sorted by image path."""
    path = Path(root) / "pix3d.json"
    path.write_text(json.dumps(sorted(entries, key=lambda e: e["img"])))
    return path
