"""Write the AR tab's example scene with a plain A4 sheet, for "Find the sheet" (committed).

    examples/scenes/room-sheet.jpg    a photograph of wooden boards (Debian's
                                      plasma-workspace-wallpapers, "BytheWater", cropped to
                                      960 x 720) with an A4 sheet drawn in by tests/sheets.py
    examples/scenes/room-sheet.json   the sheet's true corners [[x, y], ...] TL, TR, BR, BL

Run: `PYTHONPATH=. python scripts/make_sheet_scene.py [--out examples/scenes] [--seed 3]`.
Deterministic for a seed and the installed wallpaper (apt-get install plasma-workspace-wallpapers).
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recon.ar import A4_ASPECT  # noqa: E402
from tests import sheets  # noqa: E402

log = logging.getLogger("make_sheet_scene")

WALLPAPER = Path("/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg")
SCENE_SIZE = (960, 720)
LOOK = sheets.SheetLook(tilt_deg=(50.0, 60.0), long_side_px=(190.0, 220.0), focal=(0.9, 1.1))


def boards(path: Path = WALLPAPER) -> np.ndarray:
    """(720, 960, 3) uint8 RGB: the lower middle of the photograph, where the boards are."""
    photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if photo is None:
        raise SystemExit(f"{path} is missing: apt-get install plasma-workspace-wallpapers")
    height, width = photo.shape[:2]
    crop = photo[height - 1200:, (width - 1600) // 2:(width + 1600) // 2]
    return cv2.resize(crop, SCENE_SIZE, interpolation=cv2.INTER_AREA)[..., ::-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples" / "scenes")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    background = boards()
    corners = sheets.sheet_corners(rng, SCENE_SIZE, A4_ASPECT, LOOK)
    scene = sheets.draw_sheet(background, corners, rng, LOOK)
    args.out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene).save(args.out / "room-sheet.jpg", quality=90, optimize=True)
    (args.out / "room-sheet.json").write_text(json.dumps(corners.round(2).tolist()) + "\n")
    log.info("wrote %s and room-sheet.json", args.out / "room-sheet.jpg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
