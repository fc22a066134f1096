"""Training of the voxel classifier whose features define the Fréchet voxel distance (FVD, see
recon/generative_metrics.py).

    python -m train.voxel_classifier [--data ROOT [--data ROOT2]] [--procedural N] --out DIR --steps N

Data (32^3 bool grids in the canonical frame, labelled with the seven CATEGORIES):
- --data: roots in Pix3D's layout; each model's voxel.mat once (deduplicated by model, not image),
  loaded by recon.voxels.load_pix3d_voxel and any-pooled to 32^3; the "train" split (split_of)
  trains, the "val" split is held out;
- --procedural N: N shapes per category from train.data.procedural, drawn now from seed `seed`,
  plus N // 5 (at least 1) held-out shapes per category from an independent stream.
Batches are class-balanced (each category drawn equally often) and augmented: a mirror along X
(the canonical frame's left-right symmetry) and shifts of up to `max_shift` voxels per axis.
Adam on cross-entropy. Held-out accuracy (overall and per category) goes into
training_summary.json and the model card.

Writes <out>/config.json, model.safetensors (float16), README.md (card), train_config.json and
training_summary.json; `--out recon/weights/voxel-classifier` replaces the embedded classifier.
"""

import argparse
import dataclasses
import json
import logging
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recon.hub import save_weights
from recon.models import VoxelClassifier
from recon.voxels import load_pix3d_voxel, resample
from train.data.pix3d import CATEGORIES, read_annotations, split_of
from train.data.procedural import furniture_voxels, generate

log = logging.getLogger(__name__)

RESOLUTION = 32


@dataclass(frozen=True)
class ClassifierConfig:
    data: tuple[str, ...] = ()  # roots in Pix3D's layout
    procedural: int = 0  # procedural training shapes per category
    out: str = "runs/voxel-classifier"
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    max_shift: int = 2  # voxels, per axis, of the random shift augmentation
    seed: int = 0
    base_channels: int = 8  # these two become the model's config.json
    feature_dim: int = 128

    def __post_init__(self):
        if not self.data and self.procedural < 1:
            raise ValueError("no training data: give --data ROOT and/or --procedural N (shapes per category)")
        if self.steps < 0 or self.batch_size < 1 or self.max_shift < 0:
            raise ValueError("steps and max_shift must be >= 0, batch_size >= 1")


@dataclass(frozen=True)
class LabelledGrids:
    """grids: (N, 32, 32, 32) bool; labels: (N,) int64 indices into CATEGORIES."""

    grids: np.ndarray
    labels: np.ndarray

    @staticmethod
    def join(parts: list["LabelledGrids"]) -> "LabelledGrids":
        parts = [part for part in parts if len(part.labels)]
        if not parts:
            return LabelledGrids(np.zeros((0, RESOLUTION, RESOLUTION, RESOLUTION), bool), np.zeros(0, np.int64))
        return LabelledGrids(np.concatenate([p.grids for p in parts]), np.concatenate([p.labels for p in parts]))


def root_grids(root: str | Path, split: str) -> LabelledGrids:
    """The grids of one split of a Pix3D-layout root, one per model. Raises Pix3DError."""
    models: dict[str, tuple[Path, str]] = {}
    for entry in read_annotations(root):
        if split_of(entry.model) == split:
            models.setdefault(entry.model, (entry.voxel, entry.category))
    grids = [resample(load_pix3d_voxel(voxel).astype(np.float32), RESOLUTION) >= 0.5 for voxel, _ in models.values()]
    labels = [CATEGORIES.index(category) for _, category in models.values()]
    if not grids:
        return LabelledGrids.join([])
    return LabelledGrids(np.stack(grids), np.array(labels, np.int64))


def procedural_grids(per_category: int, rng: np.random.Generator) -> LabelledGrids:
    """`per_category` procedural shapes of each category, drawn from `rng`."""
    grids = [furniture_voxels(generate(category, rng), RESOLUTION)
             for category in CATEGORIES for _ in range(per_category)]
    labels = np.repeat(np.arange(len(CATEGORIES)), per_category)
    return LabelledGrids(np.stack(grids), labels) if grids else LabelledGrids.join([])


