"""Pictures of things that are not furniture, cut out, as clutter for training composites.

    python -m train.data.photo_cutouts --source tuxpaint-stamps-default_*.deb --out data/photo-cutouts \
        [--side 80] [--validation-share 0.2]

The source is Debian's tuxpaint-stamps-default (Tux Paint's stamps, GPL-2; a .deb or its unpacked
folder): pictures with transparency, most of them photographs cut out (animals, food, plants,
instruments, vehicles, toys, buildings), some drawings. The scikit-image and OpenCV sample photos
the evaluation reserves show such things (a cat, a person, a cup); the blob-shaped synthetic
clutter and the rendered catalogue pieces (train.data.clutter_pieces) are not photographs. Kept:
PNG stamps in colour (not the grey letters and hand signs: mean saturation of the opaque pixels
at least MIN_SATURATION) whose opaque pixels cover COVERAGE of the picture, not ``symbols/``
(letters, signs, coins), not ``*_mirror`` twins (the loader mirrors), not named like furniture.
Written as

    DIR/train/<category>/<path_name>.png       RGBA, straight colour, longer side at most --side
    DIR/validation/<category>/<path_name>.png  a fixed share by name (train.finder_validation only)
    DIR/CREDITS.md, DIR/sources.json           the source, its licence, every picture kept

``train.data.clutter_pieces.PieceBank(DIR / "train")`` draws them (``--clutter_pieces``): the
composite puts one anywhere in view, behind the object or in front of it, and counts it as
background.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from train.data.debian import unpack_deb

log = logging.getLogger(__name__)

STAMPS_FOLDER = "usr/share/tuxpaint/stamps"
SIDE = 80  # stored longer side: a furniture render's (128 px) median extent, so PIECE_SCALE is relative to the object
MIN_SATURATION = 0.12  # mean HSV saturation of the opaque pixels; below: grey letters, signs, outlines
COVERAGE = (0.05, 0.95)  # share of the picture its opaque pixels (alpha >= 128) must cover
LEFT_OUT = ("symbols",)  # top folders that hold no things: letters, road signs, money
FURNITURE = re.compile(r"(?:^|[_\-\s])(?:chairs?|sofas?|couch|beds?|tables?|desks?|bookcases?|shelf|shelves|"
                       r"wardrobes?|cabinets?|stools?|bench|dressers?|drawers?)(?:$|[_\-\s])")
VALIDATION_SHARE = 0.2
LICENSE = "GPL-2"
CREDIT = "Tux Paint stamps, (c) 2002-2022 Bill Kendrick and Tux Paint's contributors, GPL-2 (Debian package tuxpaint-stamps-default)"


class CutoutError(ValueError):
    """A picture that cannot serve as a cutout (no transparency, grey, nearly empty or full)."""


def is_validation(name: str, share: float = VALIDATION_SHARE) -> bool:
    """Whether a picture goes to the validation half: a fixed function of its name (sha256)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


def cutout_from(image: Image.Image, side: int = SIDE) -> np.ndarray:
    """A stamp -> RGBA uint8 (H, W, 4) cropped to its opaque pixels, longer side at most ``side``.
    Raises CutoutError when it has no transparency, is grey or covers too little or too much."""
    if image.mode in ("L", "LA", "1", "I", "F"):
        raise CutoutError("grey picture")
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    coverage = float((alpha >= 128).mean())
    if not COVERAGE[0] <= coverage <= COVERAGE[1]:
        raise CutoutError(f"opaque share {coverage:.2f} outside {COVERAGE}")
    saturation = np.asarray(rgba.convert("RGB").convert("HSV"))[..., 1][alpha >= 128].mean() / 255
    if saturation < MIN_SATURATION:
        raise CutoutError(f"mean saturation {saturation:.2f} below {MIN_SATURATION}")
    rows, cols = np.nonzero(alpha)
    rgba = rgba.crop((int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1))
    rgba.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(rgba)


def _stamps_root(source: Path, scratch: str) -> Path:
    if source.is_dir():
        inner = source / STAMPS_FOLDER
        return inner if inner.is_dir() else source
    unpack_deb(source, scratch)
    return Path(scratch) / STAMPS_FOLDER


def collect_cutouts(source: Path, out: Path, side: int = SIDE, share: float = VALIDATION_SHARE) -> dict:
    """Every usable stamp of ``source`` (the .deb or a folder of stamps) -> out/{train,validation};
    returns {"train": n, "validation": n, "skipped": n}. Raises FileNotFoundError when none is usable
    or the .deb cannot be read, FileExistsError when ``out`` already holds cut-outs (an earlier run's
    pictures would mix the halves)."""
    stale = [split for split in ("train", "validation") if any((out / split).glob("*/*.png"))]
    if stale:  # pictures of an earlier run (another share or source) would mix the two halves
        raise FileExistsError(f"{out} already holds cut-outs in {' and '.join(stale)}/: choose an empty --out")
    kept, skipped = [], 0
    with tempfile.TemporaryDirectory() as scratch:
        root = _stamps_root(Path(source), scratch)
        for path in sorted(root.rglob("*.png")):
            relative = path.relative_to(root)
            name = "-".join(relative.with_suffix("").parts)
            if relative.parts[0] in LEFT_OUT or path.stem.endswith("_mirror") or FURNITURE.search(path.stem.lower()):
                skipped += 1
                continue
            try:
                with Image.open(path) as image:
                    rgba = cutout_from(image, side)
            except CutoutError as error:
                log.debug("%s: %s", relative, error)
                skipped += 1
                continue
            split = "validation" if is_validation(name, share) else "train"
            target = out / split / relative.parts[0] / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgba).save(target)
            kept.append({"name": name, "split": split, "size": list(rgba.shape[:2])})
    if not kept:
        raise FileNotFoundError(f"no usable stamps under {source}")
    counts = {split: sum(1 for k in kept if k["split"] == split) for split in ("train", "validation")}
    counts["skipped"] = skipped
    source_hash = hashlib.sha256(Path(source).read_bytes()).hexdigest() if Path(source).is_file() else None
    (out / "sources.json").write_text(json.dumps({"source": Path(source).name, "sha256": source_hash,
                                                  "license": LICENSE, "side": side, "validation_share": share,
                                                  "counts": counts, "pictures": kept}, indent=1) + "\n")
    (out / "CREDITS.md").write_text(f"# Cut-out pictures used as clutter\n\n{CREDIT}: {counts['train']} pictures "
                                    f"in training, {counts['validation']} kept for validation "
                                    "(names in sources.json).\n")
    return counts


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="tuxpaint-stamps-default_*.deb or its unpacked folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--side", type=int, default=SIDE)
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    args = parser.parse_args(argv)
    try:
        counts = collect_cutouts(args.source, args.out, args.side, args.validation_share)
    except OSError as error:  # FileNotFoundError, FileExistsError
        raise SystemExit(f"error: {error}") from None
    log.info("%d cut-outs for training, %d for validation, %d stamps skipped",
             counts["train"], counts["validation"], counts["skipped"])


if __name__ == "__main__":
    main()
