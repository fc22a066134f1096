"""The training loop shared by both models: data -> model step -> log -> checkpoint -> export.

What differs between the cGAN and the VAE (modules, optimizers, losses) lives in a small task
class (`train/cgan.py`, `train/vae.py`) with this shape:

    task = Task(config, device, autocast, parallel)   # builds modules + optimizers
    task.modules: dict[str, nn.Module]                # everything checkpointed (raw, unwrapped)
    task.optimizers: dict[str, torch.optim.Optimizer]
    task.model: nn.Module                             # the generator side, exported and evaluated
    task.train_step(batch, step, noise) -> dict[str, Tensor]   # one optimisation step
        batch: pixels (B, 3, S, S), voxels (B, D, D, D), mask (B, S, S), category (B,),
        azimuth / elevation (B,) degrees (NaN: unknown), on the training device

Outputs in `config.out` (rank 0 only): train_config.json at the start; checkpoint/ (resumable,
safetensors + json) every `checkpoint_every` steps; metrics.jsonl, TensorBoard scalars under
tensorboard/; at the end config.json + model.safetensors (fp16, generator side only),
curve.png and training_summary.json (with images/s).

Under `torchrun --nproc_per_node N` each process trains on its DistributedSampler shard and
DistributedDataParallel averages the gradients (gloo on CPU, nccl on CUDA).
"""

import contextlib
import functools
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from train.config import TrainConfig, config_from_args
from train.curves import plot_curves

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
HELD_OUT_IMAGES = 48  # fixed held-out images (spread over the set) scored every eval_every steps


# ---------------------------------------------------------------- losses shared by both models

def build_model_kwargs(config: TrainConfig) -> dict:
    """Constructor arguments shared by both models (they become config.json)."""
    return dict(image_size=config.image_size, resolution=config.resolution, feature_dim=config.feature_dim,
                base_channels=config.base_channels, decoder_channels=config.decoder_channels,
                backbone=config.backbone, frozen_stages=config.frozen_stages, mask_head=config.mask_head)


def start_from_pretrained(model: nn.Module, config: TrainConfig) -> None:
    """Fill a fresh model: from exported weights (config.init_weights, whose config.json must
    describe the same model, except in the parts config.train_only trains: tensors there that do not
    fit keep their fresh initialisation), else its pretrained encoder from ImageNet (efficientnet-lite0 only).
    Raises recon.errors.WeightsError when the folder does not fit the model."""
    if config.init_weights:
        from recon.hub import MODEL_CLASSES, load_model

        kind = next(name for name, cls in MODEL_CLASSES.items() if isinstance(model, cls))
        source = load_model(kind, config.init_weights)
        expected, found = model.state_dict(), source.state_dict()
        wrong = sorted(k for k in expected.keys() | found.keys()
                       if k not in expected or k not in found or expected[k].shape != found[k].shape)
        # a part that trains may be rebuilt (e.g. another mask_head): what no longer fits starts fresh
        trained = tuple(f"{part}." for part in config.train_only)
        unfit = [k for k in wrong if not k.startswith(trained)] if trained else wrong
        if unfit:
            from recon.errors import WeightsError

            raise WeightsError(f"{config.init_weights} does not fit this run's {kind} model "
                               f"({len(unfit)} tensors differ, e.g. {unfit[0]}): use its settings")
        model.load_state_dict({k: v for k, v in found.items() if k not in wrong}, strict=not wrong)
        log.info("model starts from the weights in %s", config.init_weights)
        if wrong:
            log.info("%d tensors of %s do not fit those weights and start fresh", sum(k in expected for k in wrong),
                     ", ".join(config.train_only))
        return
    if config.backbone == "efficientnet-lite0" and config.pretrained:
        model.encoder.load_imagenet_weights()
        log.info("encoder starts from EfficientNet-Lite0 ImageNet weights")


def _stay_in_eval_mode(module: nn.Module, mode: bool = True) -> nn.Module:
    """A frozen part's `train`: whatever the caller asks, eval mode (model.train() reaches it too)."""
    return nn.Module.train(module, False)


