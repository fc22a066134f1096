"""Validation of the object finder: where it fails, and what each failure costs the reconstruction.

    python -m train.finder_validation --data data/sh3d-train --backgrounds /usr/share/backgrounds/mate/nature \
        --model "cGAN=cgan:recon/weights/cgan" --model "VAE=vae:recon/weights/vae" --count 250 --seed 11 \
        --out runs/finder-validation

Finder changes are chosen here, never on the evaluation's photos (train/evaluate.py): views of
TRAINING shapes (`--data`), composited as the evaluation's "real" condition (a random place and
size in the frame, other furniture partly in view, contact shadow, colour shift, blur, noise,
JPEG) over a folder of photographs that neither training nor the evaluation uses (`--backgrounds`;
Debian's mate-backgrounds, its nature/ folder, served that purpose). The models know these shapes,
so the reconstruction figures are higher than on an unseen library: compare crops, not models.

Per model, over the photos with other furniture in view and those without:
- mask IoU of find_object against the true visible mask, and IoU of the two masks' extents (the
  crop is made from the extent, so this is what the reconstruction feels);
- failure kinds (failure_kind): found, wrong piece, merged with its surroundings, partial;
- reconstruction IoU at 32^3 (mode output) with four crops: the finder's ("head", as the app),
  a user's box (the true extent plus 5 %, narrowed as the app narrows it), a user's click on the
  object (its most inward pixel; the finder keeps the piece under it) and the true mask; the gap
  from "head" to "box" is what a better finder could still win;
- mask IoU and the share found with the click;
- the finder's doubt (recon.images.rival_share, the app's hint to click): the share of photos it
  flags (rival >= RIVAL_DOUBT) and the share of failures (mask IoU < FOUND_IOU) among the flagged
  photos and among the others.
Writes <out>/results.json and <out>/results.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from recon.images import RIVAL_DOUBT, bbox_from_mask, mask_in_box
from train.evaluate import CONDITIONS, LEVEL, RESOLUTION, TestPhoto, pool_to_32, user_box, user_click

log = logging.getLogger(__name__)

FOUND_IOU = 0.6  # a found mask at least this close to the truth is the object
WRONG_PRECISION = 0.3  # below this share of it on the object, the finder kept something else
MERGED_RECALL = 0.7  # not found, but holding this much of the object: it spilled onto its surroundings
KINDS = ("found", "wrong piece", "merged", "partial")
CROPS = ("head", "box", "click", "true")


def mask_scores(found: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    """Two bool masks (H, W) -> (IoU, precision, recall) of `found` against `true` (non-empty)."""
    inter = float((found & true).sum())
    union = float((found | true).sum())
    return inter / union, inter / max(float(found.sum()), 1.0), inter / float(true.sum())


def failure_kind(found: np.ndarray, true: np.ndarray) -> str:
    """What the finder did, one of KINDS: found (IoU >= FOUND_IOU); else wrong piece (less than
    WRONG_PRECISION of the found mask on the object); else merged (recall >= MERGED_RECALL: the
    object and what touches it); else partial (a part of the object, or nothing at all)."""
    if not found.any():
        return "partial"
    iou, precision, recall = mask_scores(found, true)
    if iou >= FOUND_IOU:
        return "found"
    if precision < WRONG_PRECISION:
        return "wrong piece"
    return "merged" if recall >= MERGED_RECALL else "partial"


def extent_iou(found: np.ndarray, true: np.ndarray) -> float:
    """IoU of the two masks' bounding boxes (0 when `found` is empty)."""
    if not found.any():
        return 0.0
    a, b = bbox_from_mask(found), bbox_from_mask(true)
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def validation_photos(root: str, backgrounds: str, count: int, seed: int, size: int = 256,
                      pieces: str | None = None) -> list[TestPhoto]:
    """`count` views of `root`'s models (drawn without replacement, seeded) composited as the
    evaluation's "real" condition over the photographs in the folder `backgrounds`, at `size` px.
    pieces: a folder of non-furniture cut-outs (train.data.clutter_pieces.PieceBank's layout; the
    validation half of train.data.photo_cutouts) standing anywhere in view as decoys, as training
    composites place them; None: none (and the photos of before)."""
    from train.data.composite import compose
    from train.data.photo_backgrounds import BackgroundBank
    from train.data.pix3d import Pix3DDataset

    folder = Path(backgrounds)
    banks = {"photo": BackgroundBank(str(folder.parent), (folder.name,))}
    dataset = Pix3DDataset(root, split="all", resolution=RESOLUTION, jitter=False)
    bank = None
    if pieces:
        from train.data.clutter_pieces import PieceBank

        bank = PieceBank(pieces)
    picks = np.random.default_rng(seed).choice(len(dataset), min(count, len(dataset)), replace=False)
    photos = []
    for index in picks:
        entry = dataset.entries[index]
        rng = np.random.default_rng((seed, int(index)))
        others = []

        def other_piece():
            others.append(dataset.entries[rng.integers(len(dataset))])
            return dataset.cutout(others[-1])

        composite = compose(dataset.cutout(entry), rng, banks, distractor=other_piece, frame=True, clutter=False,
                            pieces=None if bank is None else (lambda: bank.draw(rng)), **CONDITIONS["real"])
        if not composite.mask.any():
            continue
        photo = Image.fromarray(composite.rgb).resize((size, size), Image.Resampling.BILINEAR)
        mask = np.asarray(Image.fromarray(composite.mask).resize((size, size), Image.Resampling.NEAREST))
        if not mask.any():
            continue
        photos.append(TestPhoto(photo, mask, dataset.voxels(entry) >= LEVEL, entry.category, entry.azimuth,
                                entry.elevation, entry.model, len(others)))
    return photos


