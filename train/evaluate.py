"""Evaluation of the trained models next to three baselines, on unseen models.

    python -m train.evaluate --data DIR [--data DIR2] --cgan PATH --vae PATH --out DIR

Protocol (also written into the outputs):
- test split of the loader: models (shapes) never seen in training, so shapes are not memorised;
- IoU at 32^3: predictions at 64^3 are any-pooled (max-pooled probabilities) to 32^3, then
  thresholded at 0.5; the ground truth is the loader's 32^3 grid; no re-alignment, no threshold
  search for the networks;
- F-score at 1% of the cube side (0.01) between 20,000 points sampled on the 0.5 iso-surfaces of
  the same 32^3 grids (canonical cube [-0.5, 0.5]^3);
- per category and the mean over categories, separately for each background kind (clean, room);
- cGAN at z = 0 and VAE at mu (their deterministic predictions), each averaged with its prediction
  for the photo flipped left-right, exactly as the app and library run them; sample diversity (mean pairwise
  IoU distance of 4 samples per image) is reported beside them;
- baselines on the same images (train/baselines.py): global mean shape and per-category mean
  shape, thresholds chosen on the training split; silhouette retrieval by 32 x 32 mask IoU.

Writes <out>/results.json and <out>/results.md (tables for the model cards).
"""

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from recon.errors import EmptyGridError
from recon.metrics import f_score, surface_points
from train.baselines import SilhouetteRetrieval, fit_category_means, fit_mean_shape, grid_ious
from train.loop import sample_diversity

log = logging.getLogger(__name__)

RESOLUTION = 32  # IoU and F-score are computed at 32^3
LEVEL = 0.5
F_THRESHOLD = 0.01  # 1% of the cube side
# points per surface: sampling must be much denser than F_THRESHOLD, else even identical surfaces
# score low (measured on a 32^3 shape drawn twice: 2,048 points -> F 0.34, 20,000 -> 0.98)
F_POINTS = 20_000
DIVERSITY_SAMPLES = 4
MODEL_NAMES = {"cgan": "cGAN (z = 0)", "vae": "VAE (mu)"}
BASELINES = ("global mean shape", "per-category mean shape", "silhouette retrieval")


def pool_to_32(grids: torch.Tensor) -> torch.Tensor:
    """(B, D, D, D) probabilities -> (B, 32, 32, 32) by max-pooling (any-pooling once thresholded)."""
    factor = grids.shape[-1] // RESOLUTION
    if factor == 1:
        return grids
    return F.max_pool3d(grids.unsqueeze(1), factor).squeeze(1)


def category_names(batch: dict) -> list[str]:
    """Category names of a batch (the loader gives indices into CATEGORIES)."""
    from train.data.pix3d import CATEGORIES

    return [CATEGORIES[int(c)] if not isinstance(c, str) else c for c in batch["category"]]


class WithMasks(Dataset):
    """A Pix3DDataset whose items also hold "mask": (S, S) bool, the object mask in the model's crop."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        from PIL import Image

        from recon.images import prepare_image

        item = self.dataset[index]
        if "mask" not in item:
            entry = self.dataset.entries[index]
            with Image.open(entry.mask) as image:
                mask_image = image.convert("L")
            # the mask image stands in for the photo: same size, so prepare_image crops it identically
            prepared = prepare_image(mask_image.convert("RGB"), self.dataset.image_size,
                                     mask=np.asarray(mask_image) >= 128, bbox=entry.bbox, background="white")
            item["mask"] = prepared.mask
        return item


def read_training_set(dataset: Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Training grids (N, 32, 32, 32) bool, masks (N, S, S) bool and categories of `dataset`."""
    grids, masks, categories = [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size):
        grids.append(pool_to_32(batch["voxels"].float()).numpy() >= LEVEL)
        masks.append(np.asarray(batch["mask"], dtype=bool))
        categories += category_names(batch)
    return np.concatenate(grids), np.concatenate(masks), categories


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


