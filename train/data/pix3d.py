"""Loader of Pix3D's layout (the real Pix3D or one written by train.data.render_views).

    <root>/pix3d.json   a list of entries with Pix3D's fields (img, mask, voxel, bbox, category,
                        model, ...; generated data adds "background": "clean" | "room")

read_annotations(root) -> list[Pix3DEntry]      validated, paths resolved inside root
split_of(model) -> "train" | "val" | "test"      by model, never by image (stable hash)
Pix3DDataset(root, split, ...)                   torch Dataset of dicts:
    pixels (3, S, S) float32 in [-1, 1]   (recon.images.prepare_image, the app's preprocessing)
    voxels (D, D, D) float32 0/1          (voxel.mat -> canonical via recon.voxels, any-pooled)
    mask (S, S) float32 0/1               the object's visible pixels in `pixels`
    category int (index into CATEGORIES), azimuth / elevation float degrees (DESIGN.md
    "Viewpoint and category"; NaN when the entry has no camera), background str, model str

Cutout entries (background "cutout", rendered by train.data.render_views) are composited over a
background at load time (train.data.composite) when the dataset is given a `Compositing`; a share
of them then shows the whole frame with the object somewhere in it instead of the crop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from recon.images import IMAGE_SIZE, frame_image, load_image, prepare_image
from recon.voxels import load_pix3d_voxel, resample
from train.data.composite import Cutout, compose

if TYPE_CHECKING:
    from train.data.clutter_pieces import PieceBank

log = logging.getLogger(__name__)

CATEGORIES = ("bed", "bookcase", "chair", "desk", "sofa", "table", "wardrobe")
SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}  # shares of the models, in this order


class Pix3DError(ValueError):
    """The annotations or files of a Pix3D-style root are unusable (message names the file)."""


@dataclass(frozen=True)
class Pix3DEntry:
    """One annotated image; paths are absolute and inside the root."""

    image: Path
    mask: Path
    voxel: Path
    model: str  # Pix3D's model path as written in pix3d.json (the split key)
    category: str
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels
    background: str  # "clean", "room", "cutout", or "real" for Pix3D's photos
    azimuth: float = float("nan")  # degrees, DESIGN.md convention; NaN without a camera
    elevation: float = float("nan")


# Pix3D's model frame is ours turned 180 degrees about Y (train.data.render_views)
_OURS_FROM_PIX3D = np.diag([-1.0, 1.0, -1.0])


def viewpoint(cam_position) -> tuple[float, float]:
    """(azimuth, elevation) in degrees (DESIGN.md) of a Pix3D `cam_position` (model frame)."""
    x, y, z = _OURS_FROM_PIX3D @ np.asarray(cam_position, np.float64)
    azimuth = float(np.degrees(np.arctan2(x, z))) % 360.0
    return azimuth, float(np.degrees(np.arcsin(np.clip(y / max(np.linalg.norm((x, y, z)), 1e-12), -1, 1))))


def _inside(root: Path, relative: str) -> Path | None:
    """root/relative resolved, or None when it leaves root (absolute path, '..', symlink)."""
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) else None


def read_annotations(root: str | Path, check_files: bool = True, on_missing: str = "raise") -> list[Pix3DEntry]:
    """Read <root>/pix3d.json into entries of known categories.

    Entries whose img/mask/voxel path leaves the root are always rejected (logged, dropped).
    check_files: verify the three files exist; on_missing "raise" raises Pix3DError naming the
    first missing file, "skip" drops the entry with a warning. Raises Pix3DError when
    pix3d.json is missing or not a JSON list.
    """
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    root = Path(root).resolve()
    annotations = root / "pix3d.json"
    try:
        rows = json.loads(annotations.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise Pix3DError(f"cannot read {annotations}: {error}") from error
    if not isinstance(rows, list):
        raise Pix3DError(f"{annotations} must hold a JSON list of entries")
    entries = []
    for row in rows:
        if row.get("category") not in CATEGORIES:
            continue
        paths = {key: _inside(root, str(row.get(key, ""))) for key in ("img", "mask", "voxel")}
        escaping = [key for key, path in paths.items() if path is None]
        if escaping:
            log.warning("rejected %s: its %s path leaves %s", row.get("img"), escaping[0], root)
            continue
        missing = [path for path in paths.values() if check_files and not path.is_file()]
        if missing:
            if on_missing == "raise":
                raise Pix3DError(f"missing file {missing[0]} (entry {row['img']} of {annotations})")
            log.warning("skipped %s: missing %s", row["img"], missing[0])
            continue
        view = viewpoint(row["cam_position"]) if row.get("cam_position") is not None else (float("nan"),) * 2
        entries.append(Pix3DEntry(paths["img"], paths["mask"], paths["voxel"], str(row["model"]),
                                  row["category"], tuple(int(round(v)) for v in row["bbox"]),
                                  row.get("background", "real"), *view))
    return entries


def split_of(model: str) -> str:
    """Deterministic split of a model path ("train", "val" or "test"): a SHA-256 hash of the path
    maps it to [0, 1), cut at SPLITS' shares. Every image of a model lands in one split."""
    position = int.from_bytes(hashlib.sha256(model.encode()).digest()[:8], "big") / 2 ** 64
    edge = 0.0
    for name, share in SPLITS.items():
        edge += share
        if position < edge:
            return name
    return "test"


