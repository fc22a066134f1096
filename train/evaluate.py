"""Evaluation that cannot flatter: a whole furniture library and whole background sources that
training never saw, run through the same pipeline as the app, next to three baselines.

    python -m train.evaluate --train-data DIR [--train-data DIR2] --test-data DIR \
        --backgrounds-eval DIR --model "cGAN=cgan:PATH" --model "VAE=vae:PATH" --out DIR

Protocol (also written into the outputs):
- test photos: every view of every model of the `--test-data` roots (cutout renders of a library
  kept out of training, e.g. Sweet Home 3D's KatorLegaz), composited as a photo would show the
  piece: shrunk to 30-90 % of a square frame at a random place, under two conditions:
  "white" (a white backdrop, no effects) and "real" (crops of real photographs of a source never
  trained on: the sample images of scikit-image and OpenCV, evaluation/reserved_backgrounds.py;
  with contact shadow, other furniture partly in view, colour shift, blur, noise and JPEG as
  train.data.composite draws them). The same photos for every method (seeded per image);
- the models run exactly as the app runs them (recon.pipeline.Reconstructor): the mask heads of
  all the models evaluated together find the object in the whole photo (--crop joint, the
  default; one model alone uses its own), the crop is made around it, the prediction is pooled
  (log-odds) with the left-right mirrored photo's; cGAN at z = 0, VAE at mu;
- IoU at 32^3 (probabilities max-pooled to 32^3, threshold 0.5, no re-alignment, no threshold
  search for the networks); F-score at 1 % and 2 % of the cube side (20,000 surface points);
- baselines on the same photos: global mean shape and per-category mean shape (true category;
  thresholds chosen on the training grids), silhouette retrieval given the TRUE object mask (the
  training view with the nearest 32 x 32 crop mask; its shape);
- means over images and over categories; per category;
- besides: mask IoU of the object found in the whole photo against the true visible mask,
  category accuracy, median azimuth / elevation errors; crispness (share of active voxels
  p > 0.2 with p < 0.8) of the mode output; sample diversity (mean pairwise 1 - IoU of 4 samples:
  cGAN z ~ N(0, s^2 I) with its noise_scale s, VAE z ~ q(z|x)); Fréchet voxel distance
  (recon.generative_metrics) of the mode outputs against the true grids, and of one sample per photo
  (the first of those four: what each model generates, as FID scores a GAN's samples), with that
  sample's IoU and crispness (the app shows a sample); for a VAE its active latent units and the FVD of shapes
  decoded from z ~ N(0, I);
- 90 % bootstrap intervals over the test pieces (train.piece_bootstrap) of each model's IoU /
  silhouette retrieval and FVD, and of the paired FVD difference between models.

Writes <out>/results.json (per-photo IoU and the FVD of every resample kept, so runs of one model
each can be merged and compared draw by draw) and <out>/results.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from PIL import Image

from recon.errors import EmptyGridError
from recon.images import CENTRE_SPREAD, RIVAL_DOUBT, bbox_from_mask, centre_weight, mask_in_box, prepare_image
from recon.metrics import f_score, surface_points, voxel_iou
from train.baselines import SilhouetteRetrieval, fit_category_means, fit_mean_shape, grid_ious
from train.piece_bootstrap import DRAWS, interval, piece_resamples, ratio_draws

log = logging.getLogger(__name__)

RESOLUTION = 32  # IoU and F-score are computed at 32^3
LEVEL = 0.5
F_THRESHOLDS = (0.01, 0.02)  # 1 % and 2 % of the cube side
# points per surface: sampling must be much denser than the threshold, else even identical
# surfaces score low (a 32^3 shape drawn twice: 2,048 points -> F 0.34, 20,000 -> 0.98)
F_POINTS = 20_000
DIVERSITY_SAMPLES = 4
PRIOR_SAMPLES = 256
CONDITIONS = {"white": dict(kind="white", effects=False), "real": dict(kind="photo", effects=True)}
BASELINES = ("global mean shape", "per-category mean shape", "silhouette retrieval")
RETRIEVAL_VIEWS = 6  # training views per model in the retrieval database


def pool_to_32(grids: np.ndarray) -> np.ndarray:
    """(B, D, D, D) probabilities -> (B, 32, 32, 32) by max-pooling (any-pooling once thresholded)."""
    grids = torch.as_tensor(np.asarray(grids, np.float32))
    factor = grids.shape[-1] // RESOLUTION
    if factor > 1:
        grids = F.max_pool3d(grids.unsqueeze(1), factor).squeeze(1)
    return grids.numpy()


class SurfacePoints:
    """Surface points of bool grids, cached: baselines and views of one model repeat the same grids."""

    def __init__(self):
        self.cache: dict[bytes, np.ndarray] = {}

    def __call__(self, grid: np.ndarray) -> np.ndarray:
        """(D, D, D) bool -> (F_POINTS, 3) points on its 0.5 iso-surface; (0, 3) for an empty grid."""
        key = np.packbits(grid).tobytes()
        if key not in self.cache:
            try:
                self.cache[key] = surface_points(grid.astype(np.float32), LEVEL, count=F_POINTS)
            except EmptyGridError:
                self.cache[key] = np.zeros((0, 3))
        return self.cache[key]


@dataclass(frozen=True, eq=False)
class TestPhoto:
    """One evaluation photo: the composite (PIL RGB), its true visible mask bool (H, W), the true
    grid bool (32, 32, 32), category, camera (degrees), the model it shows and how many other
    pieces of furniture compose drew for it (0 on white; one that would hide too much of the object
    from in front is drawn but left out of the picture); decoy: another piece of furniture in view
    that the finder's prior would rather keep, even given every piece's true mask (decoy_in_view)."""

    photo: Image.Image
    mask: np.ndarray
    truth: np.ndarray
    category: str
    azimuth: float
    elevation: float
    model: str
    others: int = 0
    decoy: bool = False


def decoy_in_view(mask: np.ndarray, others: tuple[np.ndarray, ...], spread: float = CENTRE_SPREAD) -> bool:
    """Whether another piece of furniture in view, bool (H, W) visible pixels each, scores higher
    than the object's visible pixels `mask` under the finder's prior (recon.images.piece_scores:
    area times a Gaussian of the centre's distance from the photo's centre). There, a finder that
    found every piece perfectly and kept the likeliest would still keep another piece: the photo
    does not say which piece is meant (a user would centre it, or click it)."""
    def score(pixels: np.ndarray) -> float:  # as recon.images.piece_scores weighs a piece
        if not pixels.any():
            return 0.0
        centre = np.asarray(scipy.ndimage.center_of_mass(pixels)) / pixels.shape
        return float(pixels.sum() * centre_weight(centre, spread))

    own = score(mask)
    return any(score(other & ~mask) > own for other in others)


def _crop_mask(mask: np.ndarray, image_size: int) -> np.ndarray:
    """A photo's true object mask -> the (S, S) mask of the crop made around it (as the app crops)."""
    picture = Image.fromarray(mask.astype(np.uint8) * 255).convert("RGB")
    return prepare_image(picture, image_size, mask=mask, background="white").mask


