"""Qt binary resource files (train/data/qt_resources.py) and the GCompris photographs gathered from
them (train/data/photo_backgrounds.collect_gcompris), on files made by Qt's own rcc
(tests/fixtures/qt-resources/README.md)."""

import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from train.data.qt_resources import QtResourceError, read_resources

FIXTURES = ROOT / "tests" / "fixtures" / "qt-resources"
ACTIVITY = "/gcompris/src/activities/categorization"
QML = "import QtQuick 2.12\n" + "// the activity's page\n" * 50
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: The GCompris team
License: GPL-3+

Files: src/activities/categorization/resource/images/tools/*
Copyright: Bob Jones
License: CC0-1.0

Files: src/activities/categorization/resource/images/tools/saw.jpg
       src/activities/categorization/resource/images/tools/hammer.png
Copyright: Ann Smith
License: CC-BY-SA-3.0
 Creative Commons Attribution-ShareAlike 3.0
Comment: https://example.org/hammer
"""


def _gcompris_deb(tmp_path, resources: dict[str, bytes], copyright_text: str | None = None):
    """A real .deb named like Debian's gcompris-qt-data, holding `resources` ({activity: .rcc bytes})
    in its rcc folder and, if given, a copyright file."""
    root = tmp_path / "gcompris-qt-data"
    folder = root / "usr" / "share" / "gcompris-qt" / "rcc"
    folder.mkdir(parents=True)
    for activity, data in resources.items():
        (folder / f"{activity}.rcc").write_bytes(data)
    if copyright_text is not None:
        docs = root / "usr" / "share" / "doc" / "gcompris-qt-data"
        docs.mkdir(parents=True)
        (docs / "copyright").write_text(copyright_text)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text("Package: gcompris-qt-data\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test\n")
    deb = tmp_path / "gcompris-qt-data_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.parametrize("version", ["v3", "v1"])
def test_every_file_comes_back_whole_from_either_format(version):
    data = (FIXTURES / f"categorization-{version}.rcc").read_bytes()
    files = read_resources(data)
    assert sorted(files) == sorted(f"{ACTIVITY}/{p}" for p in (
        "Categorization.qml", "resource/images/tools/hammer.jpg", "resource/images/others/chair.jpg",
        "resource/images/others/icon.jpg", "resource/images/others/sticker.png"))
    # rcc stored the text compressed (it is not in the file as such): it comes back inflated
    assert QML.encode() not in data
    assert files[f"{ACTIVITY}/Categorization.qml"].decode() == QML
    sizes = {"tools/hammer.jpg": (200, 160), "others/icon.jpg": (64, 64), "others/sticker.png": (160, 160)}
    for name, size in sizes.items():
        with Image.open(io.BytesIO(files[f"{ACTIVITY}/resource/images/{name}"])) as image:
            assert image.size == size


def test_what_is_no_resource_file_is_a_typed_error():
    data = (FIXTURES / "categorization-v3.rcc").read_bytes()
    with pytest.raises(QtResourceError, match="qres"):
        read_resources(b"PK\x03\x04" + data[4:])
    with pytest.raises(QtResourceError, match="version 9"):
        read_resources(data[:4] + (9).to_bytes(4, "big") + data[8:])
    with pytest.raises(QtResourceError):
        read_resources(data[:200])


def test_dep5_credit_is_the_last_matching_paragraph_whatever_the_picture_format():
    from train.data.credits import file_credit, read_dep5

    paragraphs = read_dep5(COPYRIGHT)
    assert len(paragraphs) == 4
    tools = "src/activities/categorization/resource/images/tools"
    assert file_credit(paragraphs, f"{tools}/saw.webp")["copyright"] == "Ann Smith"
    assert file_credit(paragraphs, f"{tools}/hammer.jpg")["license"].split("\n")[0] == "CC-BY-SA-3.0"
    assert file_credit(paragraphs, f"{tools}/pliers.webp")["copyright"] == "Bob Jones"
    assert file_credit(paragraphs, "src/activities/erase/resource/bear.webp")["license"] == "GPL-3+"
    assert file_credit(read_dep5("Files: a/*\nLicense: MIT\n"), "b/c.jpg") is None


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_gcompris_keeps_the_opaque_photographs_and_leaves_out_furniture_icons_and_other_activities(tmp_path):
    from train.data.photo_backgrounds import BackgroundBank, collect_gcompris

    v3, v1 = ((FIXTURES / f"categorization-{v}.rcc").read_bytes() for v in ("v3", "v1"))
    # lang: an activity that draws its pictures
    deb = _gcompris_deb(tmp_path, {"categorization": v3, "lang": v1}, COPYRIGHT)

    out = tmp_path / "backgrounds"
    assert collect_gcompris(deb, out) == 1
    # chair: furniture by name; icon: too small; sticker: transparent; lang: not a photo activity
    assert sorted(p.name for p in (out / "gcompris").iterdir()) == ["CREDITS.md", "categorization-tools-hammer.jpg"]
    # the source's hammer.png paragraph covers the built hammer.jpg (one picture, another format)
    assert ("| categorization-tools-hammer.jpg | Ann Smith | CC-BY-SA-3.0 | https://example.org/hammer |"
            in (out / "gcompris" / "CREDITS.md").read_text())
    with Image.open(out / "gcompris" / "categorization-tools-hammer.jpg") as picture, \
            Image.open(io.BytesIO(read_resources((FIXTURES / "categorization-v3.rcc").read_bytes())[
                f"{ACTIVITY}/resource/images/tools/hammer.jpg"])) as original:
        assert picture.size == (200, 160)
        difference = np.abs(np.asarray(picture, float) - np.asarray(original.convert("RGB"), float)).mean()
        assert difference < 4  # re-saved as JPEG, the same picture
    assert BackgroundBank(out, ("gcompris",)).crop(np.random.default_rng(0), 32, 32).shape == (32, 32, 3)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_gcompris_without_photographs_is_an_error(tmp_path):
    from train.data.photo_backgrounds import collect_gcompris

    deb = _gcompris_deb(tmp_path, {})
    with pytest.raises(FileNotFoundError, match="no photographs"):
        collect_gcompris(deb, tmp_path / "backgrounds")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_a_broken_resource_file_is_a_one_line_error_of_the_command(tmp_path):
    from train.data.photo_backgrounds import main

    deb = _gcompris_deb(tmp_path, {"erase": (FIXTURES / "categorization-v3.rcc").read_bytes()[:300]})
    with pytest.raises(SystemExit, match="^error: .*past the end"):
        main(["--out", str(tmp_path / "backgrounds"), "--wallpapers", str(tmp_path / "none"), "--gcompris", str(deb)])


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_the_pictures_of_things_on_tables_are_held_out_of_the_training_part(tmp_path, caplog):
    from train.data.photo_backgrounds import BackgroundBank, main

    v3, v1 = ((FIXTURES / f"categorization-{v}.rcc").read_bytes() for v in ("v3", "v1"))
    # the same hammer in two activities: categorization's tools are things on tables (held out), erase's are not
    deb = _gcompris_deb(tmp_path, {"categorization": v3, "erase": v1}, COPYRIGHT)
    out, held_out = tmp_path / "backgrounds", tmp_path / "validation" / "gcompris-tables"
    with caplog.at_level("INFO"):
        main(["--out", str(out), "--wallpapers", str(tmp_path / "none"), "--gcompris", str(deb),
              "--gcompris-held-out", str(held_out)])
    pictures = {"categorization-tools-hammer.jpg", "erase-tools-hammer.jpg"}
    assert {p.name for p in (out / "gcompris").iterdir()} == pictures | {"CREDITS.md"}
    assert sorted(p.name for p in held_out.iterdir()) == ["CREDITS.md", "categorization-tools-hammer.jpg"]
    assert sorted(p.name for p in (out / "gcompris-train").iterdir()) == ["CREDITS.md", "erase-tools-hammer.jpg"]
    assert ((held_out / "categorization-tools-hammer.jpg").read_bytes()
            == (out / "gcompris" / "categorization-tools-hammer.jpg").read_bytes())
    # each part credits its own pictures and no other
    train_credits = (out / "gcompris-train" / "CREDITS.md").read_text()
    assert "| erase-tools-hammer.jpg | Ann Smith |" in train_credits and "categorization-tools" not in train_credits
    assert "erase-tools" not in (held_out / "CREDITS.md").read_text()
    assert "gcompris-train: 1 pictures; held out" in caplog.text
    assert len(BackgroundBank(out, ("gcompris-train",))) == 1


def test_holding_out_needs_the_package(tmp_path, capsys):
    from train.data.photo_backgrounds import main

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "backgrounds"), "--gcompris-held-out", str(tmp_path / "held-out")])
    assert "--gcompris-held-out needs --gcompris" in capsys.readouterr().err
    assert not (tmp_path / "backgrounds").exists()
