"""Generate the app's example photos under examples/ (committed; about 0.5 MB in all).

    examples/furniture/<category>-<n>.jpg   procedural furniture (train/data/procedural.py) rendered
                                            from a front-ish viewpoint on a plain or room background
    examples/scenes/room.jpg                a synthetic room photo with an A4 sheet lying on the floor
    examples/scenes/room-reference.png      the sheet's picture (the AR tab's reference to find)
    examples/scenes/room.json               the sheet's true corners [[x, y], ...] TL, TR, BR, BL

Run: `python scripts/make_examples.py [--out examples] [--seed 7]`. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.data.backgrounds import room_background  # noqa: E402
from train.data.procedural import CATEGORIES, furniture_mesh, generate  # noqa: E402
from train.data.render_views import PIX3D_VIEWPOINTS, render_view, sample_camera  # noqa: E402

PHOTO_SIZE = (448, 448)
SCENE_SIZE = (800, 600)  # width, height
A4_M = (0.210, 0.297)  # the sheet's side across the view, then the side going away (metres)
# Front-ish, untruncated views: examples should show what the models are good at.
EXAMPLE_VIEWS = dataclasses.replace(PIX3D_VIEWPOINTS, azimuth_mean=25.0, azimuth_std=15.0, back_fraction=0.0,
                                    truncated_fraction=0.0, inplane_std=0.0, offset_std=0.0)
# (category, background) pairs: every category once on a plain background, some in a room.
PLAN = [(category, "clean") for category in CATEGORIES] + [("chair", "room"), ("sofa", "room"), ("table", "room")]


def furniture_photos(out: Path, rng: np.random.Generator) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (category, background) in enumerate(PLAN):
        mesh = furniture_mesh(generate(category, rng))
        camera, _ = sample_camera(rng, np.asarray(mesh.vertices), PHOTO_SIZE, EXAMPLE_VIEWS)
        rgb, _ = render_view(mesh, camera, background, rng)
        path = out / f"{category}-{'room' if background == 'room' else 'plain'}.jpg"
        Image.fromarray(rgb).save(path, quality=87, optimize=True)
        written.append(path)
    return written


def reference_picture(rng: np.random.Generator, size=(420, 594)) -> Image.Image:
    """A poster-like picture full of corners and colour (so feature matching finds it)."""
    picture = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(picture)
    width, height = size
    for _ in range(60):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(8, 50)
        colour = tuple(int(c) for c in rng.integers(0, 220, 3))
        if rng.random() < 0.5:
            draw.rectangle((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=colour)
        else:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(20, 20, 20), width=2)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(30, 30, 30), width=6)
    draw.text((20, 20), "RECON3D", fill=(0, 0, 0), stroke_width=1)
    return picture


def floor_corners(image_size=SCENE_SIZE) -> np.ndarray:
    """Pixel corners (TL, TR, BR, BL) of an A4 sheet 1.2 m ahead on the floor, seen from 1.0 m
    high with the camera pitched 25 degrees down (focal 800 px)."""
    width, height = image_size
    focal, pitch, eye = 800.0, np.radians(25.0), 1.0
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    c, s = np.cos(pitch), np.sin(pitch)
    # World (x right, Y up, z toward the viewer) -> OpenCV (y down, z forward), then pitch down.
    R = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ np.diag([1.0, -1.0, -1.0])
    centre = np.array([0.2, 0.0, -1.2])  # sheet centre on the floor (x right, z toward the camera)
    half_w, half_d = A4_M[0] / 2, A4_M[1] / 2
    world = centre + np.array([[-half_w, 0, -half_d], [half_w, 0, -half_d], [half_w, 0, half_d], [-half_w, 0, half_d]])
    camera = (world - np.array([0.0, eye, 0.0])) @ R.T
    pixels = camera @ K.T
    return pixels[:, :2] / pixels[:, 2:]


def scene_photos(out: Path, rng: np.random.Generator) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    width, height = SCENE_SIZE
    corners = floor_corners()
    room = room_background(height, width, rng, horizon=height / 2 - 800 * np.tan(np.radians(25)))
    poster = reference_picture(rng)
    source = np.array([[0, 0], [poster.width, 0], [poster.width, poster.height], [0, poster.height]], np.float32)
    H = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    warped = cv2.warpPerspective(np.asarray(poster), H, SCENE_SIZE, flags=cv2.INTER_AREA)
    covered = cv2.warpPerspective(np.full((poster.height, poster.width), 255, np.uint8), H, SCENE_SIZE) / 255.0
    scene = room * (1 - covered[..., None]) + warped * covered[..., None]
    paths = [out / "room.jpg", out / "room-reference.png", out / "room.json"]
    Image.fromarray(scene.round().astype(np.uint8)).save(paths[0], quality=88, optimize=True)
    poster.resize((300, 424)).save(paths[1], optimize=True)
    paths[2].write_text(json.dumps(corners.round(1).tolist()) + "\n")
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    written = furniture_photos(args.out / "furniture", rng) + scene_photos(args.out / "scenes", rng)
    total = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} files, {total / 1e6:.2f} MB under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