def test_photos(roots: list[str], condition: str, backgrounds: dict, seed: int = 0) -> list[TestPhoto]:
    """Every view of the `roots` composited under `condition` (see CONDITIONS), seeded per image."""
    from train.data.composite import compose
    from train.data.pix3d import Pix3DDataset

    photos = []
    for root_index, root in enumerate(roots):
        dataset = Pix3DDataset(root, split="all", resolution=RESOLUTION, jitter=False)
        for index, entry in enumerate(dataset.entries):
            rng = np.random.default_rng((seed, root_index, index, list(CONDITIONS).index(condition)))
            others = []

            def other_piece():
                others.append(dataset.entries[rng.integers(len(dataset))])
                return dataset.cutout(others[-1])

            composite = compose(dataset.cutout(entry), rng, backgrounds, distractor=other_piece,
                                frame=True, clutter=False, **CONDITIONS[condition])
            if not composite.mask.any():
                continue
            photos.append(TestPhoto(Image.fromarray(composite.rgb), composite.mask,
                                    dataset.voxels(entry) >= LEVEL, entry.category, entry.azimuth,
                                    entry.elevation, entry.model, len(others),
                                    decoy_in_view(composite.mask, composite.others)))
    return photos


def training_reference(roots: list[str], image_size: int):
    """Baselines fitted on the training roots -> (global mean, per-category means, retrieval,
    training grids (N, 32, 32, 32) bool, one per model)."""
    from train.data.pix3d import Pix3DDataset

    grids, categories, view_masks, view_grids = [], [], [], []
    for root in roots:
        dataset = Pix3DDataset(root, split="all", resolution=RESOLUTION, jitter=False)
        by_model = defaultdict(list)
        for entry in dataset.entries:
            by_model[entry.model].append(entry)
        for entries in by_model.values():
            grid = dataset.voxels(entries[0]) >= LEVEL
            grids.append(grid)
            categories.append(entries[0].category)
            for entry in entries[:RETRIEVAL_VIEWS]:
                with Image.open(entry.mask) as mask_image:
                    mask = np.asarray(mask_image.convert("L")) >= 128
                if mask.any():
                    view_masks.append(_crop_mask(mask, image_size))
                    view_grids.append(grid)
    grids = np.stack(grids)
    return (fit_mean_shape(grids), fit_category_means(grids, categories),
            SilhouetteRetrieval(np.stack(view_masks), np.stack(view_grids)), grids)