def _crop_mask(photo: TestPhoto, found: np.ndarray, clicked: np.ndarray, crop: str):
    if crop == "head":
        return found, None
    if crop == "click":
        return clicked, None
    if crop == "box":
        box = user_box(photo.mask)
        return mask_in_box(found, box), box
    return photo.mask, None


def validate(reconstructor, photos: list[TestPhoto], others: tuple = (), finder=None) -> dict:
    """One model over the validation photos -> per group ("others", "alone", "all") the photo
    count, mean mask IoU, mean extent IoU, the share of each failure kind and the mean
    reconstruction IoU of each crop in CROPS; with a click, the mask IoU and the share found.
    finder: the loaded model whose mask head finds the object for this one (None: its own);
    others: more models whose mask heads find it with the finder's (find_object)."""
    finder = finder or reconstructor
    located = [finder.locate(photo.photo, others=others) for photo in photos]
    found = [f.mask for f in located]
    doubted = np.array([f.rival >= RIVAL_DOUBT for f in located])
    clicked = [finder.find_object(photo.photo, point=user_click(photo.mask), others=others)
               for photo in photos]
    click_scores = np.array([mask_scores(c, p.mask)[0] for c, p in zip(clicked, photos)])
    scores = np.array([mask_scores(f, p.mask) for f, p in zip(found, photos)])
    extents = np.array([extent_iou(f, p.mask) for f, p in zip(found, photos)])
    kinds = [failure_kind(f, p.mask) for f, p in zip(found, photos)]
    ious = {}
    for crop in CROPS:
        prepared = [reconstructor.prepare(p.photo, mask=m, box=b)
                    for p, (m, b) in ((p, _crop_mask(p, f, c, crop)) for p, f, c in zip(photos, found, clicked))]
        grids = np.concatenate([np.stack(reconstructor.predict(prepared[i:i + 32]))
                                for i in range(0, len(prepared), 32)])
        pooled = pool_to_32(grids) >= LEVEL
        ious[crop] = np.array([(g & p.truth).sum() / max((g | p.truth).sum(), 1) for g, p in zip(pooled, photos)])
    crowded = np.array([p.others > 0 for p in photos])
    groups = {}
    for name, chosen in (("others", crowded), ("alone", ~crowded), ("all", np.ones_like(crowded))):
        if not chosen.any():
            continue
        tally = Counter(k for k, c in zip(kinds, chosen) if c)
        groups[name] = {"photos": int(chosen.sum()),
                        "mask_iou": float(scores[chosen, 0].mean()),
                        "extent_iou": float(extents[chosen].mean()),
                        "kinds": {kind: tally[kind] / int(chosen.sum()) for kind in KINDS},
                        "click": {"mask_iou": float(click_scores[chosen].mean()),
                                  "found": float((click_scores[chosen] >= FOUND_IOU).mean())},
                        "doubt": _doubt(doubted[chosen], scores[chosen, 0] < FOUND_IOU),
                        "reconstruction_iou": {crop: float(ious[crop][chosen].mean()) for crop in CROPS}}
    return groups


