"""Renders of non-furniture Sweet Home 3D pieces as clutter (train/data/clutter_pieces.py) and their
use in composites (train.data.composite.compose, ``pieces=``), on a hand-made library."""

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.test_composite import SIZE, object_pixels, red_block
from tests.test_generate_sh3d import MTL, OBJ
from train.data.clutter_pieces import PieceBank, clutter_entries, generate_clutter, is_clutter, main
from train.data.composite import MAX_OCCLUSION, Cutout, compose
from train.data.sh3d import read_catalog


def _piece(index: int, name: str, category: str, extra: str = "") -> str:
    return (f"id#{index}=Test#{index}\nname#{index}={name}\ncategory#{index}={category}\n"
            f"model#{index}=/box/box.obj\nwidth#{index}=50\ndepth#{index}=40\nheight#{index}=60\n"
            f"creator#{index}=Ann Smith\n{extra}")


PROPERTIES = "id=Test#Library\nlicense=CC-0\n\n" + "\n".join([
    _piece(1, "Beech armchair", "Living room"),  # furniture: the generator's, never clutter
    _piece(2, "Desk lamp", "Lights", "lightSourceX#2=0.5\n"),
    _piece(3, "Potted plant", "Living room"),
    _piece(4, "Bedside table", "Bedroom"),  # not a Pix3D category, but looks like furniture
    _piece(5, "Front door", "Doors and windows", "doorOrWindow#5=true\n"),
])


def _library(path, properties=PROPERTIES):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PluginFurnitureCatalog.properties", properties)
        archive.writestr("box/box.obj", OBJ)
        archive.writestr("box/box.mtl", MTL)
    return path


@pytest.fixture
def library(tmp_path):
    return _library(tmp_path / "lib" / "BlendSwap-CC-0.sh3f")


def test_clutter_is_what_is_neither_furniture_nor_furniture_like_nor_a_door(library):
    names = {entry.name: is_clutter(entry) for entry in read_catalog(library)}
    assert names == {"Beech armchair": False, "Desk lamp": True, "Potted plant": True,
                     "Bedside table": False, "Front door": False}


def test_renders_cutouts_with_credits_and_repeats_per_seed(library, tmp_path):
    counts = generate_clutter([library], tmp_path / "out", views=3, seed=0, resolution=48)
    assert sorted(counts.values()) == [3, 3] and all(name.startswith(("desk-lamp-", "potted-plant-")) for name in counts)
    files = sorted((tmp_path / "out").glob("*/*.png"))
    assert len(files) == 6 and {f.parent.name for f in files} == {"blendswap-cc-0"}
    with Image.open(files[0]) as image:
        assert image.mode == "RGBA" and image.size == (48, 48)
        rgba = np.asarray(image)
    inside = rgba[..., 3] >= 128
    assert 0.01 < inside.mean() < 0.95  # the piece alone, with room around it
    assert rgba[inside, :3].max() > 50 and rgba[..., 3].min() == 0
    credits = (tmp_path / "out" / "CREDITS.md").read_text()
    assert "Desk lamp" in credits and "Potted plant" in credits and "armchair" not in credits
    record = json.loads((tmp_path / "out" / "sources.json").read_text())
    assert {p["title"] for p in record["pieces"]} == {"Desk lamp", "Potted plant"}
    assert record["settings"]["views"] == 3

    generate_clutter([library], tmp_path / "again", views=3, seed=0, resolution=48)
    for path in files:
        assert path.read_bytes() == (tmp_path / "again" / path.relative_to(tmp_path / "out")).read_bytes()


def test_excluded_libraries_give_no_clutter(library, tmp_path):
    kept_out = _library(tmp_path / "lib" / "KatorLegaz.sh3f")
    assert {e.library for e in clutter_entries([library, kept_out], ("KatorLegaz.sh3f",))} == {library.name}
    with pytest.raises(ValueError, match="no clutter pieces"):
        generate_clutter([kept_out], tmp_path / "out", exclude_libraries=("KatorLegaz.sh3f",))


def test_cli_rejects_missing_source(tmp_path):
    with pytest.raises(SystemExit):
        main(["--source", str(tmp_path / "absent.deb"), "--out", str(tmp_path / "out")])