def _angle_error(a: float, b: float) -> float:
    return float(abs((a - b + 180.0) % 360.0 - 180.0))


def score_method(predict, photos: list[TestPhoto], points: SurfacePoints) -> dict:
    """Per-photo IoU and F-scores of `predict(photo) -> bool (32, 32, 32)` -> per-category and mean."""
    per_category, photo_iou = defaultdict(list), []
    for photo in photos:
        grid = predict(photo)
        truth_points, grid_points = points(photo.truth), points(grid)
        row = [float(grid_ious(grid, photo.truth[None])[0])]
        row += [f_score(grid_points, truth_points, t) for t in F_THRESHOLDS]
        per_category[photo.category].append(row)
        photo_iou.append(row[0])
    return summarise_rows(per_category) | {"photo_iou": photo_iou}


METRIC_NAMES = ("iou", "f1", "f2")  # IoU, F-score at 1 % and at 2 %


def summarise_rows(per_category: dict[str, list[list[float]]]) -> dict:
    categories = {c: {name: float(np.mean([r[k] for r in rows])) for k, name in enumerate(METRIC_NAMES)}
                  | {"count": len(rows)} for c, rows in sorted(per_category.items())}
    every = [r for rows in per_category.values() for r in rows]
    return {"categories": categories,
            "mean_over_images": {name: float(np.mean([r[k] for r in every])) for k, name in enumerate(METRIC_NAMES)},
            "mean_over_categories": {name: float(np.mean([c[name] for c in categories.values()]))
                                     for name in METRIC_NAMES},
            "count": len(every)}


CROPS = ("head", "joint", "border", "true", "box", "click", "joint-click")  # where the crop comes
# from: the model's own mask head, every evaluated model's heads together (find_object(others=...):
# the app, which finds the object once with both models and crops both alike), the border-colour
# estimate the project used before it had a head, the true mask (an oracle), a user's box around
# the object with the mask head inside it (the app's correction), the mask head's piece under a
# user's click on the object (the app's lighter correction), or the piece under the click of every
# evaluated model's heads together (the click as the app takes it)
BOX_MARGIN = 0.05  # a user's box: the object's extent plus this share of its size on every side


def user_box(mask: np.ndarray, margin: float = BOX_MARGIN) -> tuple[int, int, int, int]:
    """The box a user would draw around a true mask bool (H, W): (x0, y0, x1, y1), ends exclusive,
    the mask's extent grown by `margin` of its width / height per side, inside the photo."""
    x0, y0, x1, y1 = bbox_from_mask(mask)
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    height, width = mask.shape
    return (max(0, int(np.floor(x0 - dx))), max(0, int(np.floor(y0 - dy))),
            min(width, int(np.ceil(x1 + dx))), min(height, int(np.ceil(y1 + dy))))


def user_click(mask: np.ndarray) -> tuple[float, float]:
    """Where a user would click on a true mask bool (H, W) to point at the object: its pixel
    farthest from the mask's edge (the middle of its thickest part), (x, y) at the pixel's centre."""
    depth = scipy.ndimage.distance_transform_edt(np.pad(np.asarray(mask, bool), 1))[1:-1, 1:-1]
    row, col = np.unravel_index(np.argmax(depth), depth.shape)
    return float(col) + 0.5, float(row) + 0.5


def _object_mask(reconstructor, photo: TestPhoto, crop: str, box: tuple | None) -> np.ndarray:
    from recon.images import estimate_mask

    if crop in ("head", "joint"):  # "joint" with no other model: its own head
        return reconstructor.find_object(photo.photo)
    if crop == "border":
        return estimate_mask(np.asarray(photo.photo))
    if crop == "box":  # the object found in the whole photo, narrowed to the box as the app does
        return mask_in_box(reconstructor.find_object(photo.photo), box)
    if crop in ("click", "joint-click"):  # "joint-click" with no other model: its own head
        return reconstructor.find_object(photo.photo, point=user_click(photo.mask))
    if crop == "true":
        return photo.mask
    raise ValueError(f"unknown crop {crop!r}: choose one of {', '.join(CROPS)}")


