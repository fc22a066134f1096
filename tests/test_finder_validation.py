"""The object finder's validation (train/finder_validation.py): failure kinds on hand-made masks,
and a real run on tiny cutout renders over generated photographs with a tiny untrained model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from recon.hub import save_weights
from recon.models.vae import VoxelVAE
from train.finder_validation import CROPS, KINDS, _doubt, extent_iou, failure_kind, main, validation_photos

SIZES = dict(image_size=32, resolution=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)


def square(y0, x0, side, shape=(64, 64)):
    mask = np.zeros(shape, bool)
    mask[y0:y0 + side, x0:x0 + side] = True
    return mask


def test_failure_kinds_tell_the_object_from_its_neighbour_its_surroundings_and_a_part():
    true = square(20, 20, 20)
    assert failure_kind(square(21, 21, 20), true) == "found"
    assert failure_kind(square(20, 42, 20), true) == "wrong piece"  # a neighbour beside it
    merged = true | square(20, 40, 20)  # the object and the neighbour it touches, as one piece
    assert failure_kind(merged, true) == "merged"
    assert failure_kind(square(20, 20, 10), true) == "partial"  # a quarter of it
    assert failure_kind(np.zeros_like(true), true) == "partial"  # nothing


def test_extent_iou_compares_boxes_not_pixels():
    true = square(0, 0, 10)
    ring = true.copy()
    ring[1:9, 1:9] = False  # the outline alone has the same extent
    assert extent_iou(ring, true) == 1.0
    assert extent_iou(square(0, 5, 10), true) == pytest.approx(50 / 150)
    assert extent_iou(np.zeros_like(true), true) == 0.0


def test_the_doubt_is_set_against_the_failures():
    flagged = np.array([True, True, False, False, False])
    failed = np.array([True, False, False, False, True])
    assert _doubt(flagged, failed) == {"flagged": 0.4, "failed_flagged": 0.5, "failed_unflagged": pytest.approx(1 / 3)}
    assert _doubt(np.zeros(2, bool), np.ones(2, bool))["failed_flagged"] is None


@pytest.fixture(scope="module")
def setup(validation_folder):
    torch.manual_seed(0)
    weights = save_weights(VoxelVAE(**SIZES).eval(), validation_folder / "finder-vae")
    return validation_folder, weights


def test_validation_photos_are_seeded_composites_with_their_masks(setup):
    folder, _ = setup
    first = validation_photos(str(folder / "train"), str(folder / "photos"), count=6, seed=3, size=96)
    again = validation_photos(str(folder / "train"), str(folder / "photos"), count=6, seed=3, size=96)
    other = validation_photos(str(folder / "train"), str(folder / "photos"), count=6, seed=4, size=96)
    assert len(first) == 6 and all(p.photo.size == (96, 96) and p.mask.shape == (96, 96) for p in first)
    assert all(p.mask.any() and p.truth.shape == (32, 32, 32) for p in first)
    assert all(np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) for a, b in zip(first, again))
    assert any(not np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) for a, b in zip(first, other))


def test_command_line_reports_kinds_the_crops_and_the_click(setup, tmp_path):
    folder, weights = setup
    main(["--data", str(folder / "train"), "--backgrounds", str(folder / "photos"), "--model", f"V=vae:{weights}",
          "--count", "6", "--seed", "3", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["photos"] == 6
    groups = results["models"]["V"]
    assert groups["all"]["photos"] == 6
    assert sum(g["photos"] for name, g in groups.items() if name != "all") == 6
    for group in groups.values():
        assert sum(group["kinds"][k] for k in KINDS) == pytest.approx(1.0)
        assert set(group["reconstruction_iou"]) == set(CROPS)
        assert all(0 <= v <= 1 for v in group["reconstruction_iou"].values())
        assert 0 <= group["mask_iou"] <= 1 and 0 <= group["extent_iou"] <= 1
        assert 0 <= group["click"]["mask_iou"] <= 1 and 0 <= group["click"]["found"] <= 1
        assert 0 <= group["doubt"]["flagged"] <= 1
    assert "| V | all | 6 |" in (tmp_path / "results.md").read_text()


@pytest.fixture(scope="module")
def two_models(setup):
    """The command line's arguments for two tiny models A and B whose own heads find different masks."""
    folder, weights = setup
    torch.manual_seed(1)
    other = save_weights(VoxelVAE(**SIZES).eval(), folder / "vae-other")
    return ["--data", str(folder / "train"), "--backgrounds", str(folder / "photos"), "--model", f"A=vae:{weights}",
            "--model", f"B=vae:{other}", "--count", "6", "--seed", "3"]