def restrict_training(model: nn.Module, config: TrainConfig) -> None:
    """Freeze every top-level part of `model` not named in config.train_only (no gradients, and eval
    mode whatever model.train() asks, so BatchNorm statistics stay as they are). Call before building the
    optimizer, which takes the parameters that still need a gradient. Raises ValueError for a name
    the model lacks."""
    if not config.train_only:
        return
    parts = dict(model.named_children())
    unknown = sorted(set(config.train_only) - parts.keys())
    if unknown:
        raise ValueError(f"train_only names {unknown}, but the model's parts are {sorted(parts)}")
    for name, part in parts.items():
        if name not in config.train_only:
            part.requires_grad_(False)
            part.train = functools.partial(_stay_in_eval_mode, part)
            part.train(False)
    log.info("training only %s; the rest (%s) keeps its weights", ", ".join(config.train_only),
             ", ".join(sorted(parts.keys() - set(config.train_only))))


def reconstruction_loss(logits: Tensor, voxels: Tensor, config: TrainConfig) -> Tensor:
    """bce_weight * BCE + dice_weight * (1 - soft Dice) + l1_weight * |p - y|, averaged over the batch.

    logits, voxels: (B, D, D, D); voxels in {0, 1}. Dice keeps thin parts from being traded away
    for the large empty volume that dominates BCE; L1 favours decided voxels (see TrainConfig).
    """
    logits = logits.float()
    loss = config.bce_weight * F.binary_cross_entropy_with_logits(logits, voxels)
    if config.l1_weight:
        loss = loss + config.l1_weight * (torch.sigmoid(logits) - voxels).abs().mean()
    if config.dice_weight:
        probs = torch.sigmoid(logits).flatten(1)
        target = voxels.flatten(1)
        dice = (2 * (probs * target).sum(1) + 1) / (probs.sum(1) + target.sum(1) + 1)
        loss = loss + config.dice_weight * (1 - dice).mean()
    return loss


def head_losses(heads: dict[str, Tensor], batch: dict[str, Tensor], config: TrainConfig) -> dict[str, Tensor]:
    """Losses of the object heads (recon.models.blocks.ObjectHeads) on a batch -> named terms
    (already weighted; their sum is what the step adds).

    mask: BCE + soft Dice against the visible-object mask; category: cross-entropy; azimuth:
    cross-entropy against a circular Gaussian over the bins (sigma one bin, so a near miss costs
    little); elevation: smooth L1 in units of 45 degrees. Samples without a camera (NaN) add no
    camera loss.
    """
    from recon.models.blocks import AZIMUTH_BINS

    mask_logits, target = heads["mask"].float(), batch["mask"]
    probs = torch.sigmoid(mask_logits).flatten(1)
    dice = (2 * (probs * target.flatten(1)).sum(1) + 1) / (probs.sum(1) + target.flatten(1).sum(1) + 1)
    terms = {"loss_mask": config.mask_weight * (F.binary_cross_entropy_with_logits(mask_logits, target)
                                                + (1 - dice).mean()),
             "loss_category": config.category_weight * F.cross_entropy(heads["category"].float(), batch["category"])}
    known = torch.isfinite(batch["azimuth"]) & torch.isfinite(batch["elevation"])
    if known.any():
        width = 360.0 / AZIMUTH_BINS
        centres = (torch.arange(AZIMUTH_BINS, device=target.device) + 0.5) * width
        gap = (centres[None] - batch["azimuth"][known, None] + 180.0) % 360.0 - 180.0  # (K, bins)
        label = torch.softmax(-0.5 * (gap / width) ** 2, dim=1)
        azimuth = -(label * F.log_softmax(heads["azimuth"][known].float(), dim=1)).sum(1).mean()
        elevation = F.smooth_l1_loss(heads["elevation"][known].float(), batch["elevation"][known] / 45.0)
        terms["loss_view"] = config.view_weight * (azimuth + elevation)
    return terms