def score_model(reconstructor, photos: list[TestPhoto], points: SurfacePoints, classifier, seed: int = 0,
                crop: str = "head", masks: list[np.ndarray] | None = None) -> dict:
    """The model through the app's pipeline on every photo -> accuracy, heads and its own kind's
    metrics. crop: one of CROPS; masks: the object masks found already, one per photo (for
    "joint", found once for every model)."""
    from recon.generative_metrics import crispness, frechet_distance, pairwise_diversity, voxel_features

    boxes = [user_box(photo.mask) if crop == "box" else None for photo in photos]
    found = masks if masks is not None else [_object_mask(reconstructor, photo, crop, box)
                                             for photo, box in zip(photos, boxes)]
    prepared = [reconstructor.prepare(photo.photo, mask=mask, box=box) for photo, mask, box in zip(photos, found, boxes)]
    grids = np.concatenate([np.stack(reconstructor.predict(prepared[i:i + 32]))
                            for i in range(0, len(prepared), 32)])
    readings = [r for i in range(0, len(prepared), 32) for r in reconstructor.describe(prepared[i:i + 32])]
    pooled = pool_to_32(grids)
    lookup = {id(photo): pooled[k] >= LEVEL for k, photo in enumerate(photos)}
    result = score_method(lambda photo: lookup[id(photo)], photos, points)

    mask_ious = []
    for photo, mask in zip(photos, found):
        union = (mask | photo.mask).sum()
        mask_ious.append(float((mask & photo.mask).sum() / union) if union else 1.0)
    result["mask_iou"] = float(np.mean(mask_ious))
    result["photo_mask_iou"] = mask_ious
    result["category_accuracy"] = float(np.mean([r.category == p.category for r, p in zip(readings, photos)]))
    result["azimuth_error_median"] = float(np.median([_angle_error(r.azimuth_deg, p.azimuth)
                                                      for r, p in zip(readings, photos)]))
    result["elevation_error_median"] = float(np.median([abs(r.elevation_deg - p.elevation)
                                                        for r, p in zip(readings, photos)]))
    result["crispness"] = crispness(grids).pooled
    diversity, first_samples = [], []
    for k in range(0, len(prepared)):
        samples = pool_to_32(np.stack([reconstructor.predict([prepared[k]], seed=seed + s)[0]
                                       for s in range(DIVERSITY_SAMPLES)]))
        diversity.append(pairwise_diversity(samples))
        first_samples.append(samples[0])
    result["sample_diversity"] = float(np.mean(diversity))
    truths = np.stack([photo.truth for photo in photos]).astype(np.float32)
    # what the app shows by default is a sample (seed 0), not the mode: its accuracy and crispness too
    result["sample_iou"] = float(np.mean([voxel_iou(sample, truth, LEVEL)
                                          for sample, truth in zip(first_samples, truths)]))
    result["sample_crispness"] = crispness(np.stack(first_samples)).pooled
    resamples = piece_resamples([p.model for p in photos], [p.category for p in photos], seed=seed)
    real = voxel_features(truths, classifier)
    for key, grids_scored in (("fvd", pooled), ("fvd_samples", np.stack(first_samples))):
        generated = voxel_features(grids_scored, classifier)
        result[key] = frechet_distance(generated, real)
        result[f"{key}_draws"] = [frechet_distance(generated[r], real[r]) for r in resamples]
    if reconstructor.kind == "vae":
        from recon.generative_metrics import active_latent_units

        batch = reconstructor._batch([p.pixels for p in prepared])
        with torch.inference_mode():
            mu, _ = reconstructor.network.encode(batch)
        result["active_latent_units"] = active_latent_units(mu.cpu().numpy())
        result["latent_dim"] = int(reconstructor.network.latent_dim)
    return result


def prior_realism(reconstructor, reference_grids: np.ndarray, classifier, seed: int = 0) -> dict:
    """The VAE as a generator: FVD and crispness of PRIOR_SAMPLES shapes decoded from z ~ N(0, I)."""
    from recon.generative_metrics import crispness, frechet_voxel_distance, random_shapes

    samples = pool_to_32(random_shapes(reconstructor.network, PRIOR_SAMPLES, seed))
    return {"fvd": frechet_voxel_distance(samples, reference_grids.astype(np.float32), classifier),
            "crispness": crispness(samples).pooled, "samples": PRIOR_SAMPLES}