def test_piece_bank_holds_the_renders_and_refuses_an_empty_folder(library, tmp_path):
    generate_clutter([library], tmp_path / "out", views=2, seed=0, resolution=48)
    bank = PieceBank(tmp_path / "out")
    assert len(bank) == 4
    drawn = bank.draw(np.random.default_rng(0))
    assert drawn.colour.shape == (48, 48, 3) and drawn.coverage.shape == (48, 48)
    assert drawn.coverage.dtype == np.uint8 and drawn.coverage.max() == 255
    with pytest.raises(FileNotFoundError, match="clutter_pieces"):
        PieceBank(tmp_path / "empty")


def blue_disc() -> Cutout:
    """A non-furniture piece: a blue disc of radius 20 in a 64 x 64 cutout."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    coverage = (((rows - 32) ** 2 + (cols - 32) ** 2) <= 400).astype(np.uint8) * 255
    colour = np.zeros((SIZE, SIZE, 3), np.uint8)
    colour[...] = (20, 20, 220)
    return Cutout(colour, coverage)


def test_pieces_stand_around_the_object_as_background():
    whole = object_pixels()
    in_view = hidden = 0
    for seed in range(60):
        with_pieces = compose(red_block(), np.random.default_rng(seed), kind="plain", clutter=False, pieces=blue_disc)
        without = compose(red_block(), np.random.default_rng(seed), kind="plain", clutter=False)
        assert not (with_pieces.mask & ~whole).any()  # a piece is never part of the object's mask
        assert with_pieces.mask.sum() >= (1 - MAX_OCCLUSION) * whole.sum() - 1
        blue = with_pieces.rgb[..., 2].astype(int) - with_pieces.rgb[..., 0].astype(int) > 100
        in_view += bool((blue & ~whole).sum() > 20)
        hidden += bool(with_pieces.mask.sum() < without.mask.sum())
        assert not (without.rgb[..., 2].astype(int) - without.rgb[..., 0].astype(int) > 100).any()
    assert in_view >= 20 and hidden >= 1  # in view in about 60 % of composites, sometimes in front


def test_without_pieces_the_draws_are_unchanged():
    for seed in range(5):
        plain = compose(red_block(), np.random.default_rng(seed), kind="plain")
        none = compose(red_block(), np.random.default_rng(seed), kind="plain", pieces=None)
        assert np.array_equal(plain.rgb, none.rgb) and np.array_equal(plain.mask, none.mask)
    white = compose(red_block(), np.random.default_rng(0), kind="white", pieces=blue_disc)
    assert np.array_equal(white.rgb, compose(red_block(), np.random.default_rng(0), kind="white").rgb)


def test_the_training_loader_puts_pieces_in_its_composites(library, tmp_path):
    """--clutter_pieces reaches the loader's composites: the same shapes (perhaps mirrored, as
    the pieces' draws come before the flip's), other pictures."""
    import torch

    from train.config import TrainConfig
    from train.data.generate import generate_dataset
    from train.loop import compositing_for, open_dataset

    generate_clutter([library], tmp_path / "clutter", views=4, seed=0, resolution=64)
    root = tmp_path / "cutouts"
    generate_dataset(root, per_category=1, views=8, seed=2, resolution=64, categories=("chair",), cutout=True)
    backgrounds = tmp_path / "backgrounds" / "wallpapers"
    backgrounds.mkdir(parents=True)
    Image.fromarray(np.full((80, 80, 3), 128, np.uint8)).save(backgrounds / "grey.jpg")
    options = dict(data=(str(root),), backgrounds=str(tmp_path / "backgrounds"), background_sources=("wallpapers",),
                   image_size=64, background="keep")
    plain, cluttered = TrainConfig(**options), TrainConfig(clutter_pieces=str(tmp_path / "clutter"), **options)
    assert compositing_for(plain, 0.0).pieces is None and len(compositing_for(cluttered, 0.0).pieces) == 8  # 2 pieces x 4 views
    assert compositing_for(cluttered, 0.0, effects=False).pieces is None  # a clean picture stays clean
    assert open_dataset(cluttered, "all", augment=False).compositing.pieces is None  # held-out sets: none
    a, b = open_dataset(plain, "all", augment=True), open_dataset(cluttered, "all", augment=True)
    changed = 0
    for index in range(len(a)):
        item, other = a[index], b[index]
        assert torch.equal(item["voxels"], other["voxels"]) or torch.equal(item["voxels"],
                                                                          torch.flip(other["voxels"], dims=[0]))
        changed += not torch.equal(item["pixels"], other["pixels"])
    assert changed >= 1
