"""Write a Pix3D-style dataset of Sweet Home 3D furniture (the libraries of ``sh3d.ALLOWED_ARCHIVES``).

    python -m train.data.generate_sh3d --source PATH [PATH...] --out DIR --views V --seed S
        [--resolution 128] [--room-fraction 0.5] [--workers K] [--cache DIR]
        [--variants N] [--cutout] [--libraries A.sh3f,B.sh3f | --exclude-libraries A.sh3f]

PATH: the Debian packages (``apt-get download sweethome3d sweethome3d-furniture``), unpacked
package folders or the archives themselves. Every catalogue piece that maps to a Pix3D category is
voxelised once at 128^3 (cached as ``<cache>/<name>-<key>.npz``, the key hashing library, id, model
file, size, rotation and the archive's bytes) and rendered ``V`` times by
``train.data.render_views``. Besides Pix3D's layout, DIR gets:

    CREDITS.md     the models used: name, category, author, licence, library
    sources.json   inputs and libraries (file names, sha256), settings, one record per model

Images say ``img_source = model_source = "sh3d:<library>"``; model folders are named
``sh3d_<id>`` so they never collide with procedural ones, and the root can be given to the trainer
beside others (``--data procedural sh3d``). Each model's random stream is seeded by (seed, its key),
so the output depends neither on the number of workers nor on which other models are present.

``--variants N`` adds N - 1 mirrored / stretched variants of every piece (train.data.variants),
each its own model folder ``<name>_v<k>`` rendered ``V`` times; ``--cutout`` renders the object
alone (the training loader composites backgrounds); ``--libraries`` / ``--exclude-libraries``
keep or drop whole libraries (a library kept out of training is the unseen-library test).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recon.errors import InvalidMeshError
from train.data.credits import credits_table
from train.data.render_views import render_views, write_annotations
from train.data.sh3d import CatalogEntry, extract_catalogs_from_deb, iter_catalog_entries, load_entry_mesh
from train.data.variants import draw_variant, shape_variant
from train.data.voxelize import voxelize_mesh

log = logging.getLogger(__name__)

VOXEL_RESOLUTION = 128  # Pix3D's voxel.mat size


@dataclass(frozen=True)
class PlannedModel:
    """One catalogue piece to render: its folder name and cache key (sha256 hex)."""

    entry: CatalogEntry
    name: str
    key: str


def source_tag(entry: CatalogEntry) -> str:
    """The img_source / model_source of an entry's images, e.g. "sh3d:KatorLegaz.sh3f"."""
    return f"sh3d:{entry.library}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "model"


@lru_cache(maxsize=8)
def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_key(entry: CatalogEntry) -> str:
    """sha256 hex of everything that decides the entry's voxels (the archive by content, since a
    .deb is unpacked to a new temporary folder on each run)."""
    fields = (entry.library, _file_sha256(entry.archive), entry.id, entry.model, entry.width,
              entry.height, entry.depth, entry.model_rotation, VOXEL_RESOLUTION)
    return hashlib.sha256(repr(fields).encode()).hexdigest()


def plan_models(entries: Iterable[CatalogEntry]) -> list[PlannedModel]:
    """Unique folder names ``sh3d_<id>`` (``_2``, ``_3``... on a clash) in the entries' order."""
    planned, used = [], Counter()
    for entry in entries:
        base = f"sh3d_{_slug(entry.id)}"
        used[base] += 1
        name = base if used[base] == 1 else f"{base}_{used[base]}"
        planned.append(PlannedModel(entry, name, entry_key(entry)))
    return planned


def cached_voxels(model: PlannedModel, mesh, cache: Path | None) -> np.ndarray:
    """bool (128, 128, 128) canonical voxels of the model's mesh, read from or written to ``cache``."""
    path = cache / f"{model.name}-{model.key[:16]}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path) as stored:
            return np.unpackbits(stored["bits"])[: VOXEL_RESOLUTION ** 3].reshape((VOXEL_RESOLUTION,) * 3).astype(bool)
    voxels = voxelize_mesh(mesh, VOXEL_RESOLUTION)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename, so a run killed midway never leaves a truncated cache file
        partial_path = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(partial_path, bits=np.packbits(voxels))
        partial_path.replace(path)
    return voxels


