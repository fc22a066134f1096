"""The bad-input corpus (tests/bad_inputs.py) through the library and the command line.

Every refused input must raise its typed error with its specific message; every awkward but
usable one (animated GIF, 16-bit, CMYK, palette, EXIF rotations...) must come out upright and
usable. The command line must print one `error:` line per bad photo, exit non-zero, and still
write the results of the good photos given in the same call.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon import ar
from recon.images import IMAGE_SIZE, load_image, prepare_image
from recon.mesh import load_mesh
from tests.bad_inputs import (GOOD_CORNERS, SCENE_SIZE, WRITERS, build_corpus, furniture_photo,
                              write_animated_gif, write_exif_rotate_90)

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "examples" / "scenes" / "room.jpg"


def _ids(writers):
    return [writer.__name__.removeprefix("write_") for writer in writers]


def test_corpus_has_at_least_thirty_distinct_inputs(tmp_path):
    cases = build_corpus(tmp_path)
    assert len(cases) >= 30
    assert len({case.name for case in cases}) == len(cases)
    assert {case.surface for case in cases} == set(WRITERS)


@pytest.mark.parametrize("writer", WRITERS["image"], ids=_ids(WRITERS["image"]))
def test_photo(writer, tmp_path):
    case = writer(tmp_path)
    if not case.accepted:
        with pytest.raises(case.error) as raised:
            prepare_image(load_image(case.path))
        assert case.message in str(raised.value)
        return
    image = load_image(case.path)
    assert image.mode == case.notes.get("mode", "RGB")
    assert image.size == case.notes["size"]  # EXIF orientation applied: upright size
    prepared = prepare_image(image)
    assert prepared.pixels.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert np.isfinite(prepared.pixels).all() and np.abs(prepared.pixels).max() <= 1.0


def test_animated_gif_gives_its_first_frame(tmp_path):
    centre = load_image(write_animated_gif(tmp_path).path).getpixel((60, 40))
    assert centre[0] > 80 and centre[2] < 80  # the brown box of frame 0, not frame 1's black


def test_exif_rotation_turns_the_pixels_too(tmp_path):
    """Orientation 6 (rotate 90 clockwise to view): the photo's top-left ends up top-right."""
    stored = furniture_photo((160, 100))
    upright = load_image(write_exif_rotate_90(tmp_path).path)
    expected = stored.transpose(Image.Transpose.ROTATE_270)
    difference = np.abs(np.asarray(upright, np.int16) - np.asarray(expected, np.int16)).mean()
    assert difference < 6  # JPEG noise only


@pytest.mark.parametrize("writer", WRITERS["mesh"], ids=_ids(WRITERS["mesh"]))
def test_mesh_file(writer, tmp_path):
    case = writer(tmp_path)
    if case.accepted:
        assert len(load_mesh(case.path).faces) > 0
        return
    with pytest.raises(case.error) as raised:
        load_mesh(case.path)
    assert case.message in str(raised.value)


@pytest.mark.parametrize("writer", WRITERS["corners"], ids=_ids(WRITERS["corners"]))
def test_ar_clicks(writer, tmp_path):
    case = writer(tmp_path)
    with pytest.raises(case.error) as raised:
        ar.camera_from_corners(case.value, SCENE_SIZE)
    assert case.message in str(raised.value)


def test_good_clicks_give_a_camera():
    camera = ar.camera_from_corners(GOOD_CORNERS, SCENE_SIZE)
    assert np.allclose(camera.project(np.array([[0.0, 0.0, 0.0]])), [GOOD_CORNERS[0]], atol=1.0)


@pytest.mark.parametrize("writer", WRITERS["reference"], ids=_ids(WRITERS["reference"]))
def test_reference_picture(writer, tmp_path):
    case = writer(tmp_path)
    with pytest.raises(case.error) as raised:
        ar.homography_from_reference(load_image(case.path), load_image(SCENE))
    assert case.message in str(raised.value)


@pytest.mark.parametrize("writer", WRITERS["pix3d"], ids=_ids(WRITERS["pix3d"]))
def test_pix3d_annotations(writer, tmp_path, caplog):
    from train.data.pix3d import read_annotations

    case = writer(tmp_path)
    if case.accepted:  # escaping paths: the entry is dropped and the reason logged
        with caplog.at_level(logging.WARNING):
            entries = read_annotations(case.path, check_files=False)
        assert len(entries) == case.notes["entries"]
        assert case.message in caplog.text
        return
    with pytest.raises(case.error) as raised:
        read_annotations(case.path)
    assert case.message in str(raised.value)


@pytest.mark.parametrize("writer", WRITERS["weights"], ids=_ids(WRITERS["weights"]))
def test_weights_folder(writer, tmp_path):
    from recon.hub import load_model

    case = writer(tmp_path)
    with pytest.raises(case.error) as raised:
        load_model("cgan", case.path)
    assert case.message in str(raised.value)
    if "canary" in case.notes:
        assert not case.notes["canary"].exists(), "the weights loader unpickled an uploaded file"


# --- command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights_env(tmp_path_factory) -> dict:
    """Environment for `python -m recon`: embedded weights, else random-init ones in tmp."""
    from recon.models import CGANGenerator

    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    if not (ROOT / "recon" / "weights" / "cgan" / "model.safetensors").is_file():
        folder = tmp_path_factory.mktemp("weights-cgan")
        CGANGenerator().save_pretrained(folder)
        env["RECON_CGAN_WEIGHTS"] = str(folder)
    return env


@pytest.mark.slow
def test_cli_reports_each_bad_photo_on_one_line_and_goes_on(tmp_path, weights_env):
    cases = build_corpus(tmp_path / "in", surfaces=("image",))
    good = tmp_path / "in" / "good-photo.jpg"
    furniture_photo((200, 150)).save(good)
    out = tmp_path / "out"
    paths = [str(case.path) for case in cases] + [str(good)]
    result = subprocess.run([sys.executable, "-m", "recon", "predict", *paths, "--model", "cgan",
                             "--out", str(out), "--level", "0.01"],
                            capture_output=True, text=True, cwd=ROOT, env=weights_env, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for case in cases:
        mine = [line for line in errors if line.startswith(f"error: {case.path}:")]
        if case.accepted:
            assert not mine
            assert (out / f"{case.path.stem}.npy").is_file(), case.name
        else:
            assert len(mine) == 1 and case.message in mine[0], (case.name, mine)
    assert len(errors) == sum(not case.accepted for case in cases)
    grid = np.load(out / "good-photo.npy")
    assert grid.dtype == np.float32 and grid.ndim == 3 and np.isfinite(grid).all()


@pytest.mark.parametrize("writer", WRITERS["weights"], ids=_ids(WRITERS["weights"]))
def test_cli_refuses_bad_weights_with_one_line(writer, tmp_path, capsys):
    from recon.cli import main

    case = writer(tmp_path)
    furniture_photo().save(tmp_path / "photo.png")
    status = main(["predict", str(tmp_path / "photo.png"), "--model", "cgan", "--out",
                   str(tmp_path / "out"), "--weights", str(case.path)])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(stderr) == 1 and stderr[0].startswith("error:") and case.message in stderr[0], stderr
    assert not (tmp_path / "out").exists()
