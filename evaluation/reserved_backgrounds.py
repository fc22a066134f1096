"""The real photographs reserved for evaluation: the sample images bundled with scikit-image and
with OpenCV (Debian's opencv-doc package). Never train or tune on them: `train/` imports nothing
from here (tests/test_reserved_backgrounds.py checks), and only train.evaluate reads the folder.

    python -m evaluation.reserved_backgrounds --out data/backgrounds-eval

writes ``<out>/skimage/<name>.jpg`` and ``<out>/opencv/<name>.jpg`` (colour photographs only,
longest side at most 768), the layout train.data.photo_backgrounds.BackgroundBank reads.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

MAX_SIDE = 768
# photographs of real scenes and things (no diagrams, logos, text, calibration boards or paintings)
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
                  "brick.png", "grass.png", "gravel.png")
OPENCV_PHOTOS = ("aero1.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "building.jpg",
                 "butterfly.jpg", "fruits.jpg", "home.jpg", "leuvenA.jpg", "messi5.jpg", "orange.jpg",
                 "rubberwhale1.png", "squirrel_cls.jpg", "stuff.jpg", "HappyFish.jpg", "graf1.png",
                 "box_in_scene.png", "left.jpg")
OPENCV_FOLDER = Path("/usr/share/doc/opencv-doc/examples/data")


def skimage_folder() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def write_reserved(out: Path, opencv_folder: Path = OPENCV_FOLDER) -> dict[str, int]:
    """Copy the reserved photographs into `out` -> pictures written per source."""
    counts = {}
    for source, folder, names in (("skimage", skimage_folder(), SKIMAGE_PHOTOS),
                                  ("opencv", opencv_folder, OPENCV_PHOTOS)):
        counts[source] = 0
        for name in names:
            path = folder / name
            if not path.is_file():
                log.warning("reserved photo %s is missing", path)
                continue
            with Image.open(path) as image:
                picture = image.convert("RGB")
            picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            (out / source).mkdir(parents=True, exist_ok=True)
            picture.save(out / source / f"{Path(name).stem}.jpg", quality=92)
            counts[source] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--opencv", type=Path, default=OPENCV_FOLDER,
                        help="OpenCV's sample data (apt-get install opencv-doc)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("reserved photos: %s", write_reserved(args.out, args.opencv))


if __name__ == "__main__":
    main()