def score_test_set(models: dict[str, nn.Module], train_set: Dataset, test_set: Dataset,
                   batch_size: int = 32, max_images: int | None = None, seed: int = 0) -> dict:
    """Score `models` ({"cgan": ..., "vae": ...}, generator side, on one device) and the baselines.

    Returns the results dict written to results.json. Raises ValueError for an empty split.
    """
    if not len(train_set) or not len(test_set):
        raise ValueError("evaluation needs a non-empty train split (for the baselines) and test split")
    train_grids, train_masks, train_categories = read_training_set(train_set, batch_size)
    global_mean = fit_mean_shape(train_grids)
    category_means = fit_category_means(train_grids, train_categories)
    retrieval = SilhouetteRetrieval(train_masks, train_grids)

    points = SurfacePoints()
    scores = defaultdict(list)  # (method, background, category) -> [(iou, f), ...]
    diversity = defaultdict(list)  # (method, background) -> [per-batch mean distance]
    seen = 0
    for batch in DataLoader(test_set, batch_size=batch_size):
        if max_images is not None and seen >= max_images:
            break
        count = len(batch["category"]) if max_images is None else min(len(batch["category"]), max_images - seen)
        seen += count
        truths = pool_to_32(batch["voxels"][:count].float()).numpy() >= LEVEL
        masks = np.asarray(batch["mask"], dtype=bool)[:count]
        categories = category_names(batch)
        predictions = {}
        for kind, model in models.items():
            device = next(model.parameters()).device
            images = batch["pixels"][:count].to(device)
            predictions[MODEL_NAMES[kind]] = pool_to_32(model.reconstruct(images).float()).cpu().numpy() >= LEVEL
            for background in set(batch["background"][:count]):
                chosen = [i for i in range(count) if batch["background"][i] == background]
                diversity[(MODEL_NAMES[kind], background)].append(
                    (sample_diversity(model, images[chosen], DIVERSITY_SAMPLES, seed), len(chosen)))
        for i in range(count):
            category, background = categories[i], batch["background"][i]
            category_mean = category_means.get(category, global_mean)  # unseen category: fall back
            per_image = {**{name: grids[i] for name, grids in predictions.items()},
                         BASELINES[0]: global_mean.grid, BASELINES[1]: category_mean.grid,
                         BASELINES[2]: retrieval.predict(masks[i])}
            truth_points = points(truths[i])
            for method, grid in per_image.items():
                iou = float(grid_ious(grid, truths[i][None])[0])
                fscore = f_score(points(grid), truth_points, F_THRESHOLD)
                scores[(method, background, category)].append((iou, fscore))
    return summarise(scores, diversity, global_mean, category_means, len(train_grids))


def summarise(scores, diversity, global_mean, category_means, train_count: int) -> dict:
    methods: dict = {}
    for (method, background, category), values in sorted(scores.items()):
        values = np.asarray(values)
        cell = {"iou": float(values[:, 0].mean()), "f_score": float(values[:, 1].mean()), "count": len(values)}
        methods.setdefault(method, {}).setdefault(background, {"categories": {}})["categories"][category] = cell
    for method, backgrounds in methods.items():
        for background, table in backgrounds.items():
            cells = table["categories"].values()
            table["mean"] = {key: float(np.mean([c[key] for c in cells])) for key in ("iou", "f_score")}
            table["count"] = int(sum(c["count"] for c in cells))
            if (method, background) in diversity:
                pairs = diversity[(method, background)]
                table["sample_diversity"] = float(sum(d * n for d, n in pairs) / sum(n for _, n in pairs))
    return {
        "protocol": {
            "split": "test split of the loader (models unseen in training)",
            "resolution": RESOLUTION, "iou_threshold": LEVEL, "f_score_threshold": F_THRESHOLD,
            "f_score_points": F_POINTS,
            "pooling": "predictions above 32^3 are max-pooled (any-pooled) to 32^3 before thresholding",
            "alignment": "none (grids compared in the canonical frame as predicted)",
            "mean": "mean over categories of the per-category means",
            "models": "cGAN at z = 0, VAE at mu, each averaged with the left-right mirrored photo's prediction "
                      "(the library's default inference); sample_diversity = mean pairwise IoU distance of "
                      f"{DIVERSITY_SAMPLES} samples per image",
            "baselines": {
                "global mean shape": {"threshold": global_mean.level, "training_iou": global_mean.training_iou},
                "per-category mean shape": {category: {"threshold": m.level, "training_iou": m.training_iou}
                                            for category, m in category_means.items()},
                "silhouette retrieval": "nearest training image by IoU of 32 x 32 object masks; its shape",
                "training_images": train_count,
            },
        },
        "methods": methods,
    }


