"""Background pictures for training composites, gathered once into a folder per source.

    python -m train.data.photo_backgrounds --out data/backgrounds \
        [--wallpapers /usr/share/wallpapers] [--sh3d sweethome3d_*.deb] [--lomiri lomiri-wallpapers-*.deb] \
        [--gcompris gcompris-qt-data_*.deb [--gcompris-held-out data/backgrounds-validation/gcompris-tables]]

writes ``<out>/<source>/<name>.jpg`` (longest side at most MAX_SIDE) for the training sources:

    wallpapers   photographs of Debian's plasma-workspace-wallpapers (one image per wallpaper)
    textures     the photo textures of Sweet Home 3D's default catalogue (floors, walls, stone,
                 wood, fabric-like tiles), from the sweethome3d package's jar
    lomiri       the photographs of Debian's lomiri-wallpapers-16.04 (Ubuntu's 2018 wallpaper
                 contest: things in view, indoors and out) and the one photograph among
                 lomiri-wallpapers-20.04's pictures; CC0 / CC-BY / CC-BY-SA, authors in the names
    gcompris     the photographs inside Debian's gcompris-qt-data (the educational suite's Qt
                 resource files, train.data.qt_resources): tools and kitchen things on tables,
                 animals, fish, monuments, musicians, wind mills and solar panels; each file's
                 author and licence (public domain, CC-BY, CC-BY-SA, GPL) are in the package's
                 copyright file; pictures of furniture are left out (they would be unmasked
                 furniture in the background)
    gcompris-train  with --gcompris-held-out: the same minus the pictures of things on tables
                 (GCOMPRIS_HELD_OUT), which go to that folder instead, for the object finder's
                 validation (train.finder_validation --backgrounds): photographs of the users' kind
                 that training never sees

``BackgroundBank(root, sources)`` loads such a folder into memory and draws random crops from it.
Which sources a model trains on is a choice of the data loader; the evaluation keeps a whole
source of real photographs out of training (see train.evaluate).
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from train.data.credits import file_credit, picture_credits_table, read_dep5
from train.data.debian import unpack_deb
from train.data.qt_resources import QtResourceError, read_resources

log = logging.getLogger(__name__)

MAX_SIDE = 768  # stored size; crops for 128-pixel training images need no more
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TEXTURES_FOLDER = "com/eteks/sweethome3d/io/resources/textures/"
LOMIRI_FOLDER = "usr/share/backgrounds"
# lomiri-wallpapers-20.04 holds three illustrations beside this photograph
LOMIRI_PHOTOS_20_04 = ("Kleiber_by_Lukas_Baubkus.jpg",)
GCOMPRIS_FOLDER = "usr/share/gcompris-qt/rcc"
GCOMPRIS_COPYRIGHT = "usr/share/doc/gcompris-qt-data/copyright"
# the activities whose pictures are photographs (the others draw theirs)
GCOMPRIS_ACTIVITIES = ("categorization", "erase", "explore_farm_animals", "explore_monuments",
                       "explore_world_animals", "explore_world_music")
GCOMPRIS_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png")
GCOMPRIS_MIN_SIDE = 150  # smaller pictures are icons
# tools and kitchen things on tables, indoors: the users' kind of photograph, held out of
# gcompris-train for the finder validation (51 of the 250)
GCOMPRIS_HELD_OUT = ("categorization-tools-", "categorization-others-")
FURNITURE_WORDS = ("armchair", "bed", "bench", "bookcase", "cabinet", "chair", "couch", "cupboard", "desk",
                   "shelf", "sofa", "stool", "table", "wardrobe")


def _save_downscaled(image: Image.Image, path: Path) -> None:
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=92)


def collect_wallpapers(folder: Path, out: Path) -> int:
    """One picture per wallpaper package (its largest file) -> out/wallpapers; returns the count."""
    count = 0
    for package in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        files = [f for f in (package / "contents" / "images").glob("*") if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            continue
        largest = max(files, key=lambda f: f.stat().st_size)
        with Image.open(largest) as image:
            _save_downscaled(image, out / "wallpapers" / f"{package.name}.jpg")
        count += 1
    return count


def collect_lomiri(debs: list[Path], out: Path) -> int:
    """The photographs of the lomiri-wallpapers-16.04 / -20.04 .debs -> out/lomiri; returns the count.
    Raises FileNotFoundError when the packages hold none."""
    count = 0
    for deb in debs:
        with tempfile.TemporaryDirectory() as scratch:
            unpack_deb(deb, scratch)
            for path in sorted((Path(scratch) / LOMIRI_FOLDER).glob("*")):
                photograph = "16.04" in deb.name or path.name in LOMIRI_PHOTOS_20_04
                if path.suffix.lower() in IMAGE_SUFFIXES and photograph:
                    with Image.open(path) as image:
                        _save_downscaled(image, out / "lomiri" / f"{path.stem}.jpg")
                    count += 1
    if not count:
        raise FileNotFoundError(f"no lomiri photographs in {', '.join(str(d) for d in debs)}")
    return count


def is_photograph(image: Image.Image) -> bool:
    """A picture that can stand as a photographic background: opaque (no transparent pixels) and
    at least GCOMPRIS_MIN_SIDE on its shorter side."""
    if min(image.size) < GCOMPRIS_MIN_SIDE:
        return False
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return int(np.asarray(image.convert("RGBA"))[..., 3].min()) == 255
    return True


def collect_gcompris(deb: Path, out: Path, held_out: Path | None = None) -> int:
    """The photographs of gcompris-qt-data's photo activities (GCOMPRIS_ACTIVITIES) -> out/gcompris,
    named <activity>-<folder>-<name>.jpg, none whose name says furniture, and out/gcompris/CREDITS.md
    (each picture's author, licence and source from the package's copyright file); returns the
    count. With `held_out`, also split them: the pictures named GCOMPRIS_HELD_OUT* into `held_out`,
    the others into out/gcompris-train, each part with its CREDITS.md. Raises FileNotFoundError when
    the package holds none."""
    count, credits = 0, []
    with tempfile.TemporaryDirectory() as scratch:
        unpack_deb(deb, scratch)
        copyright_file = Path(scratch) / GCOMPRIS_COPYRIGHT
        paragraphs = read_dep5(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
        for activity in GCOMPRIS_ACTIVITIES:
            resource = Path(scratch) / GCOMPRIS_FOLDER / f"{activity}.rcc"
            if not resource.is_file():
                continue
            for path, data in sorted(read_resources(resource.read_bytes()).items()):
                name = Path(path)
                if name.suffix.lower() not in GCOMPRIS_SUFFIXES:
                    continue
                if any(word in name.stem.lower() for word in FURNITURE_WORDS):
                    continue
                with Image.open(io.BytesIO(data)) as image:
                    if is_photograph(image):
                        saved = f"{activity}-{name.parent.name}-{name.stem}.jpg"
                        _save_downscaled(image, out / "gcompris" / saved)
                        credits.append((saved, file_credit(paragraphs, path.removeprefix("/gcompris/"))))
                        count += 1
    if not count:
        raise FileNotFoundError(f"no photographs in {deb}")
    _write_gcompris_credits(out / "gcompris", deb, credits)
    if held_out is not None:
        parts = {Path(held_out): [], out / "gcompris-train": []}
        for row in credits:
            parts[Path(held_out) if row[0].startswith(GCOMPRIS_HELD_OUT) else out / "gcompris-train"].append(row)
        for folder, rows in parts.items():
            folder.mkdir(parents=True, exist_ok=True)
            for name, _ in rows:
                shutil.copyfile(out / "gcompris" / name, folder / name)
            _write_gcompris_credits(folder, deb, rows)
        log.info("gcompris-train: %d pictures; held out in %s: %d", len(parts[out / "gcompris-train"]), held_out,
                 len(parts[Path(held_out)]))
    return count


def _write_gcompris_credits(folder: Path, deb: Path, rows: list[tuple[str, dict[str, str] | None]]) -> None:
    (folder / "CREDITS.md").write_text(
        "# Credits: background photographs of gcompris-qt-data\n\n"
        f"From Debian's {deb.name}; author, licence and source of each picture as its copyright file gives them.\n\n"
        + picture_credits_table(rows))


def collect_sh3d_textures(deb: Path, out: Path) -> int:
    """The default catalogue's texture photos (inside the sweethome3d .deb's jar) -> out/textures."""
    with tempfile.TemporaryDirectory() as scratch:
        unpack_deb(deb, scratch)
        jars = list(Path(scratch).rglob("sweethome3d.jar"))
        if not jars:
            raise FileNotFoundError(f"no sweethome3d.jar inside {deb}")
        count = 0
        with zipfile.ZipFile(jars[0]) as jar:
            for member in jar.namelist():
                if member.startswith(TEXTURES_FOLDER) and member.lower().endswith(IMAGE_SUFFIXES):
                    with Image.open(io.BytesIO(jar.read(member))) as image:
                        _save_downscaled(image, out / "textures" / f"{Path(member).stem}.jpg")
                    count += 1
    return count


class BackgroundBank:
    """Pictures of some sources of a background folder, held as uint8 (H, W, 3) arrays.

    crop(rng, height, width) draws a picture, a random scale (the crop covers 35-100 % of the
    picture's shorter side) and position, and returns the crop resized to (height, width).
    Raises FileNotFoundError when the sources hold no picture.
    """

    def __init__(self, root: str | Path, sources: tuple[str, ...]):
        self.sources = tuple(sources)
        self.pictures: list[np.ndarray] = []
        for source in self.sources:
            for path in sorted((Path(root) / source).glob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    with Image.open(path) as image:
                        self.pictures.append(np.asarray(image.convert("RGB")))
        if not self.pictures:
            raise FileNotFoundError(f"no background pictures for {self.sources} under {root}")

    def __len__(self) -> int:
        return len(self.pictures)

    def crop(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        picture = self.pictures[rng.integers(len(self.pictures))]
        rows, cols = picture.shape[:2]
        side = rng.uniform(0.35, 1.0) * min(rows, cols)
        crop_h = int(min(rows, side * rng.uniform(0.85, 1.15) * height / max(height, width)))
        crop_w = int(min(cols, side * width / max(height, width)))
        top = int(rng.integers(0, rows - crop_h + 1))
        left = int(rng.integers(0, cols - crop_w + 1))
        region = picture[top:top + crop_h, left:left + crop_w]
        if rng.random() < 0.5:
            region = region[:, ::-1]
        return np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize((width, height),
                                                                             Image.Resampling.BILINEAR))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wallpapers", type=Path, default=Path("/usr/share/wallpapers"))
    parser.add_argument("--sh3d", type=Path, help="the sweethome3d .deb (apt-get download sweethome3d)")
    parser.add_argument("--lomiri", type=Path, nargs="+", default=[],
                        help="the lomiri-wallpapers-16.04 and -20.04 .debs (apt-get download ...)")
    parser.add_argument("--gcompris", type=Path, help="the gcompris-qt-data .deb (apt-get download gcompris-qt-data)")
    parser.add_argument("--gcompris-held-out", type=Path,
                        help="with --gcompris: put its pictures of things on tables here, for validation, "
                             "and the others in <out>/gcompris-train")
    args = parser.parse_args(argv)
    if args.gcompris_held_out and not args.gcompris:
        parser.error("--gcompris-held-out needs --gcompris")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.wallpapers.is_dir():
        log.info("wallpapers: %d pictures", collect_wallpapers(args.wallpapers, args.out))
    else:
        log.warning("no wallpapers folder %s (apt-get install plasma-workspace-wallpapers)", args.wallpapers)
    try:
        if args.sh3d:
            log.info("textures: %d pictures", collect_sh3d_textures(args.sh3d, args.out))
        if args.lomiri:
            log.info("lomiri: %d pictures", collect_lomiri(args.lomiri, args.out))
        if args.gcompris:
            log.info("gcompris: %d pictures", collect_gcompris(args.gcompris, args.out, args.gcompris_held_out))
    except (FileNotFoundError, QtResourceError) as error:  # a missing or unreadable .deb, one without pictures
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
