"""Contact sheet of procedural furniture (train/data/procedural.py), to eyeball the shapes.

    python scripts/preview_procedural.py [--out runs/procedural_preview.png] [--per-category 8]
        [--seed 0] [--size 192] [--categories chair,table,...]

Row c, column i shows model i of category c drawn exactly as train.data.generate draws it
(numpy Generator((seed, category index, i))), from a front-ish viewpoint on a plain background,
with its style written under it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.data.procedural import CATEGORIES, furniture_mesh, generate  # noqa: E402
from train.data.render_views import PIX3D_VIEWPOINTS, render_view, sample_camera  # noqa: E402

# Front-ish, untruncated, upright views (as scripts/make_examples.py uses).
PREVIEW_VIEWS = dataclasses.replace(PIX3D_VIEWPOINTS, azimuth_mean=30.0, azimuth_std=12.0, back_fraction=0.0,
                                    truncated_fraction=0.0, inplane_std=0.0, offset_std=0.0)
LABEL_HEIGHT = 14


def contact_sheet(categories: tuple[str, ...], per_category: int, seed: int, size: int) -> Image.Image:
    """One row per category, `per_category` renders (size x size pixels) each, style labels."""
    sheet = Image.new("RGB", (per_category * size, len(categories) * (size + LABEL_HEIGHT)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, category in enumerate(categories):
        for i in range(per_category):
            furniture = generate(category, np.random.default_rng((seed, CATEGORIES.index(category), i)))
            mesh = furniture_mesh(furniture)
            view_rng = np.random.default_rng((seed, row, i, 1))
            camera, _ = sample_camera(view_rng, np.asarray(mesh.vertices), (size, size), PREVIEW_VIEWS)
            rgb, _ = render_view(mesh, camera, "clean", view_rng)
            x, y = i * size, row * (size + LABEL_HEIGHT)
            sheet.paste(Image.fromarray(rgb), (x, y))
            draw.text((x + 3, y + size), f"{category} {i}: {furniture.style} ({len(furniture.parts)})", fill=(0, 0, 0))
    return sheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/procedural_preview.png"))
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--categories", default=",".join(CATEGORIES))
    args = parser.parse_args(argv)
    categories = tuple(args.categories.split(","))
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories {sorted(unknown)}; expected some of {CATEGORIES}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(categories, args.per_category, args.seed, args.size).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