def test_joint_finding_gives_every_model_the_same_mask(two_models, tmp_path):
    """--joint: both models find the object with both heads, so their mask figures agree; on their
    own heads the two tiny models' masks differ."""
    common = two_models
    figures = {}
    for joint in (False, True):
        out = tmp_path / str(joint)
        main(common + ["--out", str(out)] + (["--joint"] if joint else []))
        results = json.loads((out / "results.json").read_text())
        assert results["joint"] is joint
        figures[joint] = [(results["models"][m]["all"]["mask_iou"], results["models"][m]["all"]["extent_iou"])
                          for m in ("A", "B")]
    assert figures[True][0] == figures[True][1]
    assert figures[False][0] != figures[False][1], figures
    assert "mask heads together" in (tmp_path / "True" / "results.md").read_text()


def test_a_named_finder_gives_every_model_its_own_heads_mask(two_models, tmp_path):
    """--finder B (the app's way: one model's head finds for both): A is cropped by B's head, so
    both report B's own-head mask figures; --finder with --joint, or a name that is no model, is refused."""
    common = two_models
    figures = {}
    for flags in ([], ["--finder", "B"]):
        out = tmp_path / ("finder" if flags else "own")
        main(common + ["--out", str(out)] + flags)
        results = json.loads((out / "results.json").read_text())
        figures[bool(flags)] = {m: (results["models"][m]["all"]["mask_iou"], results["models"][m]["all"]["extent_iou"])
                                for m in ("A", "B")}
    assert figures[True]["A"] == figures[True]["B"] == figures[False]["B"] != figures[False]["A"], figures
    assert "B's mask head for every model" in (tmp_path / "finder" / "results.md").read_text()
    for bad in (["--finder", "B", "--joint"], ["--finder", "C"]):
        with pytest.raises(SystemExit):
            main(common + ["--out", str(tmp_path / "bad")] + bad)


def test_pieces_stand_in_the_validation_photos_as_background(setup, tmp_path):
    """--pieces: non-furniture cut-outs (here a magenta disc) stand in view as decoys, never in the
    object's mask; seeded like the rest; without them the photos are those of before."""
    folder, _ = setup
    disc = np.zeros((40, 40, 4), np.uint8)
    rows, cols = np.mgrid[:40, :40]
    disc[..., 0], disc[..., 2] = 255, 255
    disc[..., 3] = (((rows - 20) ** 2 + (cols - 20) ** 2) < 18 ** 2) * 255
    (tmp_path / "pieces" / "toys").mkdir(parents=True)
    Image.fromarray(disc).save(tmp_path / "pieces" / "toys" / "disc.png")
    args = (str(folder / "train"), str(folder / "photos"))
    with_pieces = validation_photos(*args, count=6, seed=3, size=96, pieces=str(tmp_path / "pieces"))
    again = validation_photos(*args, count=6, seed=3, size=96, pieces=str(tmp_path / "pieces"))
    assert all(np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) for a, b in zip(with_pieces, again))
    magenta = [(lambda rgb: (rgb[..., 0] > 170) & (rgb[..., 1] < 90) & (rgb[..., 2] > 170))(
        np.asarray(p.photo).astype(int)) for p in with_pieces]
    shown = [m for m in magenta if m.sum() > 30]
    assert shown, "no piece in view in six photos"
    assert all((m & p.mask).sum() <= 0.05 * m.sum() for m, p in zip(magenta, with_pieces) if m.sum() > 30)
    before = validation_photos(*args, count=6, seed=3, size=96)
    assert not all(np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) for a, b in zip(before, with_pieces))