def make_model(model: PlannedModel, out: Path, views: int, seed: int, resolution: int,
               room_fraction: float, cache: Path | None, variants: int = 1,
               cutout: bool = False) -> list[dict]:
    """Load, voxelise (cached) and render one catalogue piece and its `variants` - 1 mirrored /
    stretched variants -> their pix3d.json entries ([] when the model cannot be loaded or has no
    voxels; logged)."""
    entry = model.entry
    try:
        mesh = load_entry_mesh(entry)
    except (InvalidMeshError, KeyError, ValueError, IndexError) as error:
        log.warning("skipping %s %s (%s): %s", entry.library, entry.id, entry.model, error)
        return []
    voxels = cached_voxels(model, mesh, cache)
    if not voxels.any():
        log.warning("skipping %s %s: no voxels", entry.library, entry.id)
        return []
    entries = []
    for index in range(variants):
        rng = np.random.default_rng([seed, int(model.key[:16], 16), index])
        name, shape, grid = model.name, mesh, voxels
        if index:
            mirror, stretch = draw_variant(rng)
            # the first variant is the plain mirror image, the others also change the proportions
            shape, grid = shape_variant(mesh, voxels, mirror or index == 1, (1, 1, 1) if index == 1 else stretch)
            name = f"{model.name}_v{index}"
        entries += render_views(out, entry.pix3d_category, name, shape, grid, views, rng,
                                source=source_tag(entry), image_size=resolution,
                                room_fraction=room_fraction, cutout=cutout)
    return entries


def _unpack_debs(sources: Iterable[str | Path], scratch: Path) -> list[Path]:
    """Sources with each .deb replaced by its allowed archives, copied into ``scratch``.

    sh3d.iter_catalog_entries would unpack a .deb into a folder that vanishes when iteration ends;
    worker processes open the archives later, so they must outlive the listing.
    """
    paths = []
    for source in map(Path, sources):
        if source.suffix == ".deb":
            folder = scratch / _slug(source.name)
            folder.mkdir()
            paths += extract_catalogs_from_deb(source, folder)
        else:
            paths.append(source)
    return paths


def _write_credits(out: Path, entries: list[CatalogEntry]) -> Path:
    path = out / "CREDITS.md"
    libraries = ", ".join(sorted({entry.library for entry in entries}))
    path.write_text(
        "# Credits: Sweet Home 3D furniture\n\n"
        f"The {len(entries)} furniture models rendered into this dataset come from the Sweet Home 3D "
        f"libraries {libraries} (Debian packages `sweethome3d` and `sweethome3d-furniture`). "
        "Each model keeps its author's licence:\n\n" + credits_table(entries)
    )
    return path


def _write_sources(out: Path, sources: list[Path], planned: list[PlannedModel], rendered: dict[str, int],
                   settings: dict) -> Path:
    used = [model for model in planned if rendered.get(model.name)]
    archives = {model.entry.library: model.entry for model in used}
    record = {
        "generator": "train.data.generate_sh3d",
        "settings": settings,
        "inputs": [{"file": path.name, "sha256": _file_sha256(path)} for path in sources if path.is_file()],
        "libraries": [
            {"library": library, "sha256": _file_sha256(entry.archive),
             "models": sum(model.entry.library == library for model in used)}
            for library, entry in sorted(archives.items())
        ],
        "models": [
            {"name": model.name, "category": model.entry.pix3d_category, "library": model.entry.library,
             "id": model.entry.id, "title": model.entry.name, "model": model.entry.model,
             "creator": model.entry.creator, "license": model.entry.license, "views": rendered[model.name]}
            for model in used
        ],
    }
    path = out / "sources.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return path


