"""Rendering speed of the training data, in views per CPU-second (one core).

    python scripts/bench_render.py [--sh3d sweethome3d_*.deb sweethome3d-furniture_*.deb]

Times train.data.generate (procedural furniture: drawing, meshing, exact 128^3 voxels, 128 x 128
cutout renders, PNG and voxel.mat writing) and, when the Sweet Home 3D packages are given,
train.data.generate_sh3d on one library (loading, cached voxels, 7 shapes per piece: the model and
its mirrored / stretched variants, renders), in one process. CPU time, not wall time, so a busy
machine does not flatter or punish the figure.
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def views_per_cpu_second(make) -> tuple[int, float]:
    start = time.process_time()
    views = len(make())
    return views, views / (time.process_time() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sh3d", type=Path, nargs="*", default=[])
    parser.add_argument("--library", default="BlendSwap-CC-0.sh3f")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from train.data.generate import generate_dataset
    from train.data.generate_sh3d import generate_sh3d_dataset

    with tempfile.TemporaryDirectory() as scratch:
        views, rate = views_per_cpu_second(lambda: generate_dataset(Path(scratch) / "procedural", per_category=6,
                                                                    views=10, seed=0, cutout=True))
        print(f"procedural: {views} views, {rate:.0f} views per CPU-second")
        if args.sh3d:
            views, rate = views_per_cpu_second(lambda: generate_sh3d_dataset(
                args.sh3d, Path(scratch) / "sh3d", views=10, seed=0, cutout=True, variants=7,
                libraries=(args.library,)))
            print(f"sh3d ({args.library}, 7 shapes per piece): {views} views, {rate:.0f} views per CPU-second")


if __name__ == "__main__":
    main()