@torch.no_grad()
def head_accuracy(heads: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """Training-batch figures for the log: category accuracy and mask IoU (at 0.5)."""
    predicted = heads["mask"] >= 0
    truth = batch["mask"] >= 0.5
    union = (predicted | truth).flatten(1).sum(1).clamp(min=1)
    return {"category_accuracy": (heads["category"].argmax(1) == batch["category"]).float().mean(),
            "mask_iou": ((predicted & truth).flatten(1).sum(1) / union).mean()}


def clip_and_step(optimizer: torch.optim.Optimizer, config: TrainConfig) -> None:
    if config.grad_clip:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
    optimizer.step()


# ---------------------------------------------------------------- held-out scores

@torch.inference_mode()
def batch_iou(prediction: Tensor, truth: Tensor) -> Tensor:
    """(B, D, D, D) bool grids -> (B,) IoU; two empty grids count as identical (1)."""
    intersection = (prediction & truth).flatten(1).sum(1)
    union = (prediction | truth).flatten(1).sum(1)
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union, dtype=torch.float))


@torch.inference_mode()
def sample_diversity(model: nn.Module, images: Tensor, samples: int, seed: int) -> float:
    """Mean pairwise IoU distance (1 - IoU at 0.5) between `samples` grids drawn for each image.

    0 means the noise (cGAN z, VAE eps) is ignored; images: (B, 3, S, S).
    """
    generator = torch.Generator(device=images.device).manual_seed(seed)
    grids = [model.reconstruct(images, generator=generator) >= 0.5 for _ in range(samples)]
    distances = [1 - batch_iou(grids[a], grids[b]).mean()
                 for a in range(samples) for b in range(a + 1, samples)]
    return float(torch.stack(distances).mean()) if distances else 0.0


@functools.lru_cache(maxsize=1)
def _fvd_classifier():
    """The Fréchet voxel distance's classifier (recon/weights/voxel-classifier), None without it."""
    from recon.errors import WeightsError
    from recon.generative_metrics import load_voxel_classifier

    try:
        return load_voxel_classifier()
    except WeightsError as error:
        log.warning("no held-out FVD during training: %s", error)
        return None


@torch.inference_mode()
def held_out_scores(model: nn.Module, images: Tensor, voxels: Tensor, config: TrainConfig) -> dict[str, float]:
    """Of the deterministic prediction (cGAN z = 0, VAE mu): IoU at 0.5, crispness (share of
    active voxels p > 0.2 with p < 0.8) and the Fréchet voxel distance to the true grids (over
    these few held-out grids: a trend within one run, not comparable with the evaluation's);
    and sample diversity."""
    from recon.generative_metrics import crispness, frechet_voxel_distance

    was_training = model.training
    model.eval()
    probabilities = model.reconstruct(images)
    iou = float(batch_iou(probabilities >= 0.5, voxels >= 0.5).mean())
    diversity = sample_diversity(model, images, config.diversity_samples, config.seed)
    model.train(was_training)
    scores = {"held_out_iou": iou, "sample_diversity": diversity,
              "held_out_crispness": crispness(probabilities.float().cpu().numpy()).pooled}
    classifier = _fvd_classifier()
    if classifier is not None and len(images) >= 2:
        scores["held_out_fvd"] = frechet_voxel_distance(probabilities.float().cpu().numpy(),
                                                        voxels.float().cpu().numpy(), classifier)
    return scores


# ---------------------------------------------------------------- processes, devices, data

