"""Write a Pix3D-style dataset of procedural furniture.

    python -m train.data.generate --out DIR --per-category N --views V --seed S
        [--resolution 128] [--workers K] [--room-fraction 0.5] [--categories bed,chair,...] [--cutout]

Each model i of category c is drawn from numpy Generator((seed, c, i)), so the output does not
depend on the number of workers. Models split into train/val/test by train.data.pix3d.split_of.
"""

from __future__ import annotations

import argparse
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from train.data.procedural import CATEGORIES, furniture_mesh, furniture_voxels, generate
from train.data.render_views import render_views, write_annotations

log = logging.getLogger(__name__)


def make_model(task: tuple[str, int], out: Path, views: int, seed: int, resolution: int,
               room_fraction: float, cutout: bool = False) -> list[dict]:
    """Generate, voxelise and render one procedural model -> its pix3d.json entries."""
    category, index = task
    rng = np.random.default_rng((seed, CATEGORIES.index(category), index))
    furniture = generate(category, rng)
    return render_views(out, category, f"procedural_{category}_{index:05d}", furniture_mesh(furniture),
                        furniture_voxels(furniture, 128), views, rng, image_size=resolution,
                        room_fraction=room_fraction, cutout=cutout)


def generate_dataset(out: Path, per_category: int, views: int, seed: int = 0, resolution: int = 128,
                     workers: int = 1, room_fraction: float = 0.5,
                     categories: tuple[str, ...] = CATEGORIES, cutout: bool = False) -> list[dict]:
    """Write the dataset under `out` (images resolution x resolution) -> all entries.
    cutout: render the objects alone (train.data.render_views; backgrounds come at load time)."""
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(category, i) for category in categories for i in range(per_category)]
    work = partial(make_model, out=out, views=views, seed=seed, resolution=resolution,
                   room_fraction=room_fraction, cutout=cutout)
    entries: list[dict] = []
    start = time.perf_counter()
    with tqdm(total=len(tasks) * views, unit="view") as bar:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for result in pool.map(work, tasks, chunksize=4):
                    entries += result
                    bar.update(len(result))
        else:
            for task in tasks:
                result = work(task)
                entries += result
                bar.update(len(result))
    elapsed = time.perf_counter() - start
    write_annotations(out, entries)
    log.info("%d views of %d models in %.1f s: %.1f views/s (%.1f per worker)", len(entries),
             len(tasks), elapsed, len(entries) / elapsed, len(entries) / elapsed / workers)
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=128, help="rendered image side (pixels)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--room-fraction", type=float, default=0.5)
    parser.add_argument("--categories", default=",".join(CATEGORIES))
    parser.add_argument("--cutout", action="store_true", help="render the object alone (backgrounds at load time)")
    args = parser.parse_args(argv)
    categories = tuple(args.categories.split(","))
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories {sorted(unknown)}; expected some of {CATEGORIES}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate_dataset(args.out, args.per_category, args.views, args.seed, args.resolution,
                     args.workers, args.room_fraction, categories, args.cutout)


if __name__ == "__main__":
    main()
