"""CPU throughput of the EfficientNet-Lite0 encoder (recon/models/efficientnet.py) at 128 x 128.

    OMP_NUM_THREADS=1 nice -n 15 python scripts/bench_efficientnet.py [--batch 32] [--repeats 3]

For each thread count and memory format (contiguous / channels_last), images per second of:
features() forward in eval mode under no_grad; and a training step's forward + backward of
features() (loss: mean square of the stride-32 map) with every stage training, and with the stem
and the first 4 or 5 of the 7 stages frozen (the last 3 or 2 train). Also prints the parameter
counts per stage. Median over repeats after one warm-up; wall and CPU time (all threads) are both
given, as a shared machine's load inflates wall time (the figures are then lower bounds).
"""

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_ar import median_seconds  # noqa: E402  (same timing as the AR benchmark)

from recon.models.efficientnet import STAGES, EfficientNetLite0  # noqa: E402


def parameter_counts(model: EfficientNetLite0) -> dict[str, int]:
    counts = {"stem": sum(p.numel() for p in model.stem.parameters())}
    for index, stage in enumerate(model.stages):
        counts[f"stage {index} ({STAGES[index].channels} ch)"] = sum(p.numel() for p in stage.parameters())
    counts["head 1x1 -> 1280"] = sum(p.numel() for p in model.head.parameters())
    counts["classifier 1280 -> 1000"] = sum(p.numel() for p in model.classifier.parameters())
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def forward_step(model: EfficientNetLite0, images: torch.Tensor):
    def step():
        with torch.no_grad():
            model.features(images)
    return step


def training_step(model: EfficientNetLite0, images: torch.Tensor):
    def step():
        model.zero_grad(set_to_none=True)
        model.features(images)[-1].square().mean().backward()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    for name, count in parameter_counts(EfficientNetLite0()).items():
        print(f"{name:>26}: {count:>9,}")
    cases = [("features forward (eval, no_grad)", 0, forward_step),
             ("forward+backward, all stages train", 0, training_step),
             ("forward+backward, stages 4-6 train", 4, training_step),
             ("forward+backward, stages 5-6 train", 5, training_step)]
    print(f"\nbatch {args.batch} x 3 x {args.size} x {args.size}; images/s (wall), images/s (CPU time)")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for channels_last in (False, True):
            memory_format = torch.channels_last if channels_last else torch.contiguous_format
            images = torch.randn(args.batch, 3, args.size, args.size).contiguous(memory_format=memory_format)
            for label, frozen_stages, make_step in cases:
                model = EfficientNetLite0(frozen_stages=frozen_stages).to(memory_format=memory_format)
                model.train(make_step is training_step)
                wall, cpu = median_seconds(make_step(model, images), args.repeats)
                print(f"threads {threads}  {'channels_last' if channels_last else 'contiguous   '}  "
                      f"{label:<36} {args.batch / wall:7.1f} {args.batch / cpu:7.1f}", flush=True)


if __name__ == "__main__":
    main()
