"""Cut-out pictures as clutter (train/data/photo_cutouts.py): which stamps are kept, the fixed
validation half, the layout PieceBank reads, and a real .deb built by dpkg-deb."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from train.data.clutter_pieces import PieceBank
from train.data.photo_cutouts import STAMPS_FOLDER, CutoutError, collect_cutouts, cutout_from, is_validation, main


def blob(colour=(200, 40, 30), size=(60, 90), mode="RGBA"):
    """An opaque coloured ellipse on a transparent canvas, (height, width) = size."""
    rows, cols = np.mgrid[:size[0], :size[1]]
    inside = ((rows - size[0] / 2) / (size[0] * 0.4)) ** 2 + ((cols - size[1] / 2) / (size[1] * 0.4)) ** 2 <= 1
    rgba = np.zeros(size + (4,), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = inside * 255
    return Image.fromarray(rgba).convert(mode) if mode != "RGBA" else Image.fromarray(rgba)


@pytest.fixture()
def stamps(tmp_path):
    """A folder laid out as tuxpaint-stamps-default unpacked: kept and left-out stamps."""
    root = tmp_path / "pkg" / STAMPS_FOLDER
    for relative, image in {
        "animals/mammals/horse.png": blob(),
        "animals/mammals/horse_mirror.png": blob(),  # the loader mirrors; twins are not new pictures
        "food/fruit/lime.png": blob((60, 200, 40), (40, 40)),
        "plants/flower.png": blob((230, 200, 30), (120, 50)),
        "symbols/letters/a.png": blob(),  # letters and signs are not things
        "household/grey-pan.png": blob((120, 120, 120)),  # grey: saturation 0
        "household/letter.png": blob(mode="LA"),
        "household/poster.png": Image.new("RGBA", (50, 50), (200, 20, 20, 255)),  # no transparency
        "household/kitchen_table.png": blob(),  # named like furniture
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        image.save(root / relative)
    return tmp_path / "pkg"


def test_a_cutout_is_cropped_to_its_opaque_pixels_and_scaled_down():
    rgba = cutout_from(blob(size=(100, 200)), side=50)  # an ellipse of about 80 x 160 pixels
    assert rgba.shape[1] == 50 and 23 <= rgba.shape[0] <= 27 and rgba.shape[2] == 4
    alpha = rgba[..., 3]
    assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 255
    assert min(alpha[0].max(), alpha[-1].max(), alpha[:, 0].max(), alpha[:, -1].max()) > 0  # no empty border


@pytest.mark.parametrize("image", [blob((128, 128, 128)), blob(mode="LA"), Image.new("RGBA", (40, 40), (0, 200, 0, 255)),
                                   Image.new("RGBA", (40, 40), (0, 200, 0, 0))])
def test_grey_opaque_or_empty_pictures_are_refused(image):
    with pytest.raises(CutoutError):
        cutout_from(image)


def test_the_validation_half_is_a_fixed_function_of_the_name():
    names = [f"animals-mammals-{k}" for k in range(2000)]
    share = np.mean([is_validation(n) for n in names])
    assert 0.17 < share < 0.23
    assert [is_validation(n) for n in names[:50]] == [is_validation(n) for n in names[:50]]
    assert not any(is_validation(n, share=0.0) for n in names[:50])


def test_collects_the_usable_stamps_into_the_piece_bank_layout(stamps, tmp_path):
    counts = collect_cutouts(stamps, tmp_path / "out", side=32, share=0.0)
    assert counts == {"train": 3, "validation": 0, "skipped": 6}
    names = sorted(p.name for p in (tmp_path / "out" / "train").glob("*/*.png"))
    assert names == ["animals-mammals-horse.png", "food-fruit-lime.png", "plants-flower.png"]
    bank = PieceBank(tmp_path / "out" / "train")
    assert len(bank) == 3 and all(max(c.coverage.shape) <= 32 and c.coverage.max() == 255 for c in bank.cutouts)
    record = json.loads((tmp_path / "out" / "sources.json").read_text())
    assert record["license"] == "GPL-2" and record["counts"]["train"] == 3
    assert "GPL-2" in (tmp_path / "out" / "CREDITS.md").read_text()


def test_an_output_holding_an_earlier_runs_cut_outs_is_refused(stamps, tmp_path):
    """Written again with another share, the first run's pictures would sit in both halves."""
    collect_cutouts(stamps, tmp_path / "out", share=0.0)
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*"))
    with pytest.raises(SystemExit, match="already holds cut-outs in train/"):
        main(["--source", str(stamps), "--out", str(tmp_path / "out"), "--validation-share", "1"])
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*")) == before


def test_every_stamp_goes_to_exactly_one_half(stamps, tmp_path):
    collect_cutouts(stamps, tmp_path / "out", share=0.5)
    train = {p.name for p in (tmp_path / "out" / "train").glob("*/*.png")}
    validation = {p.name for p in (tmp_path / "out" / "validation").glob("*/*.png")}
    assert not train & validation and len(train | validation) == 3
    assert all(is_validation(name[:-4], 0.5) for name in validation)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_reads_the_debian_package(stamps, tmp_path):
    (stamps / "DEBIAN").mkdir()
    (stamps / "DEBIAN" / "control").write_text("Package: tuxpaint-stamps-default\nVersion: 1\nArchitecture: all\n"
                                               "Maintainer: test <t@example.org>\nDescription: test\n")
    deb = tmp_path / "tuxpaint-stamps-default_1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(stamps), str(deb)], check=True, capture_output=True)
    main(["--source", str(deb), "--out", str(tmp_path / "out"), "--validation-share", "0"])
    assert len(PieceBank(tmp_path / "out" / "train")) == 3
    assert len(json.loads((tmp_path / "out" / "sources.json").read_text())["sha256"]) == 64


def test_a_folder_without_stamps_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no usable stamps"):
        main(["--source", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_a_file_that_is_no_deb_is_a_clear_error(tmp_path):
    (tmp_path / "stamps.deb").write_text("not an archive")
    with pytest.raises(SystemExit, match="not a readable .deb"):
        main(["--source", str(tmp_path / "stamps.deb"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
