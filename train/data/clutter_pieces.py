"""Renders of the Sweet Home 3D pieces that are not furniture, for training composites' clutter.

    python -m train.data.clutter_pieces --source PATH [PATH...] --out DIR [--views 6] [--seed 0]
        [--resolution 128] [--workers K] [--exclude-libraries KatorLegaz.sh3f]

PATH: as for train.data.generate_sh3d (the Debian packages, unpacked folders or the archives).
Every piece of the allowed libraries that the furniture generator does not render (kitchen
appliances, bathroom fittings, lamps, plants, animals, toys, vehicles, pianos, exterior things) is
rendered ``V`` times alone, from the cameras train.data.render_views draws for furniture. Doors and
windows are left out (they do not stand in a room), and so are pieces that look like furniture
(``FURNITURE_LIKE``: benches, bedside tables, kitchen cabinets...). The renders are written as

    DIR/<library>/<piece>_<view>.png   RGBA: straight colour, alpha = anti-aliased coverage
    DIR/CREDITS.md                     the pieces used: name, author, licence, library
    DIR/sources.json                   inputs (sha256), settings, one record per piece

In a training composite (train.data.composite.compose, ``pieces=``) such a render stands beside,
behind or in front of the furniture and counts as background: the mask head learns that a lamp,
a person or a fridge is not the object, which the blob-shaped synthetic clutter cannot teach.
``PieceBank(DIR)`` holds the renders in memory and draws one. A library kept out of training
(the unseen-library test) must be kept out here too: ``--exclude-libraries``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from recon.errors import InvalidMeshError
from train.data.composite import Cutout
from train.data.credits import credits_table
from train.data.generate_sh3d import parse_sources, source_parser
from train.data.render_views import render_view, sample_camera
from train.data.sh3d import CatalogEntry, allowed_archives, is_usable, load_entry_mesh, read_catalog

log = logging.getLogger(__name__)

MIN_COVERAGE = 0.01  # renders where the piece covers less of the image are dropped (a thin rod)
# Pieces outside Pix3D's categories that still look like its furniture (a bedside table, a kitchen
# cabinet, a bench): as "not the object" they would teach the mask head to miss what a user shows.
FURNITURE_LIKE = re.compile(r"\b(?:chest|bedside|nightstand|cupboard|cabinets?|dresser|units?|stand|television|"
                            r"bench|stool|island|lounge|tables?|tatami|doors?|vanity|fireplace|drawers|crate|"
                            r"pallet|box|locker|safe|shelves|shelf|workbench)\b")


def is_clutter(entry: CatalogEntry) -> bool:
    """Whether a catalogue piece serves as clutter: what the furniture generator leaves out,
    except doors and windows and pieces that look like furniture (``FURNITURE_LIKE``)."""
    return not is_usable(entry) and not entry.door_or_window and not FURNITURE_LIKE.search(entry.name.lower())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "piece"


def piece_name(entry: CatalogEntry) -> str:
    """File stem of a piece's renders: its name and a short hash of (library, id, model)."""
    key = hashlib.sha256(f"{entry.library}\0{entry.id}\0{entry.model}".encode()).hexdigest()[:8]
    return f"{_slug(entry.name)[:40]}-{key}"


def render_piece(entry: CatalogEntry, out: Path, views: int, seed: int, resolution: int) -> int:
    """Render one piece `views` times into out/<library>/ -> the number of renders written (0 when
    its model cannot be loaded; logged)."""
    try:
        mesh = load_entry_mesh(entry)
    except (InvalidMeshError, KeyError, ValueError, IndexError) as error:
        log.warning("skipping %s %s (%s): %s", entry.library, entry.id, entry.model, error)
        return 0
    name = piece_name(entry)
    rng = np.random.default_rng([seed, int(name.rsplit("-", 1)[1], 16)])
    folder = out / _slug(Path(entry.library).stem)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for view in range(views):
        camera, _ = sample_camera(rng, mesh.vertices, (resolution, resolution))
        colour, coverage = render_view(mesh, camera, "cutout", rng)
        if (coverage >= 128).mean() < MIN_COVERAGE:
            continue
        Image.fromarray(np.dstack([colour, coverage])).save(folder / f"{name}_{view:02d}.png", compress_level=1)
        written += 1
    return written