def generate_sh3d_dataset(sources: Iterable[str | Path], out: Path, views: int, seed: int = 0,
                          resolution: int = 128, workers: int = 1, room_fraction: float = 0.5,
                          cache: Path | None = None, variants: int = 1, cutout: bool = False,
                          libraries: tuple[str, ...] = (), exclude_libraries: tuple[str, ...] = ()) -> list[dict]:
    """Write every Pix3D-category piece of the allowed libraries in ``sources`` under ``out``
    (images resolution x resolution, ``views`` per model), with CREDITS.md and sources.json.

    cache: folder of voxel .npz files (None: voxelise every time). variants, cutout: see the module
    docstring. libraries / exclude_libraries: library file names to keep only / to drop (empty:
    no filter). Returns the pix3d.json entries.
    Raises FileNotFoundError / ValueError (from train.data.sh3d) for unusable sources, ValueError
    when they hold no usable piece.
    """
    out, sources = Path(out), [Path(source) for source in sources]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sh3d-") as scratch:
        planned = plan_models(entry for entry in iter_catalog_entries(_unpack_debs(sources, Path(scratch)))
                              if (not libraries or entry.library in libraries)
                              and entry.library not in exclude_libraries)
        if not planned:
            raise ValueError(f"no Pix3D-category furniture in {', '.join(map(str, sources))}")
        work = partial(make_model, out=out, views=views, seed=seed, resolution=resolution,
                       room_fraction=room_fraction, cache=cache, variants=variants, cutout=cutout)
        rendered: dict[str, int] = {}
        entries: list[dict] = []
        with tqdm(total=len(planned) * views * variants, unit="view") as bar:
            pool = ProcessPoolExecutor(workers) if workers > 1 else None
            try:
                results = pool.map(work, planned) if pool else map(work, planned)
                for model, result in zip(planned, results):
                    rendered[model.name] = len(result)
                    entries += result
                    bar.update(views * variants)
            finally:
                if pool:
                    pool.shutdown()
        write_annotations(out, entries)
        used = [model.entry for model in planned if rendered[model.name]]
        _write_credits(out, used)
        settings = {"views": views, "seed": seed, "resolution": resolution, "room_fraction": room_fraction,
                    "voxel_resolution": VOXEL_RESOLUTION, "variants": variants, "cutout": cutout,
                    "libraries": list(libraries), "exclude_libraries": list(exclude_libraries)}
        _write_sources(out, sources, planned, rendered, settings)
    elapsed = time.perf_counter() - start
    per_category = Counter(entry.pix3d_category for entry in used)
    log.info("%d views of %d models (%d skipped) in %.1f s: %.2f views/s with %d worker(s)", len(entries),
             len(used), len(planned) - len(used), elapsed, len(entries) / elapsed, workers)
    log.info("models per category: %s", ", ".join(f"{c} {n}" for c, n in sorted(per_category.items())))
    return entries


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "recon3d" / "sh3d-voxels"


def source_parser(description: str, views: int) -> argparse.ArgumentParser:
    """The arguments every Sweet Home 3D renderer takes: --source, --out, --views (default `views`),
    --seed, --resolution, --workers, --exclude-libraries."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--source", type=Path, nargs="+", required=True,
                        help=".deb files, unpacked package folders or .sh3f/.jar archives")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--views", type=int, default=views)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=128, help="rendered image side (pixels)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--exclude-libraries", default="", help="comma-separated library files to drop")
    return parser


def parse_sources(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, refuse missing sources (exit 2 with a message) and set up logging."""
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.source if not path.exists()]
    if missing:
        parser.error(f"no such source: {', '.join(missing)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("trimesh").setLevel(logging.WARNING)  # "triangulating faces" for every quad model
    args.exclude_libraries = tuple(filter(None, args.exclude_libraries.split(",")))
    return args


def main(argv: list[str] | None = None) -> None:
    parser = source_parser(__doc__.split("\n\n")[0], views=8)
    parser.add_argument("--room-fraction", type=float, default=0.5)
    parser.add_argument("--cache", type=Path, default=_default_cache(), help="voxel cache folder")
    parser.add_argument("--variants", type=int, default=1, help="shapes per piece: 1 + mirrored/stretched")
    parser.add_argument("--cutout", action="store_true", help="render the object alone (backgrounds at load time)")
    parser.add_argument("--libraries", default="", help="comma-separated library files to keep (default all)")
    args = parse_sources(parser, argv)
    try:
        generate_sh3d_dataset(args.source, args.out, args.views, args.seed, args.resolution,
                              args.workers, args.room_fraction, args.cache, args.variants, args.cutout,
                              tuple(filter(None, args.libraries.split(","))), args.exclude_libraries)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