def evaluate(models: dict[str, tuple[str, str]], train_roots: list[str], test_roots: list[str],
             backgrounds_eval: str, conditions=tuple(CONDITIONS), seed: int = 0, max_images: int | None = None,
             device: str = "auto", every: int = 1, crop: str = "joint", finders: tuple[str, ...] = ()) -> dict:
    """models: {name: (kind, weights)}; every: score every n-th photo only (spread over the
    categories, unlike max_images); crop: see CROPS; finders: for "joint" and "joint-click", the
    names of the models whose mask heads find the object for every model (empty: all of them).
    Returns the results dict of results.json. Raises ValueError for a finder that is no model."""
    from recon.generative_metrics import load_voxel_classifier
    from recon.pipeline import Reconstructor
    from train.data.photo_backgrounds import BackgroundBank

    unknown = sorted(set(finders) - set(models))
    if unknown:
        raise ValueError(f"finder {', '.join(unknown)} is not among the models ({', '.join(models)})")
    reconstructors = {name: Reconstructor(kind, weights, device) for name, (kind, weights) in models.items()}
    finding = [reconstructors[name] for name in (finders or reconstructors)]
    image_size = next(iter(reconstructors.values())).image_size if reconstructors else 128
    global_mean, category_means, retrieval, train_grids = training_reference(train_roots, image_size)
    classifier = load_voxel_classifier()
    sources = tuple(sorted(p.name for p in Path(backgrounds_eval).iterdir() if p.is_dir()))
    banks = {"photo": BackgroundBank(backgrounds_eval, sources)}
    points = SurfacePoints()
    results = {"conditions": {}, "photos": {}, "protocol": protocol_record(train_roots, test_roots, sources, global_mean,
                                                               category_means, len(train_grids), crop,
                                                               list(finders))}
    for condition in conditions:
        photos = test_photos(test_roots, condition, banks, seed)[::every][:max_images]
        log.info("%s: %d test photos", condition, len(photos))
        table = {
            BASELINES[0]: score_method(lambda p: global_mean.grid, photos, points),
            BASELINES[1]: score_method(lambda p: category_means.get(p.category, global_mean).grid, photos, points),
            BASELINES[2]: score_method(lambda p: retrieval.predict(_crop_mask(p.mask, image_size)), photos, points),
        }
        located = []  # found once for every model (one crop for all), with the finder's doubt
        if crop in ("joint", "joint-click") and (len(reconstructors) > 1 or finders):
            first, *rest = finding
            located = [first.locate(photo.photo, others=tuple(rest),
                                    point=user_click(photo.mask) if crop == "joint-click" else None)
                       for photo in photos]
        shared = [f.mask for f in located] or None
        for name, reconstructor in reconstructors.items():
            table[name] = score_model(reconstructor, photos, points, classifier, seed, crop, shared)
            log.info("%s %s: IoU %.3f", condition, name, table[name]["mean_over_categories"]["iou"])
        results["conditions"][condition] = table
        results["photos"][condition] = {"piece": [p.model for p in photos], "category": [p.category for p in photos],
                                        "others": [p.others for p in photos], "decoy": [p.decoy for p in photos]}
        if located:  # the finder's doubt, as the app shows it (recon.images.rival_share)
            results["photos"][condition]["rival"] = [f.rival for f in located]
    results["generators"] = {name: prior_realism(r, train_grids, classifier, seed)
                             for name, r in reconstructors.items() if r.kind == "vae"}
    results["protocol"].update(crop=crop, every=every, bootstrap={"draws": DRAWS, "seed": seed,
                                                                  "unit": "test piece, within its category"})
    return results


FINDERS = {"head": "each model's own mask head finds the object",
           "joint": "the mask heads of the models evaluated together find the object (one crop for all)",
           "border": "the border-colour estimate finds the object", "true": "the true mask gives the crop",
           "box": "a user's box around the true mask, the model's own mask head inside it",
           "click": "a user's click on the object, the model's own mask head keeping the piece under it",
           "joint-click": "a user's click on the object, the mask heads of the models evaluated together "
                          "keeping the piece under it (one crop for all)"}


def protocol_record(train_roots, test_roots, sources, global_mean, category_means, train_models,
                    crop: str = "joint", finders: list[str] = ()) -> dict:
    finder = FINDERS[crop]
    if crop in ("joint", "joint-click") and finders:
        heads = f"the mask head of {' and '.join(finders)}"
        finder = (f"{heads} finds the object for every model (one crop for all)" if crop == "joint" else
                  f"a user's click on the object, {heads} keeping the piece under it (one crop for all)")
    return {
        "test": f"every view of {', '.join(test_roots)} (models and library unseen in training), composited "
                "into a square frame (object 30-90 % of it); conditions: white, and real = reserved photographs "
                f"({', '.join(sources)}) with shadow, clutter, colour shift, blur, noise, JPEG",
        "pipeline": f"recon.pipeline.Reconstructor as in the app: {finder}, crop, "
                    "prediction pooled in log-odds with the mirrored photo's; cGAN z = 0, VAE mu",
        "resolution": RESOLUTION, "iou_threshold": LEVEL, "f_score_thresholds": list(F_THRESHOLDS),
        "f_score_points": F_POINTS, "alignment": "none", "threshold_search": "none for the networks",
        "baselines": {"global mean shape threshold": global_mean.level,
                      "per-category thresholds": {c: m.level for c, m in category_means.items()},
                      "silhouette retrieval": f"true mask, nearest of {RETRIEVAL_VIEWS} training views per model "
                                              "by 32 x 32 crop-mask IoU",
                      "training models": train_models, "training roots": list(train_roots)},
        "diversity_samples": DIVERSITY_SAMPLES,
    }