@dataclass(frozen=True)
class Distributed:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(config: TrainConfig) -> Distributed:
    """Join the torchrun process group when WORLD_SIZE > 1; pick the device.

    Raises ValueError for a CUDA device when none is available.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    wants_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    if wants_cuda and not torch.cuda.is_available():
        raise ValueError(f"device {config.device!r} asked for but CUDA is not available")
    if wants_cuda:
        index = int(os.environ.get("LOCAL_RANK", "0")) if world_size > 1 else torch.device(config.device).index
        device = torch.device("cuda", index or 0)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return Distributed(rank, world_size, device)


def compositing_for(config: TrainConfig, frame_fraction: float, kind: str | None = None,
                    effects: bool = True, pieces: bool = True):
    """How cutout renders get their backgrounds (train.data.pix3d.Compositing); None when
    config.backgrounds is empty. pieces: False leaves config.clutter_pieces out (held-out sets, so
    their figures stay comparable with runs trained without them)."""
    from train.data.photo_backgrounds import BackgroundBank
    from train.data.pix3d import Compositing

    if not config.backgrounds:
        return None
    banks = {}
    sources = {"photo": [s for s in config.background_sources if s != "textures"],
               "texture": [s for s in config.background_sources if s == "textures"]}
    for kind_name, names in sources.items():
        if names:
            banks[kind_name] = BackgroundBank(config.backgrounds, tuple(names))
    bank = None
    if config.clutter_pieces and effects and pieces:
        from train.data.clutter_pieces import PieceBank

        bank = PieceBank(config.clutter_pieces)
    return Compositing(banks, frame_fraction, kind, effects, bank)


def open_dataset(config: TrainConfig, split: str, augment: bool, roots: tuple[str, ...] | None = None,
                 compositing=None) -> Dataset | None:
    """Every root's `split` ("train", "test" or "all") as one dataset (roots: config.data by
    default); None when empty. Training sets (augment) get jitter, left-right flips and, for
    cutouts, composited backgrounds; others get `compositing` (None: that of training, with no
    whole-frame views and no clutter pieces)."""
    from train.data.pix3d import Pix3DDataset

    if compositing is None:
        compositing = compositing_for(config, config.frame_fraction if augment else 0.0, pieces=augment)
    parts = [Pix3DDataset(root, split=split, resolution=config.resolution, image_size=config.image_size,
                          background=config.background, jitter=augment and config.jitter, seed=config.seed,
                          compositing=compositing, flip=augment)
             for root in (config.data if roots is None else roots)]
    parts = [part for part in parts if len(part)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


class ResumableSampler(DistributedSampler):
    """DistributedSampler that can start the current epoch `skip` indices in (after a resume)."""

    skip = 0

    def __iter__(self):
        indices = list(super().__iter__())[self.skip:]
        self.skip = 0
        return iter(indices)


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: derive numpy's and random's seeds from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def batches_forever(dataset: Dataset, config: TrainConfig, parallel: Distributed, start_step: int):
    """Yield training batches epoch after epoch, starting where step `start_step` left off.

    Raises ValueError when a process's shard holds fewer samples than one batch.
    """
    sampler = ResumableSampler(dataset, num_replicas=parallel.world_size, rank=parallel.rank,
                               shuffle=True, seed=config.seed, drop_last=True)
    if len(sampler) < config.batch_size:
        raise ValueError(f"{len(sampler)} training samples per process, fewer than batch_size "
                         f"{config.batch_size}")
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, worker_init_fn=seed_worker,
                        generator=torch.Generator().manual_seed(config.seed + parallel.rank),
                        pin_memory=parallel.device.type == "cuda")
    # workers are not persistent: each epoch's workers copy the dataset after set_epoch (fresh jitter)
    parts = dataset.datasets if isinstance(dataset, ConcatDataset) else [dataset]
    epoch, skip = divmod(start_step, len(loader))
    while True:
        sampler.set_epoch(epoch)
        for part in parts:
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        sampler.skip = skip * config.batch_size
        yield from loader
        epoch, skip = epoch + 1, 0


# ---------------------------------------------------------------- checkpoints (no pickle)

def save_checkpoint(folder: Path, task, step: int, noise: torch.Generator) -> None:
    """Modules, optimizer state and the noise RNG as safetensors; step and param groups as json."""
    tensors = {f"module.{name}.{key}": value.detach().contiguous()
               for name, module in task.modules.items() for key, value in module.state_dict().items()}
    groups = {}
    for name, optimizer in task.optimizers.items():
        state = optimizer.state_dict()
        groups[name] = state["param_groups"]
        for index, param_state in state["state"].items():
            for key, value in param_state.items():
                tensors[f"optimizer.{name}.{index}.{key}"] = torch.as_tensor(value).contiguous()
    tensors["rng.noise"] = noise.get_state()
    folder.mkdir(parents=True, exist_ok=True)
    # write then rename, so an interrupted save never leaves a half checkpoint behind
    save_file(tensors, folder / "checkpoint.safetensors.tmp")
    (folder / "checkpoint.json.tmp").write_text(json.dumps({"step": step, "param_groups": groups}))
    os.replace(folder / "checkpoint.safetensors.tmp", folder / "checkpoint.safetensors")
    os.replace(folder / "checkpoint.json.tmp", folder / "checkpoint.json")


def load_checkpoint(folder: Path, task, noise: torch.Generator) -> int:
    """Restore what save_checkpoint wrote into `task` and `noise`; returns the step to continue from."""
    tensors = load_file(folder / "checkpoint.safetensors")
    meta = json.loads((folder / "checkpoint.json").read_text())
    for name, module in task.modules.items():
        prefix = f"module.{name}."
        module.load_state_dict({key[len(prefix):]: value for key, value in tensors.items()
                                if key.startswith(prefix)})
    for name, optimizer in task.optimizers.items():
        prefix = f"optimizer.{name}."
        state: dict[int, dict[str, Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, field = key[len(prefix):].split(".", 1)
                state.setdefault(int(index), {})[field] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"][name]})
    noise.set_state(tensors["rng.noise"])
    return int(meta["step"])


# ---------------------------------------------------------------- the loop

def read_metrics(path: Path, up_to_step: int | None = None) -> list[dict]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if up_to_step is None or r["step"] <= up_to_step]


def export_weights(model: nn.Module, out: Path) -> None:
    """config.json + fp16 model.safetensors of the generator-side model, loadable by recon.hub."""
    from recon.hub import save_weights

    save_weights(model, out)


def learning_rate_scale(config: TrainConfig, step: int) -> float:
    """1 before config.lr_decay_step, config.lr_decay_factor from it on (never when it is 0)."""
    return config.lr_decay_factor if 0 < config.lr_decay_step <= step else 1.0


def set_learning_rates(task, config: TrainConfig, step: int) -> None:
    """Set every optimizer's lr from the config (not from a checkpoint) for this step."""
    scale = learning_rate_scale(config, step)
    for name, optimizer in task.optimizers.items():
        base = config.lr_discriminator if name == "discriminator" else config.lr
        for group in optimizer.param_groups:
            group["lr"] = base * scale