def _doubt(flagged: np.ndarray, failed: np.ndarray) -> dict:
    """The finder's doubt against its failures, bool arrays per photo -> {"flagged": share of photos,
    "failed_flagged" / "failed_unflagged": share of failures among them (None for an empty side)}."""
    def share(chosen):
        return float(failed[chosen].mean()) if chosen.any() else None
    return {"flagged": float(flagged.mean()), "failed_flagged": share(flagged), "failed_unflagged": share(~flagged)}


def markdown_table(results: dict) -> str:
    """results.json -> a table, one row per model and group."""
    finder = ("every model's mask heads together" if results.get("joint") else
              f"{results['finder']}'s mask head for every model" if results.get("finder") else
              "each model's own mask head")
    lines = [f"Finder validation: {results['photos']} photos of training shapes over {results['backgrounds']} "
             f"(seed {results['seed']}); the object found by {finder}.", "",
             "| model | photos | n | mask IoU | extent IoU | " + " | ".join(KINDS)
             + " | with a click: mask IoU | found | recon IoU: finder | box | click | true mask "
             "| doubt: flagged | failed, flagged / not |",
             "|---|---|---|---|---|" + "---|" * len(KINDS) + "---|---|---|---|---|---|---|---|"]
    for model, groups in results["models"].items():
        for name, group in groups.items():
            kinds = " | ".join(f"{100 * group['kinds'][k]:.0f} %" for k in KINDS)
            recon = " | ".join(f"{group['reconstruction_iou'][c]:.3f}" for c in CROPS)
            doubt = group["doubt"]
            failed = " / ".join("-" if v is None else f"{100 * v:.0f} %"
                                for v in (doubt["failed_flagged"], doubt["failed_unflagged"]))
            lines.append(f"| {model} | {name} | {group['photos']} | {group['mask_iou']:.3f} | "
                         f"{group['extent_iou']:.3f} | {kinds} | {group['click']['mask_iou']:.3f} | "
                         f"{100 * group['click']['found']:.0f} % | {recon} | {100 * doubt['flagged']:.0f} % | {failed} |")
    return "\n".join(lines) + "\n"


def write_results(results: dict, out: str | Path, table: str) -> None:
    """<out>/results.json and <out>/results.md (`table`), which is also logged."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    (folder / "results.md").write_text(table)
    log.info("%s", table)


def validation_parser(description: str, count: int) -> argparse.ArgumentParser:
    """The arguments every validation on validation_photos takes: --data, --backgrounds, --pieces,
    --model (repeated), --count, --seed, --device and --out."""
    from train.evaluate import _model_argument

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="a training root (cutout renders)")
    parser.add_argument("--backgrounds", required=True, help="a folder of photographs used by neither training nor the evaluation")
    parser.add_argument("--pieces", help="non-furniture cut-outs standing in view as decoys (data/photo-cutouts/validation)")
    parser.add_argument("--model", action="append", type=_model_argument, required=True, help='"NAME=kind:weights"')
    parser.add_argument("--count", type=int, default=count)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True)
    return parser


def main(argv: list[str] | None = None) -> None:
    from recon.pipeline import Reconstructor

    parser = validation_parser(__doc__.split("\n\n")[0], count=250)
    parser.add_argument("--joint", action="store_true",
                        help="every model finds the object with all the --model's heads together, as the app does")
    parser.add_argument("--finder", metavar="NAME",
                        help="the --model whose mask head finds the object for every model (as the app does: VAE)")
    args = parser.parse_args(argv)
    names = [name for name, _ in args.model]
    if args.finder and (args.joint or args.finder not in names):
        parser.error(f"--finder names one of {', '.join(names)} and goes without --joint")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = validation_photos(args.data, args.backgrounds, args.count, args.seed, pieces=args.pieces)
    log.info("%d validation photos, %d with other furniture", len(photos), sum(p.others > 0 for p in photos))
    models = {name: Reconstructor(kind, weights, args.device) for name, (kind, weights) in args.model}
    finder = models.get(args.finder)
    results = {"photos": len(photos), "seed": args.seed, "data": args.data, "backgrounds": args.backgrounds,
               "pieces": args.pieces,
               "joint": args.joint, "finder": args.finder,
               "models": {name: validate(model, photos, tuple(m for m in models.values() if m is not model)
                                         if args.joint else (), finder)
                          for name, model in models.items()}}
    write_results(results, args.out, markdown_table(results))


if __name__ == "__main__":
    main()