def markdown_table(results: dict) -> str:
    """Markdown: per condition, IoU / F@1 % / F@2 % per category and means, then the heads and the
    metrics of each model's kind."""
    lines = [f"Protocol: {results['protocol']['test']}; {results['protocol']['pipeline']}. IoU at 32^3 "
             "(threshold 0.5), F-score at 1 % / 2 % of the cube side; no re-alignment, no threshold search "
             "for the networks. Baselines: mean shapes with thresholds fitted on the training grids, silhouette "
             "retrieval given the true mask.", ""]
    for condition, table in results["conditions"].items():
        categories = sorted({c for method in table.values() for c in method["categories"]})
        count = max(method["count"] for method in table.values())
        lines += [f"**{condition} background** ({count} photos), IoU / F@1% / F@2%:", "",
                  "| method | " + " | ".join(categories) + " | mean over categories | mean over images |",
                  "|---" * (len(categories) + 3) + "|"]
        for name, method in table.items():
            cells = [" / ".join(f"{method['categories'][c][m]:.3f}" for m in METRIC_NAMES)
                     if c in method["categories"] else "-" for c in categories]
            means = [" / ".join(f"{method[k][m]:.3f}" for m in METRIC_NAMES)
                     for k in ("mean_over_categories", "mean_over_images")]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | **{means[0]}** | {means[1]} |")
        lines.append("")
        models = {n: m for n, m in table.items() if n not in BASELINES}
        if models:
            lines += ["| model | mask IoU | category acc. | azimuth err. (median) | elevation err. (median) "
                      "| crispness (lower: crisper) | sample diversity | FVD (lower: more real) | FVD of samples "
                      "| IoU of samples | VAE active units |",
                      "|---|---|---|---|---|---|---|---|---|---|---|"]
            for name, m in models.items():
                units = f"{m['active_latent_units']} / {m['latent_dim']}" if "active_latent_units" in m else "-"
                sampled = f"{m['fvd_samples']:.1f}" if "fvd_samples" in m else "-"
                sample_iou = f"{m['sample_iou']:.3f}" if "sample_iou" in m else "-"  # runs written before it
                lines.append(f"| {name} | {m['mask_iou']:.3f} | {m['category_accuracy']:.3f} | "
                             f"{m['azimuth_error_median']:.1f}° | {m['elevation_error_median']:.1f}° | "
                             f"{m['crispness']:.3f} | {m['sample_diversity']:.3f} | {m['fvd']:.1f} | {sampled} "
                             f"| {sample_iou} | {units} |")
            lines.append("")
        summary = interval_summary(results, condition)
        if summary:
            lines += [_interval_sentence(summary), ""]
        split = others_split(results, condition)
        if split:
            lines += [_others_sentence(split), ""]
        decoys = decoy_split(results, condition)
        if decoys:
            lines += [_decoy_sentence(decoys), ""]
        doubt = doubt_split(results, condition)
        if doubt:
            lines += [_doubt_sentence(doubt), ""]
    for name, prior in results.get("generators", {}).items():
        lines.append(f"{name} as a generator (z ~ N(0, I), {prior['samples']} shapes): FVD against the training "
                     f"shapes {prior['fvd']:.1f}, crispness {prior['crispness']:.3f}.")
    return "\n".join(lines) + "\n"


def interval_summary(results: dict, condition: str) -> dict:
    """90 % bootstrap intervals over the test pieces (train.piece_bootstrap) of the headline
    figures, each (value, low, high): "ratio" {model: IoU / silhouette retrieval, mean over
    categories}, "fvd" {model: FVD}, "fvd_difference" {"A - B": paired FVD difference}, the same
    two for one sample per photo ("fvd_samples", "fvd_samples_difference"; empty for runs written
    before they were kept), "pieces", "draws".
    Empty for results written before per-photo figures were kept."""
    table, photos = results["conditions"][condition], results.get("photos", {}).get(condition)
    retrieval = table.get(BASELINES[2], {})
    models = {n: m for n, m in table.items() if n not in BASELINES and "photo_iou" in m and "fvd_draws" in m}
    if not photos or "photo_iou" not in retrieval or not models:
        return {}
    resamples = piece_resamples(photos["piece"], photos["category"], len(next(iter(models.values()))["fvd_draws"]),
                                results["protocol"]["bootstrap"]["seed"])
    categories = photos["category"]
    summary = {"ratio": {}, "fvd": {}, "fvd_difference": {}, "fvd_samples": {}, "fvd_samples_difference": {},
               "pieces": len(set(photos["piece"])), "draws": len(resamples)}
    for name, m in models.items():
        value = m["mean_over_categories"]["iou"] / retrieval["mean_over_categories"]["iou"]
        summary["ratio"][name] = (value, *interval(ratio_draws(m["photo_iou"], retrieval["photo_iou"], categories,
                                                                resamples)))
        for key in ("fvd", "fvd_samples"):
            if f"{key}_draws" in m:
                summary[key][name] = (m[key], *interval(m[f"{key}_draws"]))
    names = list(models)
    for k, a in enumerate(names):
        for b in names[k + 1:]:
            for key in ("fvd", "fvd_samples"):
                if f"{key}_draws" in models[a] and f"{key}_draws" in models[b]:
                    paired = np.subtract(models[a][f"{key}_draws"], models[b][f"{key}_draws"])
                    summary[f"{key}_difference"][f"{a} - {b}"] = (models[a][key] - models[b][key], *interval(paired))
    return summary


