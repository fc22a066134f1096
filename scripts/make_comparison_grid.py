"""The About tab's picture grid: the same photos, several cGAN samples beside several VAE samples.

    python scripts/make_comparison_grid.py [--out recon/weights/comparison.png] [--samples 3]

Rows: the example photos of examples/furniture (plain and room backgrounds); columns: the photo,
then `samples` cGAN grids (z ~ N(0, s^2 I), its noise_scale s; seeds 0, 1, ...), then `samples` VAE grids (z ~ q(z|x),
the same seeds), each meshed and rendered from 30 degrees right, 20 degrees above. Uses the
embedded weights (or RECON_CGAN_WEIGHTS / RECON_VAE_WEIGHTS).
"""

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recon.errors import EmptyGridError  # noqa: E402 (after the path set-up)
from recon.pipeline import FINDER_MODEL, get_reconstructor  # noqa: E402
from recon.preview import render_view  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TILE = 128


def tile_of(reconstructor, prepared, seed: int) -> Image.Image:
    (grid,) = reconstructor.predict([prepared], seed=seed)
    try:
        return render_view(reconstructor.to_mesh(grid), TILE)
    except EmptyGridError:
        return Image.new("RGB", (TILE, TILE), "white")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "recon" / "weights" / "comparison.png")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--photos", nargs="*", default=["chair-plain", "chair-room", "sofa-room", "table-room",
                                                        "bed-plain", "bookcase-plain"])
    args = parser.parse_args(argv)
    cgan, vae = get_reconstructor("cgan"), get_reconstructor("vae")
    columns = 1 + 2 * args.samples
    header = 22
    sheet = Image.new("RGB", (columns * TILE, header + len(args.photos) * TILE), "white")
    draw = ImageDraw.Draw(sheet)
    scale = getattr(cgan.network, "noise_scale", 1.0)
    spread = "I" if scale == 1 else f"{scale:g}^2 I"
    draw.text((TILE + 4, 4), f"cGAN: {args.samples} samples (z ~ N(0, {spread}))", fill=(0, 0, 0))
    draw.text(((1 + args.samples) * TILE + 4, 4), f"VAE: {args.samples} samples (z ~ q(z|x))", fill=(0, 0, 0))
    for row, name in enumerate(args.photos):
        photo = ROOT / "examples" / "furniture" / f"{name}.jpg"
        top = header + row * TILE
        thumbnail = Image.open(photo).convert("RGB")
        thumbnail.thumbnail((TILE, TILE))
        sheet.paste(thumbnail, ((TILE - thumbnail.width) // 2, top + (TILE - thumbnail.height) // 2))
        prepared = get_reconstructor(FINDER_MODEL).prepare(photo)  # one crop for both (the app)
        for column, reconstructor in ((1, cgan), (1 + args.samples, vae)):
            for k in range(args.samples):
                sheet.paste(tile_of(reconstructor, prepared, k), ((column + k) * TILE, top))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
