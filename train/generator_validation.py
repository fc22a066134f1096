"""Validation of the generators: each model's grids as its kind is judged, on photos of training shapes.

    python -m train.generator_validation --data data/sh3d-train --backgrounds /usr/share/backgrounds/mate/nature \
        --model "cGAN=cgan:recon/weights/cgan" --model "VAE=vae:recon/weights/vae" --count 500 --seed 11 \
        --out runs/generator-validation

Changes to what a model makes of a crop (the cGAN's adversarial game, its mode anchor) are chosen
here, never on the evaluation's photos (train/evaluate.py): the finder validation's photos
(train.finder_validation.validation_photos: views of TRAINING shapes composited as the evaluation's
"real" condition over photographs neither training nor the evaluation uses), each cropped by its
true mask, so that the models differ only in what they make of one crop. Scored as the evaluation
scores a model (train.evaluate.score_model): IoU and F-scores of the mode output (cGAN z = 0, VAE
mean), crispness, sample diversity, and the Fréchet voxel distance of the mode outputs and of one
sample per photo against the photos' true grids, with that sample's IoU and crispness (the app shows
a sample). The models know these shapes: compare models with each other here, not with the
evaluation's figures.
Writes <out>/results.json and <out>/results.md.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

COLUMNS = (("IoU", "iou"), ("F@1%", "f1"), ("F@2%", "f2"))


def markdown_table(results: dict) -> str:
    """results.json -> one row per model."""
    lines = [f"Generator validation: {results['photos']} photos of training shapes over {results['backgrounds']} "
             f"(seed {results['seed']}"
             + (f"; cut-outs of {results['pieces']} in view" if results.get("pieces") else "")
             + "), each cropped by its true mask; mode output: cGAN z = 0, VAE mean.", "",
             "| model | IoU | F@1% | F@2% | crispness (lower: crisper) | sample diversity | FVD | FVD of samples "
             "| IoU of samples | crispness of samples |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, scores in results["models"].items():
        means = scores["mean_over_images"]
        lines.append(f"| {name} | " + " | ".join(f"{means[key]:.3f}" for _, key in COLUMNS)
                     + f" | {scores['crispness']:.3f} | {scores['sample_diversity']:.3f} | {scores['fvd']:.1f} "
                       f"| {scores['fvd_samples']:.1f} | {scores['sample_iou']:.3f} "
                       f"| {scores['sample_crispness']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from recon.generative_metrics import load_voxel_classifier
    from recon.pipeline import Reconstructor
    from train.evaluate import SurfacePoints, score_model
    from train.finder_validation import validation_parser, validation_photos, write_results

    args = validation_parser(__doc__.split("\n\n")[0], count=500).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = validation_photos(args.data, args.backgrounds, args.count, args.seed, pieces=args.pieces)
    log.info("%d validation photos", len(photos))
    classifier, points = load_voxel_classifier(), SurfacePoints()
    models = {}
    for name, (kind, weights) in args.model:
        scores = score_model(Reconstructor(kind, weights, args.device), photos, points, classifier, args.seed, "true")
        models[name] = {key: value for key, value in scores.items()
                        if key not in ("photo_iou", "photo_mask_iou", "fvd_draws", "fvd_samples_draws")}
        log.info("%s: IoU %.3f, FVD %.1f, of samples %.1f", name, scores["mean_over_images"]["iou"], scores["fvd"],
                 scores["fvd_samples"])
    results = {"photos": len(photos), "seed": args.seed, "data": args.data, "backgrounds": args.backgrounds,
               "pieces": args.pieces, "crop": "true", "models": models}
    write_results(results, args.out, markdown_table(results))


if __name__ == "__main__":
    main()