def clutter_entries(archives: Iterable[Path], exclude_libraries: tuple[str, ...] = ()) -> list[CatalogEntry]:
    """The clutter pieces (``is_clutter``) of the archives, one per (library, id), libraries in
    `exclude_libraries` dropped."""
    entries = {}
    for archive in archives:
        if archive.name in exclude_libraries:
            continue
        for entry in filter(is_clutter, read_catalog(archive)):
            entries.setdefault((entry.library, entry.id), entry)
    return list(entries.values())


def generate_clutter(sources: Iterable[str | Path], out: Path, views: int = 6, seed: int = 0,
                     resolution: int = 128, workers: int = 1,
                     exclude_libraries: tuple[str, ...] = ()) -> dict[str, int]:
    """Render every clutter piece of the allowed libraries in `sources` under `out`, with
    CREDITS.md and sources.json -> {piece name: renders written}. Raises ValueError when the
    sources hold no clutter piece (and FileNotFoundError / ValueError for unusable sources)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sh3d-") as scratch:
        archives = allowed_archives(sources, Path(scratch))
        entries = clutter_entries(archives, exclude_libraries)
        if not entries:
            raise ValueError(f"no clutter pieces in {', '.join(map(str, sources))}")
        work = partial(render_piece, out=out, views=views, seed=seed, resolution=resolution)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                counts = list(pool.map(work, entries))
        else:
            counts = [work(entry) for entry in entries]
        used = [entry for entry, count in zip(entries, counts) if count]
        (out / "CREDITS.md").write_text(
            "# Credits: Sweet Home 3D pieces rendered as clutter\n\n"
            f"The {len(used)} models rendered into this folder (as background clutter of training "
            "composites, never as training shapes) keep their authors' licences:\n\n" + credits_table(used))
        record = {
            "generator": "train.data.clutter_pieces",
            "settings": {"views": views, "seed": seed, "resolution": resolution,
                         "exclude_libraries": list(exclude_libraries)},
            "libraries": [{"library": a.name, "sha256": hashlib.sha256(a.read_bytes()).hexdigest()}
                          for a in archives if a.name not in exclude_libraries],
            "pieces": [{"name": piece_name(e), "title": e.name, "category": e.category, "library": e.library,
                        "id": e.id, "creator": e.creator, "license": e.license, "renders": c}
                       for e, c in zip(entries, counts) if c],
        }
        (out / "sources.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    rendered = {piece_name(e): c for e, c in zip(entries, counts)}
    elapsed = time.perf_counter() - start
    log.info("%d renders of %d clutter pieces (%d skipped) in %.1f s", sum(counts), len(used),
             len(entries) - len(used), elapsed)
    return rendered


class PieceBank:
    """The renders of a clutter_pieces folder held as Cutouts; draw(rng) returns one.
    Raises FileNotFoundError when the folder holds none."""

    def __init__(self, root: str | Path):
        self.cutouts: list[Cutout] = []
        for path in sorted(Path(root).glob("*/*.png")):
            with Image.open(path) as image:
                rgba = np.asarray(image.convert("RGBA"))
            self.cutouts.append(Cutout(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])))
        if not self.cutouts:
            raise FileNotFoundError(f"no clutter renders under {root} (python -m train.data.clutter_pieces)")

    def __len__(self) -> int:
        return len(self.cutouts)

    def draw(self, rng: np.random.Generator) -> Cutout:
        return self.cutouts[rng.integers(len(self.cutouts))]


def main(argv: list[str] | None = None) -> None:
    args = parse_sources(source_parser(__doc__.split("\n\n")[0], views=6), argv)
    try:
        generate_clutter(args.source, args.out, args.views, args.seed, args.resolution, args.workers,
                         args.exclude_libraries)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
