"""Background sources gathered from Debian packages (train/data/photo_backgrounds.py)."""

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")


def _deb(tmp_path, package: str, pictures: dict[str, tuple[int, int, int]]):
    """A real .deb named like Debian's, holding plain-colour pictures in /usr/share/backgrounds."""
    root = tmp_path / package
    folder = root / "usr" / "share" / "backgrounds"
    folder.mkdir(parents=True)
    for name, colour in pictures.items():
        Image.new("RGB", (1200, 900), colour).save(folder / name)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test\n")
    deb = tmp_path / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def test_lomiri_takes_every_16_04_photo_and_only_the_photograph_of_20_04(tmp_path):
    from train.data.photo_backgrounds import MAX_SIDE, BackgroundBank, collect_lomiri

    old = _deb(tmp_path, "lomiri-wallpapers-16.04", {"Bridge_by_A.jpg": (200, 10, 10), "free_by_B.png": (10, 200, 10)})
    new = _deb(tmp_path, "lomiri-wallpapers-20.04", {"Kleiber_by_Lukas_Baubkus.jpg": (10, 10, 200),
                                                     "Fossa_by_Jasper_Roks.jpg": (250, 250, 0)})
    out = tmp_path / "backgrounds"
    assert collect_lomiri([old, new], out) == 3
    assert sorted(p.name for p in (out / "lomiri").iterdir()) == [
        "Bridge_by_A.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "free_by_B.jpg"]
    with Image.open(out / "lomiri" / "Kleiber_by_Lukas_Baubkus.jpg") as picture:
        assert max(picture.size) == MAX_SIDE
        assert np.abs(np.asarray(picture, float).mean((0, 1)) - (10, 10, 200)).max() < 3
    crop = BackgroundBank(out, ("lomiri",)).crop(np.random.default_rng(0), 64, 48)
    assert crop.shape == (64, 48, 3)


def test_lomiri_without_photographs_is_an_error(tmp_path):
    from train.data.photo_backgrounds import collect_lomiri

    new = _deb(tmp_path, "lomiri-wallpapers-20.04", {"Fossa_by_Jasper_Roks.jpg": (250, 250, 0)})
    with pytest.raises(FileNotFoundError, match="no lomiri photographs"):
        collect_lomiri([new], tmp_path / "backgrounds")


def test_a_file_that_is_no_deb_is_a_one_line_error(tmp_path):
    from train.data.photo_backgrounds import main

    (tmp_path / "lomiri-wallpapers-16.04_1_all.deb").write_text("not an archive")
    with pytest.raises(SystemExit, match="not a readable .deb"):
        main(["--out", str(tmp_path / "backgrounds"), "--wallpapers", str(tmp_path / "none"),
              "--lomiri", str(tmp_path / "lomiri-wallpapers-16.04_1_all.deb")])
    assert not (tmp_path / "backgrounds").exists()