def read_data(config: ClassifierConfig) -> tuple[LabelledGrids, LabelledGrids]:
    """(training set, held-out set) from the roots and the procedural shapes of `config`."""
    train, held_out = [], []
    for root in config.data:
        train.append(root_grids(root, "train"))
        held_out.append(root_grids(root, "val"))
    if config.procedural:
        train_rng, held_out_rng = (np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(2))
        train.append(procedural_grids(config.procedural, train_rng))
        held_out.append(procedural_grids(max(1, config.procedural // 5), held_out_rng))
    return LabelledGrids.join(train), LabelledGrids.join(held_out)


def augment(grids: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """(B, D, D, D) grids, each mirrored along X (axis 1) with probability 1/2 and shifted by a
    random whole number of voxels in [-max_shift, max_shift] per axis (vacated voxels empty)."""
    mirror = torch.rand(len(grids), generator=generator) < 0.5
    grids = torch.where(mirror[:, None, None, None], torch.flip(grids, dims=[1]), grids)
    if not max_shift:
        return grids
    side = grids.shape[1]
    padded = F.pad(grids, [max_shift] * 6)  # (B, D + 2s, D + 2s, D + 2s)
    starts = torch.randint(0, 2 * max_shift + 1, (len(grids), 3), generator=generator)
    return torch.stack([padded[b, i:i + side, j:j + side, k:k + side]
                        for b, (i, j, k) in enumerate(starts.tolist())])


def balanced_weights(labels: np.ndarray) -> Tensor:
    """Sampling weight per item so that every category present is drawn equally often."""
    counts = np.bincount(labels, minlength=len(CATEGORIES))
    return torch.from_numpy(1.0 / counts[labels])


@torch.inference_mode()
def accuracy(model: VoxelClassifier, data: LabelledGrids) -> dict:
    """{"accuracy": share correct, "per_category": {name: share}, "count": N} on `data`."""
    model.eval()
    grids = torch.from_numpy(data.grids.astype(np.float32))
    predicted = torch.cat([model(grids[start:start + 256]).argmax(1) for start in range(0, len(grids), 256)])
    correct = (predicted.numpy() == data.labels) if len(grids) else np.zeros(0, bool)
    per_category = {name: float(correct[data.labels == index].mean())
                    for index, name in enumerate(CATEGORIES) if np.any(data.labels == index)}
    return {"accuracy": float(correct.mean()) if len(correct) else None, "per_category": per_category,
            "count": int(len(correct))}


def train_classifier(config: ClassifierConfig, train_set: LabelledGrids) -> VoxelClassifier:
    """A VoxelClassifier fitted to `train_set` for config.steps Adam steps."""
    torch.manual_seed(config.seed)  # initial weights
    model = VoxelClassifier(RESOLUTION, config.base_channels, config.feature_dim, len(CATEGORIES))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    grids = torch.from_numpy(train_set.grids.astype(np.float32))
    labels = torch.from_numpy(train_set.labels)
    weights = balanced_weights(train_set.labels)
    model.train()
    for step in range(1, config.steps + 1):
        chosen = torch.multinomial(weights, config.batch_size, replacement=True, generator=generator)
        logits = model(augment(grids[chosen], config.max_shift, generator))
        loss = F.cross_entropy(logits, labels[chosen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == config.steps:
            log.info("step %d loss %.4f batch accuracy %.3f", step, loss.item(),
                     float((logits.argmax(1) == labels[chosen]).float().mean()))
    return model.eval()


def model_card(config: ClassifierConfig, summary: dict) -> str:
    """README.md of the weights folder: what it is, its data, its held-out accuracy, the FVD."""
    sources = [f"`{Path(root).name}` (Pix3D layout, train split, one grid per model)" for root in config.data]
    if config.procedural:
        sources.append(f"{config.procedural} procedural shapes per category (train.data.procedural, "
                       f"seed {config.seed})")
    held_out = summary["held_out"]
    held_out_sources = " and ".join([*(["the roots' val split"] if config.data else []),
                                     *(["fresh procedural shapes"] if config.procedural else [])])
    rows = "\n".join(f"| {name} | {share:.3f} |" for name, share in held_out["per_category"].items())
    total = "n/a" if held_out["accuracy"] is None else f"{held_out['accuracy']:.3f}"
    flags = " ".join([*(f"--data {root}" for root in config.data),
                      *([f"--procedural {config.procedural}"] if config.procedural else []),
                      f"--steps {config.steps}", f"--seed {config.seed}"])
    return f"""---
library_name: recon3d
tags: [recon3d, voxels, 3d-classification, furniture]
---

# Recon3D voxel classifier (feature network of the Fréchet voxel distance)

A {summary["parameters"]:,}-parameter 3D CNN: a 32^3 occupancy grid (canonical frame, see
`recon/voxels.py`) -> one of {", ".join(CATEGORIES)}. Its {config.feature_dim}-d penultimate layer is
the feature space of the project's **Fréchet voxel distance** (FVD,
`recon.generative_metrics.frechet_voxel_distance`): the Fréchet distance between Gaussians fitted
to the features of two sets of grids (thresholded at 0.5). 0 = same feature mean and covariance;
larger = further apart. It is this project's own metric: only FVDs computed with these same
weights and set sizes are comparable, never with numbers from other papers.

## Training data

{chr(10).join(f"- {source}" for source in sources)}

{summary["train_count"]} training grids, class-balanced batches of {config.batch_size}, mirror-X and
up to {config.max_shift}-voxel shift augmentation, Adam (lr {config.lr}) for {config.steps} steps
({summary["seconds"]:.0f} s on CPU). Command: `python -m train.voxel_classifier {flags} --out DIR`.

## Held-out accuracy

{held_out["count"]} held-out grids ({held_out_sources}): accuracy {total}.

| category | accuracy |
|---|---|
{rows}

## Limits

Trained on the grids above only: shapes far from them (other object kinds, broken or noisy grids)
land somewhere in feature space, which FVD then reports as distance, by design.
"""


def run(config: ClassifierConfig) -> dict:
    """Read the data, train, save the weights folder; returns the training summary."""
    started = time.perf_counter()
    train_set, held_out_set = read_data(config)
    if not len(train_set.labels):
        raise ValueError("the training split is empty: no model of --data falls in the train split")
    log.info("%d training grids, %d held out", len(train_set.labels), len(held_out_set.labels))
    model = train_classifier(config, train_set)
    summary = {"train_count": int(len(train_set.labels)), "held_out": accuracy(model, held_out_set),
               "train": accuracy(model, train_set), "parameters": sum(p.numel() for p in model.parameters()),
               "seconds": time.perf_counter() - started}
    log.info("held-out accuracy %s on %d grids", summary["held_out"]["accuracy"], summary["held_out"]["count"])
    out = Path(config.out)
    save_weights(model, out, model_card(config, summary))
    (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    (out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def parse_args(argv: list[str] | None = None) -> ClassifierConfig:
    """Command-line flags -> ClassifierConfig (one flag per field; --data repeatable)."""
    hints = typing.get_type_hints(ClassifierConfig)
    parser = argparse.ArgumentParser(description="Train the voxel classifier of the Fréchet voxel distance.")
    parser.add_argument("--data", action="append", default=[], help="Pix3D-layout root (repeatable)")
    for field in dataclasses.fields(ClassifierConfig):
        if field.name != "data":
            parser.add_argument(f"--{field.name}", type=hints[field.name], default=field.default)
    args = vars(parser.parse_args(argv))
    try:
        return ClassifierConfig(**{**args, "data": tuple(args["data"])})
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = parse_args(argv)
    try:
        run(config)
    except ValueError as error:  # Pix3DError included
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
