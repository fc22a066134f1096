"""Slim copies of the allowed Sweet Home 3D archives, for a machine that reaches nothing outside.

    python -m train.data.pack_sh3d --source PATH [PATH...] --out DIR

PATH: as for ``train.data.generate_sh3d`` (the Debian packages, unpacked package folders or the
archives themselves). A lent GPU machine (``scripts/gpu_pipeline.sh``) gets only what travels with
the working tree, 64 MiB in all; the two packages are 137 MB and the allowed archives inside them
76 MB, most of it pieces the generator never reads (kitchens, lights, doors, the application's
own classes and help). Each allowed archive is written to DIR under its own name, holding only
its catalogue file, the folders of the models of its usable pieces (``sh3d.is_usable``) and, in
``sweethome3d.jar``, the class that holds the default materials: about 13 MB in all. The
generator reads DIR as it reads the packages: the same pieces, the same meshes and voxels. It
keys each piece's random stream and voxel cache by the archive's bytes, so the views drawn
from a slim archive are other views (the same distribution) and each piece is voxelised afresh once.
"""

from __future__ import annotations

import argparse
import logging
import posixpath
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from train.data.sh3d import (DEFAULT_MATERIALS_CLASS, allowed_archives, catalog_member, is_usable,
                             read_catalog)

log = logging.getLogger(__name__)


def needed_members(archive: zipfile.ZipFile, model_paths: Iterable[str]) -> list[str]:
    """The members the generator reads for pieces whose OBJ files are `model_paths`: the catalogue,
    the default-materials class when present, and everything in each model's folder (its MTL
    files and textures; a model at the archive's root brings the root's files), in archive order."""
    folders = {posixpath.dirname(path) for path in model_paths}
    keep = {catalog_member(archive), DEFAULT_MATERIALS_CLASS}

    def in_a_folder(name: str) -> bool:
        return any(name.startswith(folder + "/") if folder else "/" not in name for folder in folders)

    return [name for name in archive.namelist()
            if not name.endswith("/") and (name in keep or in_a_folder(name))]


def pack_archive(source: Path, target: Path) -> tuple[int, int]:
    """Write the slim copy of one allowed archive; returns (bytes before, bytes after).
    Raises ValueError when target is the source itself."""
    if target.resolve() == source.resolve():
        raise ValueError(f"{target}: the slim copy would overwrite its source")
    models = [entry.model for entry in read_catalog(source) if is_usable(entry)]
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as slim:
        for name in needed_members(archive, models):
            info = archive.getinfo(name)
            slim.writestr(info, archive.read(name), compress_type=zipfile.ZIP_DEFLATED)
    return source.stat().st_size, target.stat().st_size


def pack_sh3d(sources: Iterable[str | Path], out: Path) -> list[Path]:
    """Slim copies of the allowed archives in `sources` written under `out`; returns their paths.
    Raises FileNotFoundError / ValueError (from train.data.sh3d) for unusable sources."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="sh3d-pack-") as scratch:
        archives = allowed_archives(sources, Path(scratch))
        if not archives:
            raise ValueError(f"no allowed archive in {', '.join(map(str, sources))}")
        for archive in archives:
            before, after = pack_archive(archive, out / archive.name)
            log.info("%s: %.1f MB -> %.1f MB", archive.name, before / 1e6, after / 1e6)
            written.append(out / archive.name)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, nargs="+", required=True,
                        help=".deb files, unpacked package folders or .sh3f/.jar archives")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.source if not path.exists()]
    if missing:
        parser.error(f"no such source: {', '.join(missing)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = pack_sh3d(args.source, args.out)
    except (FileNotFoundError, ValueError, zipfile.BadZipFile) as error:
        raise SystemExit(f"error: {error}") from None
    log.info("%d archives, %.1f MB in %s", len(written), sum(p.stat().st_size for p in written) / 1e6, args.out)


if __name__ == "__main__":
    main()