def others_split(results: dict, condition: str) -> dict:
    """IoU (mean over images) of every method on the photos with and without other furniture
    drawn around the object -> {"with": count, "without": count, "iou": {method: (with, without)}};
    empty when the condition has no such photos or per-photo figures were not kept."""
    photos = results.get("photos", {}).get(condition, {})
    if not any(photos.get("others", [])):
        return {}
    crowded = np.array(photos["others"]) > 0
    if crowded.all():
        return {}
    table = {name: np.array(m["photo_iou"]) for name, m in results["conditions"][condition].items()
             if len(m.get("photo_iou", [])) == len(crowded)}
    return {"with": int(crowded.sum()), "without": int((~crowded).sum()),
            "iou": {name: (float(iou[crowded].mean()), float(iou[~crowded].mean())) for name, iou in table.items()}}


def _split_figures(table: dict, chosen: np.ndarray) -> dict:
    """Per method, (mean over the chosen photos, mean over the rest) of its per-photo IoU ("iou")
    and mask IoU ("mask_iou"; models only), for the methods that kept one figure per photo."""
    def split(values):
        values = np.array(values)
        return float(values[chosen].mean()), float(values[~chosen].mean())

    return {key: {name: split(m[f"photo_{key}"]) for name, m in table.items()
                  if len(m.get(f"photo_{key}", [])) == len(chosen)} for key in ("iou", "mask_iou")}


def decoy_split(results: dict, condition: str) -> dict:
    """IoU and mask IoU (means over images) of every method on the photos where another piece of
    furniture is a decoy (decoy_in_view: the finder's prior keeps it even on the true masks) and on
    the rest -> {"decoys": count, "photos": count, "iou": {method: (decoy, rest)}, "mask_iou": {model:
    (decoy, rest)}}; empty when the run did not record decoys or there are none."""
    decoys = results.get("photos", {}).get(condition, {}).get("decoy")
    if not decoys or not any(decoys) or all(decoys):
        return {}
    decoys = np.array(decoys, bool)
    return {"decoys": int(decoys.sum()), "photos": len(decoys),
            **_split_figures(results["conditions"][condition], decoys)}


def _pairs(figures: dict) -> str:
    """{name: (a, b)} -> "name a / b, ..." (three decimals)."""
    return ", ".join(f"{name} {a:.3f} / {b:.3f}" for name, (a, b) in figures.items())


def _decoy_sentence(split: dict) -> str:
    return (f"Where another piece of furniture in view is a decoy (the finder's prior, size and nearness to the "
            f"centre, would keep it even given every piece's true mask: the photo does not say which piece is "
            f"meant; {split['decoys']} of {split['photos']} photos) / elsewhere: IoU mean over images "
            f"{_pairs(split['iou'])}; mask IoU {_pairs(split['mask_iou'])}.")


def doubt_split(results: dict, condition: str) -> dict:
    """Mask IoU and IoU (means over images) of every model on the photos where the joint finder
    was in doubt (rival >= RIVAL_DOUBT: the app asks for a click) and where it was not ->
    {"flagged": count, "photos": count, "mask_iou": {model: (flagged, not)}, "iou": {method: (flagged,
    not)}}; empty when the run kept no doubts (not a joint crop) or none or every photo was flagged."""
    rivals = results.get("photos", {}).get(condition, {}).get("rival")
    if not rivals:
        return {}
    flagged = np.array(rivals) >= RIVAL_DOUBT
    if flagged.all() or not flagged.any():
        return {}
    return {"flagged": int(flagged.sum()), "photos": len(flagged),
            **_split_figures(results["conditions"][condition], flagged)}


def _doubt_sentence(split: dict) -> str:
    return (f"Where the finder was in doubt (another piece at least {RIVAL_DOUBT:.0%} as likely; the app asks for "
            f"a click: {split['flagged']} of {split['photos']} photos) / elsewhere: mask IoU "
            f"{_pairs(split['mask_iou'])}; IoU mean over images {_pairs(split['iou'])}.")


