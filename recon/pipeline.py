"""Photo in, voxel grid and mesh out: the one pipeline the app and the command line share.

    find_object (mask head on the whole photo) -> prepare_image (crop) -> predict (grid) and
    describe (category, camera, mask) -> grid_to_mesh -> color_mesh (the photo's colours)

`Reconstructor` loads a model once and runs batches; `get_reconstructor` caches one per
(model, weights, device) so the app and the command line load each model a single time.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image

from recon.generative_metrics import random_shapes
from recon.colors import color_mesh
from recon.hub import load_model, resolve_device
from recon.errors import InvalidImageError
from recon.images import (FLAT_RANGE, RIVAL_DOUBT, PreparedImage, clear_of_crop_edges, frame_image, kept_piece,
                          load_image, probabilities_from_crop, mask_from_frame, mask_in_box, piece_at, prepare_image,
                          rival_share)
from recon.mesh import grid_to_mesh
from recon.segmentation import refine_by_colour

logger = logging.getLogger(__name__)

MODEL_KINDS = ("cgan", "vae")
# The model whose mask head finds the object for both models, so they see one crop (the app, the
# evaluation's --finder): the VAE's, chosen on the finder validation (training shapes over MATE's
# photographs, 250 photos of seeds 11 and 7): mask IoU 0.758 / 0.754 with its head alone against
# 0.744 / 0.748 with both models' heads together (both retrained alike) and 0.740 / 0.742 before.
FINDER_MODEL = "vae"
CATEGORIES = ("bed", "bookcase", "chair", "desk", "sofa", "table", "wardrobe")  # DESIGN.md, the heads' order
MIN_OBJECT_SHARE = 0.002  # a found mask smaller than this share of the photo is no object
# The whole-photo search also looks at 2 x 2 overlapping tiles, each TILE_SHARE of the photo's
# longer side (a small object shows at nearly twice the size there); the passes' probabilities are
# averaged on a map of SEARCH_SIDE pixels along the photo's longer side.
TILE_SHARE = 0.6
SEARCH_SIDE = 256
# A click where the whole-photo search sees no object (its map below 0.5 under the click: a small or
# thin piece the head missed there): the head looks again at squares centred on the click, these
# shares of the photo's longer side, and keeps the smallest whose piece under the click stays clear
# of the square's inner edges (the whole piece in view). On the finder validation (training shapes
# over MATE's photographs, 250 photos each; the VAE's head), the click's mask IoU went 0.795 -> 0.825
# on seed 11, where the rule was found, and 0.795 -> 0.808 on seed 7 (found: 85 % -> 86 %).
ZOOM_SIDES = (0.3, 0.45, 0.65, 0.9)


@dataclass(frozen=True)
class ObjectReading:
    """What the model's heads read from a prepared photo: the category (one of CATEGORIES) and
    its scores, the camera (DESIGN.md "Viewpoint and category", degrees) and the object mask in
    the crop, float32 (S, S) probabilities."""

    category: str
    category_scores: dict[str, float]
    azimuth_deg: float
    elevation_deg: float
    mask: np.ndarray


@dataclass(frozen=True)
class Reconstruction:
    """One photo's result for one model.

    grid: (D, D, D) float32 occupancy probabilities in the canonical frame (see recon.voxels).
    mesh: the iso-surface of `grid`, canonical cube coordinates, Y up, front toward +Z.
    seed: the latent seed used (None when the model ran deterministically).
    timings: seconds per stage ("preprocess", "forward", "mesh").
    category, category_scores ({category: probability}), azimuth_deg, elevation_deg: what the
    model predicts about the object and the camera (recon.viewpoint), None when it has no such heads.
    """

    model: str
    grid: np.ndarray
    mesh: trimesh.Trimesh
    prepared: PreparedImage
    seed: int | None
    timings: dict[str, float] = field(default_factory=dict)
    category: str | None = None
    category_scores: dict[str, float] | None = None
    azimuth_deg: float | None = None
    elevation_deg: float | None = None


@dataclass(frozen=True)
class FoundObject:
    """What the object finder found in a whole photo: mask bool (H, W), the object's pixels (empty
    when nothing is found), and rival, how likely the runner-up piece it saw is the object as a
    share of the kept piece's (recon.images.rival_share; 0 with a click; at least
    recon.images.RIVAL_DOUBT: it may have kept the wrong piece)."""

    mask: np.ndarray
    rival: float = 0.0


@dataclass(frozen=True)
class GeneratedShape:
    """A shape the VAE made up from its prior (no photo): grid (D, D, D) float32 probabilities,
    its mesh (as in Reconstruction), and the seed of the latent draw."""

    grid: np.ndarray
    mesh: trimesh.Trimesh
    seed: int


@functools.cache
def _limit_cpu_threads() -> None:
    # torch defaults to every core; on a small shared CPU one request should not starve the server.
    # Once per process: changing the thread count while another thread computes is unsafe.
    if not torch.cuda.is_available() and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


class Reconstructor:
    """A loaded model that turns photos into voxel grids.

    model: "cgan" or "vae"; weights: a local folder, a Hub repo id, or None for the default
    (environment variable RECON_CGAN_WEIGHTS / RECON_VAE_WEIGHTS, else the embedded folder);
    device: "auto" (CUDA when present), "cpu" or "cuda".
    Raises ValueError for an unknown model and recon.errors.WeightsError for unusable weights.
    """

    def __init__(self, model: str = "cgan", weights: str | Path | None = None, device: str = "auto"):
        if model not in MODEL_KINDS:
            raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODEL_KINDS)}")
        _limit_cpu_threads()
        self.kind = model
        self.device = resolve_device(device)
        started = time.perf_counter()
        self.network = load_model(model, weights, device=self.device)
        self.load_seconds = time.perf_counter() - started
        self.image_size = int(self.network.image_size)
        self.resolution = int(self.network.resolution)

    def _batch(self, arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays)).to(self.device)

    def _search_map(self, image: Image.Image) -> np.ndarray:
        """Object probabilities over the whole photo, float32 (h, w) at SEARCH_SIDE along its
        longer side: the mask head on the letterboxed photo and on 2 x 2 overlapping tiles (one
        batch), averaged where they overlap (the whole photo weighs as much as its tiles)."""
        width, height = image.size
        scale = min(1.0, SEARCH_SIDE / max(width, height))
        map_w, map_h = max(1, round(width * scale)), max(1, round(height * scale))
        side = int(round(TILE_SHARE * max(width, height)))
        boxes = [(0, 0, width, height)]
        for fy in (0.0, 1.0):
            for fx in (0.0, 1.0):
                x0, y0 = int(fx * max(width - side, 0)), int(fy * max(height - side, 0))
                boxes.append((x0, y0, min(width, x0 + side), min(height, y0 + side)))
        framed = [frame_image(image.crop(box), self.image_size) for box in boxes]
        maps = self.network.describe(self._batch([f.pixels for f in framed]))["mask"].float().cpu().numpy()
        whole = np.zeros((map_h, map_w), np.float32)
        tiles, count = np.zeros_like(whole), np.zeros_like(whole)
        for k, (box, f, probabilities) in enumerate(zip(boxes, framed, maps)):
            left, top = f.offset
            cw, ch = f.image_size
            x0, y0 = int(round(box[0] * scale)), int(round(box[1] * scale))
            x1, y1 = max(x0 + 1, int(round(box[2] * scale))), max(y0 + 1, int(round(box[3] * scale)))
            placed = np.asarray(Image.fromarray(probabilities, mode="F").resize(
                (x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=(left, top, left + cw * f.scale, top + ch * f.scale)))
            if k == 0:
                whole[y0:y1, x0:x1] = placed
            else:
                tiles[y0:y1, x0:x1] += placed
                count[y0:y1, x0:x1] += 1
        return (whole + tiles / np.maximum(count, 1)) / 2

    def find_object(self, image: Image.Image, refine: bool = True, tiles: bool = True,
                    colours: bool = True, point: tuple[float, float] | None = None,
                    others: tuple["Reconstructor", ...] = ()) -> np.ndarray:
        """The object's pixels in a whole photo, bool (H, W): locate(...).mask (see there)."""
        return self.locate(image, refine, tiles, colours, point, others).mask

    def locate(self, image: Image.Image, refine: bool = True, tiles: bool = True,
               colours: bool = True, point: tuple[float, float] | None = None,
               others: tuple["Reconstructor", ...] = ()) -> FoundObject:
        """The object in a whole photo -> FoundObject: its pixels, bool (H, W) (empty when
        nothing is found), and how likely the runner-up piece was (`rival`).

        The model's mask head runs on the photo letterboxed into its input and, with `tiles`, on
        four overlapping tiles of it (where a small object is larger), and the likeliest piece of
        the averaged map is kept (much of it, near the centre: recon.images.likeliest_piece); with
        `refine` it runs again on the crop around what it found, where the object is large and its
        edges sharp, and that mask is mapped back (a second look, as a person would zoom in); with
        `colours` as well, the photo's own colours then settle its edges (recon.segmentation).
        point (x, y), photo pixels: a user's click on the object; the piece under it (or nearest
        to it) is kept instead of the likeliest one, at both looks (recon.images.piece_at); with
        `tiles`, where the whole-photo search sees no object under the click, squares centred on it
        are looked at instead (ZOOM_SIDES, _look_around).
        others: more loaded models whose mask heads look too; every map is the mean of all the
        heads' maps (an ensemble: the app finds the object once, with both models, and crops both
        models' inputs alike). Raises InvalidImageError when the point lies outside the photo, and
        ValueError when the models' input sizes differ.
        """
        finders = (self, *others)
        if any(finder.image_size != self.image_size for finder in finders):
            raise ValueError("models that find an object together need one input size, got "
                             + ", ".join(str(finder.image_size) for finder in finders))
        width, height = image.size
        if point is not None:
            x, y = (float(v) for v in point)
            if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < width and 0 <= y < height):
                raise InvalidImageError(f"the point ({x:g}, {y:g}) lies outside the {width}x{height} photo")

        if tiles:
            search = np.mean([finder._search_map(image) for finder in finders], axis=0)
            map_h, map_w = search.shape
            at = None if point is None else (min(point[0] * map_w / width, map_w - 1e-3),
                                             min(point[1] * map_h / height, map_h - 1e-3))
            if at is not None and search[int(at[1]), int(at[0])] < 0.5:
                return FoundObject(self._look_around(image, point, finders, colours))
            found = kept_piece(search, at)
            rival = rival_share(search) if point is None else 0.0
            mask = np.asarray(Image.fromarray(found, mode="F").resize(image.size, Image.Resampling.BILINEAR)) >= 0.5
        else:
            framed = frame_image(image, self.image_size)
            probabilities = np.mean([finder.network.describe(finder._batch([framed.pixels]))["mask"][0]
                                     .float().cpu().numpy() for finder in finders], axis=0)
            mask = mask_from_frame(probabilities, framed, point=point)
            rival = rival_share(probabilities) if point is None else 0.0
        if not refine or mask.mean() < MIN_OBJECT_SHARE:
            return FoundObject(mask, rival)
        crop = prepare_image(image, size=self.image_size, mask=mask, background="keep")
        probabilities = probabilities_from_crop(np.mean([finder.describe([crop])[0].mask for finder in finders], axis=0),
                                                crop, image.size)
        refined = refine_by_colour(np.asarray(image.convert("RGB")), probabilities) if colours else probabilities >= 0.5
        if point is not None:
            refined = piece_at(refined, point)
        return FoundObject(refined if refined.mean() >= MIN_OBJECT_SHARE else mask, rival)

    def _look_around(self, image: Image.Image, point: tuple[float, float], finders: tuple["Reconstructor", ...],
                     colours: bool) -> np.ndarray:
        """The piece under a click, bool (H, W), from looks at squares centred on it (ZOOM_SIDES;
        the finders' masks averaged): the smallest square whose piece stays clear of its inner
        edges, else the largest that shows one; edges settled by colour (refine_by_colour)."""
        width, height = image.size
        whole = np.ones((height, width), bool)
        crops = [prepare_image(image, size=self.image_size, mask=whole, background="keep",
                               bbox=(point[0] - side / 2, point[1] - side / 2, point[0] + side / 2, point[1] + side / 2))
                 for side in (share * max(width, height) for share in ZOOM_SIDES)]
        masks = np.mean([finder.network.describe(finder._batch([c.pixels for c in crops]))["mask"].float().cpu().numpy()
                         for finder in finders], axis=0)
        kept = None
        for crop, crop_mask in zip(crops, masks):
            probabilities = probabilities_from_crop(crop_mask, crop, image.size)
            if not (probabilities >= 0.5).any():
                continue
            piece = piece_at(probabilities >= 0.5, point)
            kept = np.where(piece, probabilities, np.minimum(probabilities, 0.3)).astype(np.float32)
            if clear_of_crop_edges(piece, crop.crop_box):
                break
        if kept is None:
            return np.zeros((height, width), bool)
        rough = kept >= 0.5
        refined = piece_at(refine_by_colour(np.asarray(image.convert("RGB")), kept), point) if colours else rough
        return refined if refined.mean() >= MIN_OBJECT_SHARE else rough

    def prepare(self, image: str | Path | bytes | Image.Image, box: tuple | None = None,
                mask: np.ndarray | None = None, point: tuple[float, float] | None = None,
                others: tuple["Reconstructor", ...] = ()) -> PreparedImage:
        """Load (when given a path or bytes) and crop one photo exactly as in training.

        The object: an alpha channel when the photo has one (the background is then painted
        white), else `mask` (bool (H, W), e.g. find_object's, when the caller has it already),
        else the model's own mask (find_object). box (x0, y0, x1, y1), photo pixels, ends
        exclusive: the user's correction; the crop is then made around it. point (x, y), photo
        pixels: a user's click on the object, which picks the piece find_object keeps (ignored with
        an alpha channel or a `mask`). others: more models that find the object with this one
        (find_object); the crop then serves each of them (one input size). The PreparedImage's
        `rival` is the finder's doubt (locate; 0 when an alpha channel, a mask, a box or a point
        said what the object is). Raises InvalidImageError for a flat photo, an empty box or a
        point outside the photo.
        """
        if not isinstance(image, Image.Image):
            image = load_image(image)
        if image.mode == "RGBA":
            return prepare_image(image, size=self.image_size, bbox=box, background="white")
        rgb = np.asarray(image.convert("RGB"))
        if np.ptp(rgb) <= FLAT_RANGE:
            raise InvalidImageError("the photo is one flat colour, so there is no object to reconstruct: "
                                    "use a photo that shows the piece of furniture")
        found = self.locate(image, point=point, others=others) if mask is None else FoundObject(np.asarray(mask, bool))
        mask, rival = found.mask, found.rival
        if box is not None:
            mask, rival = mask_in_box(mask, box), 0.0
        elif mask.mean() < MIN_OBJECT_SHARE:
            logger.info("no object found in the photo (mask share %.4f); using the whole photo", mask.mean())
            mask = np.ones_like(mask)
        elif rival >= RIVAL_DOUBT:
            logger.info("another piece in the photo looked %.0f %% as likely to be the object", 100 * rival)
        return replace(prepare_image(image, size=self.image_size, mask=mask, bbox=box, background="keep"),
                       rival=rival)

    def describe(self, images: list[PreparedImage]) -> list[ObjectReading]:
        """Category, camera and mask for prepared photos, in one batch (mirror-averaged)."""
        if not images:
            return []
        out = self.network.describe(self._batch([p.pixels for p in images]))
        readings = []
        for k in range(len(images)):
            scores = out["category"][k].float().cpu().numpy()
            readings.append(ObjectReading(
                CATEGORIES[int(np.argmax(scores))], {c: float(v) for c, v in zip(CATEGORIES, scores)},
                float(out["azimuth"][k]), float(out["elevation"][k]), out["mask"][k].float().cpu().numpy()))
        return readings

    def predict(self, images: list[PreparedImage], seed: int | None = None) -> list[np.ndarray]:
        """Occupancy grids for prepared photos, in one batch.

        seed: None runs the model deterministically (cGAN: z = 0, VAE: the mean latent); an int
        draws the latent from a generator seeded with it (the same seed gives the same grids).
        Returns one (D, D, D) float32 array per image.
        """
        if not images:
            return []
        batch = self._batch([p.pixels for p in images])
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
        with torch.inference_mode():
            probabilities = self.network.reconstruct(batch, generator=generator)
        return list(probabilities.float().cpu().numpy())

    def to_mesh(self, grid: np.ndarray, level: float = 0.5, smoothing: str | None = "taubin",
                color_by_confidence: bool = True) -> trimesh.Trimesh:
        """The grid's iso-surface at `level` (see recon.mesh.grid_to_mesh)."""
        return grid_to_mesh(grid, level=level, smoothing=smoothing,
                            color_by_confidence=color_by_confidence)

    def reconstruct(self, image: str | Path | bytes | Image.Image, seed: int | None = None,
                    level: float = 0.5, smoothing: str | None = "taubin",
                    colors: str = "photo", box: tuple | None = None,
                    point: tuple[float, float] | None = None) -> Reconstruction:
        """One photo -> grid, mesh (coloured as recon.colors.color_mesh: "photo" or "plain", from
        the predicted camera), category and camera, with the seconds each stage took. box, point: see
        prepare."""
        clock = time.perf_counter()
        prepared = self.prepare(image, box=box, point=point)
        timings = {"preprocess": time.perf_counter() - clock}
        clock = time.perf_counter()
        (grid,) = self.predict([prepared], seed=seed)
        (reading,) = self.describe([prepared])
        timings["forward"] = time.perf_counter() - clock
        clock = time.perf_counter()
        mesh = color_mesh(self.to_mesh(grid, level=level, smoothing=smoothing), prepared,
                          reading.azimuth_deg, reading.elevation_deg, colors=colors)
        timings["mesh"] = time.perf_counter() - clock
        return Reconstruction(self.kind, grid, mesh, prepared, seed, timings, reading.category,
                              reading.category_scores, reading.azimuth_deg, reading.elevation_deg)

    def random_furniture(self, seed: int, level: float = 0.5, smoothing: str | None = "taubin") -> GeneratedShape:
        """The VAE as a generator: one shape decoded from z ~ N(0, I) drawn with `seed`, and its mesh.

        Raises ValueError for the cGAN (it needs a photo), EmptyGridError when no voxel reaches `level`.
        """
        if self.kind != "vae":
            raise ValueError(f"random furniture needs the VAE (z ~ N(0, I) has no photo); this is the {self.kind}")
        (grid,) = random_shapes(self.network, 1, seed)
        return GeneratedShape(grid, self.to_mesh(grid, level=level, smoothing=smoothing), int(seed))


_LOADING = threading.Lock()


@functools.lru_cache(maxsize=8)
def _loaded(model: str, weights: str | None, device: str) -> Reconstructor:
    return Reconstructor(model, weights, device)


def get_reconstructor(model: str = "cgan", weights: str | None = None,
                      device: str = "auto") -> Reconstructor:
    """The process-wide Reconstructor for these arguments, loaded on first use, once even when
    several requests (threads) ask for it together."""
    with _LOADING:
        return _loaded(model, weights, device)
