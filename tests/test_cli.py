"""`python -m recon predict` on real image files, as DESIGN.md's command line promises."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
import trimesh
from PIL import Image

from recon.cli import main
from recon.sizes import TYPICAL_LONGEST_SIDE_M

FORMATS = "npy,mat,obj,glb,stl,ply,usdz,json"


@pytest.fixture(scope="module")
def photos(tmp_path_factory, furniture_photo):
    """The same chair as PNG, JPEG, RGBA (alpha = object), grayscale and EXIF-rotated JPEG."""
    folder = tmp_path_factory.mktemp("photos")
    chair = Image.open(furniture_photo).convert("RGB")
    chair.save(folder / "plain.png")
    chair.save(folder / "photo.jpg", quality=90)
    rgba = chair.convert("RGBA")
    background = np.asarray(chair).astype(int)
    alpha = (np.abs(background - background[0, 0]).sum(axis=2) > 30).astype(np.uint8) * 255
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "cutout.png")
    chair.convert("L").save(folder / "gray.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    chair.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.jpg", exif=exif)
    return folder


def test_predict_writes_every_format_for_every_image(photos, tmp_path):
    names = ["plain.png", "photo.jpg", "cutout.png", "gray.png", "rotated.jpg"]
    status = main(["predict", *[str(photos / n) for n in names], "--model", "vae", "--out",
                   str(tmp_path), "--format", FORMATS, "--device", "cpu"])
    assert status == 0
    for name in names:
        stem = name.rsplit(".", 1)[0]
        grid = np.load(tmp_path / f"{stem}.npy")
        assert grid.dtype == np.float32 and grid.ndim == 3 and len(set(grid.shape)) == 1
        assert 0.0 <= grid.min() and grid.max() <= 1.0
        voxel = scipy.io.loadmat(tmp_path / f"{stem}.mat")["voxel"]
        assert voxel.dtype == np.uint8
        np.testing.assert_array_equal(voxel, (grid >= 0.5).astype(np.uint8))
        for suffix in ("obj", "glb", "stl", "ply"):
            mesh = trimesh.load(tmp_path / f"{stem}.{suffix}", force="mesh")
            assert len(mesh.faces) > 0
            assert np.all(mesh.bounds[0] >= -0.55) and np.all(mesh.bounds[1] <= 0.55)
        assert (tmp_path / f"{stem}.usdz").stat().st_size > 1000
        check_sidecar(json.loads((tmp_path / f"{stem}.json").read_text()))


def check_sidecar(details):
    """DESIGN.md's JSON schema; category and viewpoint may be null for models without those heads."""
    assert set(details) == {"category", "category_scores", "azimuth_deg", "elevation_deg", "size_m"}
    assert details["category"] is None or details["category"] in TYPICAL_LONGEST_SIDE_M
    scores = details["category_scores"]
    assert scores is None or (set(scores) <= set(TYPICAL_LONGEST_SIDE_M)
                              and abs(sum(scores.values()) - 1) < 1e-3)
    for key in ("azimuth_deg", "elevation_deg"):
        assert details[key] is None or isinstance(details[key], float)
    width, height, depth = details["size_m"]
    assert 0 < min(width, height, depth) and max(width, height, depth) <= 2.5


def test_photo_colours_by_default_plain_on_request(photos, tmp_path):
    for colors in ("photo", "plain"):
        main(["predict", str(photos / "plain.png"), "--model", "cgan", "--out", str(tmp_path / colors),
              "--format", "ply", "--colors", colors, "--device", "cpu"])
    photo = trimesh.load(tmp_path / "photo" / "plain.ply").visual.vertex_colors[:, :3].astype(float)
    plain = trimesh.load(tmp_path / "plain" / "plain.ply").visual.vertex_colors[:, :3].astype(float)
    # The example chair is grey: photo colours have almost no saturation, the plain ramp is warm.
    assert np.ptp(photo, axis=1).mean() < 30 < np.ptp(plain, axis=1).mean()


def test_sidecar_and_usdz_take_the_size_given(photos, tmp_path):
    from pxr import Usd, UsdGeom

    main(["predict", str(photos / "plain.png"), "--model", "vae", "--out", str(tmp_path),
          "--format", "usdz,json", "--longest-side", "0.75", "--device", "cpu"])
    details = json.loads((tmp_path / "plain.json").read_text())
    check_sidecar(details)
    assert max(details["size_m"]) == pytest.approx(0.75)
    stage = Usd.Stage.Open(str(tmp_path / "plain.usdz"))
    low, high = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/Furniture/Mesh")).GetExtentAttr().Get())
    np.testing.assert_allclose(high - low, details["size_m"], atol=1e-4)


def test_exif_rotation_is_applied_before_the_model(photos, tmp_path):
    main(["predict", str(photos / "plain.png"), str(photos / "rotated.jpg"), "--model", "cgan",
          "--out", str(tmp_path), "--device", "cpu"])
    plain, rotated = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "rotated.npy")
    # Same chair after EXIF orientation: JPEG noise only, the shapes agree.
    overlap = np.logical_and(plain >= 0.5, rotated >= 0.5).sum() / max(1, np.logical_or(plain >= 0.5, rotated >= 0.5).sum())
    assert overlap > 0.8


def test_corrupt_image_fails_on_one_line_and_the_others_go_on(photos, tmp_path, capsys):
    broken = photos / "broken.png"
    broken.write_bytes((photos / "plain.png").read_bytes()[:200])
    status = main(["predict", str(broken), str(photos / "plain.png"), "--model", "cgan", "--out",
                   str(tmp_path), "--device", "cpu"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(errors) == 1 and "broken.png" in errors[0] and "Traceback" not in errors[0]
    assert (tmp_path / "plain.npy").is_file() and not (tmp_path / "broken.npy").exists()


def test_unknown_format_is_refused_before_any_work(photos, tmp_path, capsys):
    status = main(["predict", str(photos / "plain.png"), "--model", "vae", "--out", str(tmp_path),
                   "--format", "npy,fbx"])
    assert status != 0 and "fbx" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_python_dash_m_recon_runs_as_a_program(photos, tmp_path):
    result = subprocess.run([sys.executable, "-m", "recon", "predict", str(photos / "gray.png"),
                             "--model", "vae", "--out", str(tmp_path), "--seed", "3"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gray.npy").is_file()