def _others_sentence(split: dict) -> str:
    cells = _pairs(split["iou"])
    return (f"With other furniture drawn beside the object ({split['with']} photos) / without "
            f"({split['without']}), IoU mean over images: {cells}.")


def _interval_sentence(summary: dict) -> str:
    def cells(figures, fmt):
        return ", ".join(f"{name} {fmt(v)} [{fmt(low)}, {fmt(high)}]" for name, (v, low, high) in figures.items())

    text = (f"90 % intervals ({summary['draws']} resamples of the {summary['pieces']} test pieces within their "
            f"categories): IoU / silhouette retrieval {cells(summary['ratio'], lambda v: f'{v:.2f} x')}; "
            f"FVD {cells(summary['fvd'], lambda v: f'{v:.0f}')} (skewed up: a resample repeats pieces, "
            "so its true shapes vary less)")
    if summary["fvd_difference"]:
        text += f"; FVD difference, paired {cells(summary['fvd_difference'], lambda v: f'{v:+.0f}')}"
    if summary.get("fvd_samples"):
        text += f"; FVD of samples {cells(summary['fvd_samples'], lambda v: f'{v:.0f}')}"
    if summary.get("fvd_samples_difference"):
        text += f", paired difference {cells(summary['fvd_samples_difference'], lambda v: f'{v:+.0f}')}"
    return text + "."


def write_results(results: dict, out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown_table(results))
    return out / "results.json", out / "results.md"


def merge_results(folders: list[str]) -> dict:
    """results.json of runs over different conditions or different models (e.g. one process per
    condition or per model, with the same protocol) as one: methods are merged per condition."""
    merged: dict = {}
    for folder in folders:
        part = json.loads((Path(folder) / "results.json").read_text())
        if not merged:
            merged = part
            continue
        for condition, methods in part["conditions"].items():
            merged["conditions"].setdefault(condition, {}).update(methods)
        merged.setdefault("generators", {}).update(part.get("generators", {}))
        for condition, photos in part.get("photos", {}).items():
            merged.setdefault("photos", {}).setdefault(condition, photos)
    return merged


def _model_argument(text: str) -> tuple[str, tuple[str, str]]:
    name, _, rest = text.partition("=")
    kind, _, weights = rest.partition(":")
    if not name or kind not in ("cgan", "vae") or not weights:
        raise argparse.ArgumentTypeError(f"expected NAME=cgan:PATH or NAME=vae:PATH, got {text!r}")
    return name, (kind, weights)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate models on an unseen library and unseen backgrounds.")
    parser.add_argument("--train-data", action="append", help="training root (baselines)")
    parser.add_argument("--test-data", action="append", help="held-out root of cutout renders")
    parser.add_argument("--backgrounds-eval", help="reserved photographs (python -m evaluation.reserved_backgrounds)")
    parser.add_argument("--merge", nargs="+", help="only merge the results.json of these folders into --out")
    parser.add_argument("--model", action="append", type=_model_argument, default=[],
                        help="NAME=cgan:PATH or NAME=vae:PATH (repeatable)")
    parser.add_argument("--out", required=True, help="folder for results.json and results.md")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--max-images", type=int, default=None, help="score only the first N photos")
    parser.add_argument("--every", type=int, default=1, help="score every N-th photo (a spread-out subset)")
    parser.add_argument("--crop", choices=CROPS, default="joint",
                        help="object mask for the crop: the model's own head, every --model's heads together "
                             "(as the app), border colour, true, a user's box around the true mask with the "
                             "head inside it, the head's piece under a user's click, or the piece under the click of every "
                             "--model's heads together (as the app takes a click)")
    parser.add_argument("--finder", action="append", default=[], metavar="NAME",
                        help="with --crop joint / joint-click: the --model whose mask head finds the object "
                             "for every model (repeatable: their heads together; default: every --model's, as "
                             "before; the app: VAE)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.merge:
        json_path, markdown_path = write_results(merge_results(args.merge), args.out)
        print(markdown_path.read_text())
        return
    if not (args.train_data and args.test_data and args.backgrounds_eval):
        parser.error("--train-data, --test-data and --backgrounds-eval are needed (or --merge)")
    try:
        results = evaluate(dict(args.model), args.train_data, args.test_data, args.backgrounds_eval,
                           tuple(args.conditions.split(",")), args.seed, args.max_images, args.device,
                           args.every, args.crop, tuple(args.finder))
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    json_path, markdown_path = write_results(results, args.out)
    print(markdown_path.read_text())
    print(f"wrote {json_path} and {markdown_path}")


if __name__ == "__main__":
    main()