def markdown_table(results: dict) -> str:
    """Markdown: the protocol, then per background one table of IoU / F-score per category and mean."""
    protocol = results["protocol"]
    thresholds = protocol["baselines"]
    category_levels = ", ".join(f"{c} {v['threshold']:.2f}" for c, v in thresholds["per-category mean shape"].items())
    lines = [
        "Protocol: test split with models unseen in training; grids at 32^3 (64^3 predictions "
        f"any-pooled), IoU at threshold {protocol['iou_threshold']}, F-score at "
        f"{protocol['f_score_threshold']} of the cube side ({protocol['f_score_points']} surface points); no re-alignment, no threshold search "
        "for the networks (cGAN at z = 0, VAE at mu, each averaged with its prediction for the photo flipped "
        "left-right, as the app runs them); mean = mean over categories. Baselines: "
        f"global mean shape thresholded at {thresholds['global mean shape']['threshold']:.2f} and "
        f"per-category mean shapes at ({category_levels}), thresholds chosen on the training split; "
        "silhouette retrieval = shape of the training image with the nearest 32 x 32 mask (IoU).",
        "",
    ]
    backgrounds = sorted({b for tables in results["methods"].values() for b in tables})
    for background in backgrounds:
        rows = {m: t[background] for m, t in results["methods"].items() if background in t}
        categories = sorted({c for t in rows.values() for c in t["categories"]})
        count = max(t["count"] for t in rows.values())
        lines += [f"**{background} background** ({count} test images), IoU / F-score@0.01:", ""]
        lines.append("| method | " + " | ".join(categories) + " | mean | sample diversity |")
        lines.append("|---" * (len(categories) + 3) + "|")
        order = [m for m in MODEL_NAMES.values() if m in rows] + [m for m in BASELINES if m in rows]
        for method in order:
            table = rows[method]
            cells = [f"{table['categories'][c]['iou']:.3f} / {table['categories'][c]['f_score']:.3f}"
                     if c in table["categories"] else "-" for c in categories]
            diversity = f"{table['sample_diversity']:.3f}" if "sample_diversity" in table else "-"
            lines.append(f"| {method} | " + " | ".join(cells)
                         + f" | **{table['mean']['iou']:.3f} / {table['mean']['f_score']:.3f}** | {diversity} |")
        lines.append("")
    return "\n".join(lines)


def write_results(results: dict, out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown_table(results))
    return out / "results.json", out / "results.md"


def open_split(roots: list[str], split: str, image_size: int) -> Dataset:
    """The `split` of every root at 32^3, backgrounds kept, without jitter, with masks, as one dataset."""
    from train.data.pix3d import Pix3DDataset

    parts = [WithMasks(Pix3DDataset(root, split=split, resolution=RESOLUTION, image_size=image_size,
                                    background="keep", jitter=False))
             for root in roots]
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate the cGAN and the VAE next to three baselines.")
    parser.add_argument("--data", action="append", required=True, help="root in Pix3D's layout (repeatable)")
    parser.add_argument("--cgan", help="cGAN weights folder or Hub id")
    parser.add_argument("--vae", help="VAE weights folder or Hub id")
    parser.add_argument("--out", required=True, help="folder for results.json and results.md")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-images", type=int, default=None, help="score only the first N test images")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0, help="seed of the diversity samples")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from recon.hub import load_model, resolve_device

    device = resolve_device(args.device)
    models = {kind: load_model(kind, source, device=device)
              for kind, source in (("cgan", args.cgan), ("vae", args.vae)) if source}
    sizes = {model.image_size for model in models.values()} or {128}
    if len(sizes) > 1:
        raise SystemExit(f"error: the models take different image sizes {sorted(sizes)}; evaluate them separately")
    image_size = sizes.pop()
    try:
        results = score_test_set(models, open_split(args.data, "train", image_size),
                                 open_split(args.data, "test", image_size), args.batch_size, args.max_images, args.seed)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    json_path, markdown_path = write_results(results, args.out)
    print(markdown_path.read_text())
    print(f"wrote {json_path} and {markdown_path}")


if __name__ == "__main__":
    main()