def train(config: TrainConfig, task_class, train_set: Dataset | None = None,
          test_set: Dataset | None = None):
    """Train `task_class` (CGANTask or VAETask) for config.steps steps; returns the task.

    Datasets default to the train / test splits of config.data. Raises ValueError when there is
    no training data.
    """
    parallel = setup_distributed(config)
    out = Path(config.out)
    torch.manual_seed(config.seed)  # same initial weights on every rank (DDP also broadcasts them)
    if train_set is None:
        train_set = open_dataset(config, config.train_split, augment=True)
        if config.eval_data:
            test_set = open_dataset(config, "all", augment=False, roots=config.eval_data)
        else:
            test_set = open_dataset(config, "test", augment=False)
    if train_set is None:
        raise ValueError(f"no training samples under {config.data}")

    use_amp = config.amp and parallel.device.type == "cuda"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()

    def wrap(module: nn.Module) -> nn.Module:
        if parallel.world_size == 1:
            return module
        return DistributedDataParallel(module, device_ids=[parallel.device] if parallel.device.type == "cuda" else None)

    task = task_class(config, parallel.device, autocast, wrap)
    noise = torch.Generator(device=parallel.device).manual_seed(config.seed + parallel.rank)
    step = 0
    if config.resume and (out / CHECKPOINT_DIR / "checkpoint.json").exists():
        step = load_checkpoint(out / CHECKPOINT_DIR, task, noise)
        log.info("resumed from %s at step %d", out / CHECKPOINT_DIR, step)
        if parallel.world_size > 1:  # rank 0's saved state would give every rank the same noise
            noise = torch.Generator(device=parallel.device).manual_seed(config.seed + parallel.rank + step)

    held_out = None
    if parallel.is_main and test_set is not None and len(test_set):
        picks = np.unique(np.linspace(0, len(test_set) - 1, min(HELD_OUT_IMAGES, len(test_set))).round().astype(int))
        items = [test_set[int(i)] for i in picks]  # spread over the set: many models, not one
        held_out = (torch.stack([torch.as_tensor(item["pixels"]) for item in items]).to(parallel.device),
                    torch.stack([torch.as_tensor(item["voxels"]) for item in items]).to(parallel.device))

    writer = None
    metrics_path = out / "metrics.jsonl"
    if parallel.is_main:
        from torch.utils.tensorboard import SummaryWriter

        out.mkdir(parents=True, exist_ok=True)
        config.to_json(out / "train_config.json")
        kept = read_metrics(metrics_path, up_to_step=step)  # drop lines past the resumed step
        metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        writer = SummaryWriter(str(out / "tensorboard"), purge_step=step or None)

    batches = batches_forever(train_set, config, parallel, step)
    start_step, sums, counts, count = step, {}, {}, 0
    progress = tqdm(total=config.steps, initial=step, disable=not parallel.is_main, desc=config.model)
    started = time.perf_counter()
    for batch in batches:
        if step >= config.steps:
            break
        if config.max_minutes and time.perf_counter() - started > 60 * config.max_minutes:
            log.info("time budget of %.1f min reached at step %d", config.max_minutes, step)
            break
        set_learning_rates(task, config, step)
        batch = {key: torch.as_tensor(batch[key]).to(parallel.device, non_blocking=True)
                 for key in ("pixels", "voxels", "mask", "category", "azimuth", "elevation")}
        batch["voxels"] = batch["voxels"].float()
        batch["azimuth"], batch["elevation"] = batch["azimuth"].float(), batch["elevation"].float()
        scalars = task.train_step(batch, step, noise)
        step += 1
        progress.update(1)
        for key, value in scalars.items():  # some scalars are logged on some steps only
            sums[key] = sums.get(key, 0.0) + value.detach()
            counts[key] = counts.get(key, 0) + 1
        count += 1
        if parallel.is_main and (step % config.log_every == 0 or step == config.steps):
            record = {"step": step, **{key: float(value) / counts[key] for key, value in sums.items()}}
            elapsed = time.perf_counter() - started
            record["images_per_s"] = (step - start_step) * config.batch_size * parallel.world_size / elapsed
            if held_out is not None and (step % config.eval_every == 0 or step == config.steps):
                record.update(held_out_scores(task.model, *held_out, config))
            with metrics_path.open("a") as file:
                file.write(json.dumps(record) + "\n")
            for key, value in record.items():
                if key != "step":
                    writer.add_scalar(key, value, step)
            progress.set_postfix({key: f"{value:.3g}" for key, value in record.items() if key != "step"})
            sums, counts, count = {}, {}, 0
        if parallel.is_main and (step % config.checkpoint_every == 0 or step == config.steps):
            save_checkpoint(out / CHECKPOINT_DIR, task, step, noise)
    if parallel.is_main and step % config.checkpoint_every and step != config.steps:
        save_checkpoint(out / CHECKPOINT_DIR, task, step, noise)  # stopped by the time budget
    progress.close()
    if parallel.device.type == "cuda":
        torch.cuda.synchronize(parallel.device)
    elapsed = time.perf_counter() - started

    if parallel.is_main:
        writer.close()
        export_weights(task.model, out)
        records = read_metrics(metrics_path)
        plot_curves(records, out / "curve.png", title=f"Recon3D {config.model}")
        trained = step - start_step
        summary = {
            "model": config.model, "steps": step, "steps_this_run": trained, "seconds_this_run": elapsed,
            "images_per_s": trained * config.batch_size * parallel.world_size / elapsed if trained else None,
            "seconds_per_step": elapsed / trained if trained else None,
            "world_size": parallel.world_size, "device": str(parallel.device),
            "train_samples": len(train_set), "final": records[-1] if records else None,
        }
        (out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        log.info("trained %d steps in %.1f s (%s images/s)", trained, elapsed, summary["images_per_s"])
    if parallel.world_size > 1:
        dist.barrier()
    return task


def main(task_class, model: str, argv: list[str] | None = None) -> None:
    """Command line of `python -m train.cgan` / `python -m train.vae`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = config_from_args(argv, model=model, out=f"runs/{model}")
    try:
        train(config, task_class)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