@dataclass(frozen=True)
class Compositing:
    """How cutout entries become photos: backgrounds {"photo": bank, "texture": bank} (either may
    be missing), the share of whole-frame views, a forced background kind (None: drawn) and
    whether photo effects, distractors and shadows are applied (train.data.composite.compose),
    and the renders of non-furniture pieces standing around the object (None: none)."""

    backgrounds: dict
    frame_fraction: float = 0.0
    kind: str | None = None
    effects: bool = True
    pieces: PieceBank | None = None


class Pix3DDataset(torch.utils.data.Dataset):
    """Images and voxel targets of one split of a Pix3D-style root.

    background: "white" paints outside the mask white (the app does the same with its masks),
    "keep" keeps the photo's or render's background. jitter: random crop shifts (defaults to on
    for "train"); draws come from numpy Generator((seed, epoch, index)), so runs repeat exactly
    and DataLoader workers need no seeding; call set_epoch each epoch for fresh jitter.
    compositing: how cutout entries get their backgrounds (None: they keep their black one);
    without jitter the draws depend on (seed, index) only, so a test set is the same every time.
    flip: training only, mirror half the samples left-right (grid along X, azimuth negated).
    Voxel grids are cached per model (per worker process).
    """

    def __init__(self, root: str | Path, split: str = "train", resolution: int = 32,
                 image_size: int = IMAGE_SIZE, background: str = "white", jitter: bool | None = None,
                 seed: int = 0, categories: tuple[str, ...] = CATEGORIES, on_missing: str = "raise",
                 compositing: Compositing | None = None, flip: bool = False):
        if split not in SPLITS and split != "all":
            raise ValueError(f"split must be one of {tuple(SPLITS)} or 'all', got {split!r}")
        self.entries = [e for e in read_annotations(root, on_missing=on_missing)
                        if e.category in categories and (split == "all" or split_of(e.model) == split)]
        self.resolution, self.image_size, self.background = resolution, image_size, background
        self.jitter = split == "train" if jitter is None else jitter
        self.seed, self.epoch = seed, 0
        self.compositing, self.flip = compositing, flip
        self._voxels: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def voxels(self, entry: Pix3DEntry) -> np.ndarray:
        """float32 (D, D, D) canonical target of an entry's model (cached)."""
        if entry.voxel not in self._voxels:
            canonical = load_pix3d_voxel(entry.voxel)
            self._voxels[entry.voxel] = resample(canonical.astype(np.float32), self.resolution)
        return self._voxels[entry.voxel]

    def cutout(self, entry: Pix3DEntry) -> Cutout:
        """A cutout entry's colour and coverage as stored (train.data.composite.Cutout)."""
        with Image.open(entry.image) as colour, Image.open(entry.mask) as coverage:
            return Cutout(np.asarray(colour.convert("RGB")), np.asarray(coverage.convert("L")))

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        rng = np.random.default_rng((self.seed, self.epoch, index)) if self.jitter else None
        framed = False
        if entry.background == "cutout" and self.compositing is not None:
            draws = rng if rng is not None else np.random.default_rng((self.seed, index))
            others = self.entries
            composite = compose(self.cutout(entry), draws, self.compositing.backgrounds,
                                distractor=lambda: self.cutout(others[draws.integers(len(others))]),
                                frame=draws.random() < self.compositing.frame_fraction,
                                kind=self.compositing.kind, effects=self.compositing.effects,
                                pieces=None if self.compositing.pieces is None
                                else lambda: self.compositing.pieces.draw(draws))
            image, mask = Image.fromarray(composite.rgb), composite.mask
            framed = composite.framed
        else:
            image = load_image(entry.image)
            with Image.open(entry.mask) as mask_image:
                mask = np.asarray(mask_image.convert("L")) >= 128
        if mask.shape != (image.height, image.width):
            raise Pix3DError(f"mask {entry.mask} is {mask.shape[::-1]}, image {entry.image} is {image.size}")
        if not mask.any():  # an occluder or the frame hid the whole object: show it uncut
            framed = True
        if framed:
            pixels = frame_image(image, self.image_size).pixels
            crop_mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
                (self.image_size, self.image_size), Image.Resampling.BILINEAR)) >= 128
        else:
            bbox = None if entry.background == "cutout" else entry.bbox
            prepared = prepare_image(image, self.image_size, mask=mask, bbox=bbox,
                                     background=self.background, jitter=rng)
            pixels, crop_mask = prepared.pixels, prepared.mask
        voxels, azimuth = self.voxels(entry), entry.azimuth
        if self.flip and rng is not None and rng.random() < 0.5:
            pixels, crop_mask, voxels = pixels[:, :, ::-1], crop_mask[:, ::-1], voxels[::-1]
            azimuth = (360.0 - azimuth) % 360.0
        return {
            "pixels": torch.from_numpy(np.ascontiguousarray(pixels)),
            "voxels": torch.from_numpy(np.ascontiguousarray(voxels)),
            "mask": torch.from_numpy(np.ascontiguousarray(crop_mask, dtype=np.float32)),
            "category": CATEGORIES.index(entry.category),
            "azimuth": float(azimuth),
            "elevation": float(entry.elevation),
            "background": entry.background,
            "model": entry.model,
        }
