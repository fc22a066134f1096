import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from recon.voxels import pix3d_to_canonical, resample
from train.data.generate import generate_dataset
from train.data.pix3d import (CATEGORIES, Compositing, Pix3DDataset, Pix3DError, read_annotations, split_of,
                              viewpoint)

SAMPLE = Path(__file__).parent / "fixtures" / "pix3d_annotations_sample.csv"
LIST_FIELDS = ("img_size", "2d_keypoints", "rot_mat", "trans_mat", "cam_position", "bbox")


def _real_rows(count):
    with open(SAMPLE, newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    for row in rows:
        row.pop("")
        for key in LIST_FIELDS:
            row[key] = json.loads(row[key])
        for key in ("focal_length", "inplane_rotation"):
            row[key] = float(row[key])
        for key in ("truncated", "occluded", "slightly_occluded"):
            row[key] = row[key] == "True"
    return rows


def _asymmetric_voxel():
    voxel = np.zeros((128, 128, 128), np.uint8)
    voxel[10:118, 20:100, 0:40] = 1  # a slab
    voxel[10:30, 20:40, 40:128] = 1  # a post on one corner
    return voxel


@pytest.fixture()
def pix3d_root(tmp_path):
    """Pix3D's real annotation rows (12 images of several bed models), files made to match."""
    rows = _real_rows(12)
    for row in rows:
        width, height = row["img_size"]
        x0, y0, x1, y1 = row["bbox"]
        for key, mode in (("img", "RGB"), ("mask", "L")):
            (tmp_path / row[key]).parent.mkdir(parents=True, exist_ok=True)
        image = np.full((height, width, 3), 90, np.uint8)
        image[y0:y1, x0:x1] = (180, 120, 60)
        Image.fromarray(image).save(tmp_path / row["img"])
        mask = np.zeros((height, width), np.uint8)
        mask[y0:y1, x0:x1] = 255
        Image.fromarray(mask).save(tmp_path / row["mask"])
        voxel_path = tmp_path / row["voxel"]
        if not voxel_path.exists():
            voxel_path.parent.mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(voxel_path, {"voxel": _asymmetric_voxel()})
    escaping = dict(rows[0], img="../../etc/passwd")
    (tmp_path / "pix3d.json").write_text(json.dumps(rows + [escaping]))
    return tmp_path, rows


def test_reads_real_schema_and_rejects_escaping_paths(pix3d_root, caplog):
    root, rows = pix3d_root
    entries = read_annotations(root)
    assert len(entries) == len(rows)  # the ../../etc/passwd entry is gone
    assert "leaves" in caplog.text
    assert all(e.image.is_relative_to(root.resolve()) for e in entries)
    assert entries[1].bbox == tuple(rows[1]["bbox"]) and entries[0].background == "real"


def test_missing_file_raises_with_its_name_or_is_skipped(pix3d_root):
    root, rows = pix3d_root
    (root / rows[3]["mask"]).unlink()
    with pytest.raises(Pix3DError, match=rows[3]["mask"].split("/")[-1]):
        read_annotations(root)
    assert len(read_annotations(root, on_missing="skip")) == len(rows) - 1
    (root / "pix3d.json").write_text("{not json")
    with pytest.raises(Pix3DError, match="pix3d.json"):
        read_annotations(root)


def test_split_by_model_is_deterministic_and_balanced():
    models = [f"model/chair/m{i}/model.obj" for i in range(2000)]
    splits = [split_of(m) for m in models]
    assert splits == [split_of(m) for m in models]
    shares = {name: splits.count(name) / len(models) for name in ("train", "val", "test")}
    assert 0.76 < shares["train"] < 0.84 and 0.07 < shares["val"] < 0.13


def test_dataset_items_use_prepare_image_and_pix3d_voxels(pix3d_root):
    root, rows = pix3d_root
    dataset = Pix3DDataset(root, split="all", resolution=32)
    assert len(dataset) == len(rows)
    item = dataset[0]
    assert item["pixels"].shape == (3, 128, 128) and item["pixels"].dtype.is_floating_point
    assert item["pixels"].min() >= -1 and item["pixels"].max() <= 1
    expected = resample(pix3d_to_canonical(_asymmetric_voxel()).astype(np.float32), 32)
    assert np.array_equal(item["voxels"].numpy(), expected)
    assert item["category"] == CATEGORIES.index("bed")
    # Every image of one model falls into one split.
    by_model = {}
    for split in ("train", "val", "test"):
        for entry in Pix3DDataset(root, split=split).entries:
            by_model.setdefault(entry.model, set()).add(split)
    assert all(len(s) == 1 for s in by_model.values())


def test_jitter_is_reproducible_per_epoch(pix3d_root):
    root, _ = pix3d_root
    dataset = Pix3DDataset(root, split="all", jitter=True, seed=3)
    first, again = dataset[2]["pixels"], dataset[2]["pixels"]
    dataset.set_epoch(1)
    assert np.array_equal(first, again) and not np.array_equal(first, dataset[2]["pixels"])


def test_generated_dataset_loads_with_the_same_loader(tmp_path):
    entries = generate_dataset(tmp_path, per_category=2, views=2, seed=5, categories=("chair", "sofa"))
    assert len(entries) == 8
    dataset = Pix3DDataset(tmp_path, split="all", resolution=32, background="keep")
    assert len(dataset) == 8
    item = dataset[0]
    assert item["voxels"].shape == (32, 32, 32) and item["voxels"].sum() > 0
    assert item["background"] in ("clean", "room")


# ---------------------------------------------------------------- viewpoints (DESIGN.md "Viewpoint and category")
# Pix3D's model frame is ours turned 180 degrees about Y: our (x, y, z) = (-X, Y, -Z) of Pix3D's.


@pytest.mark.parametrize("pix3d_position,azimuth,elevation", [
    ((0, 0, -2), 0, 0),  # our +Z: in front of the object
    ((-3, 0, 0), 90, 0),  # our +X: the viewer's right
    ((0, 0, 1.5), 180, 0),  # behind
    ((2, 0, 0), 270, 0),  # our -X
    ((-1, 0, -1), 45, 0),
    ((0, 4, 0), None, 90),  # straight above (azimuth undefined)
    ((0, np.sin(np.radians(30)), -np.cos(np.radians(30))), 0, 30),
    ((0, -1, -1), 0, -45),
])
def test_viewpoint_of_known_camera_positions(pix3d_position, azimuth, elevation):
    found_azimuth, found_elevation = viewpoint(pix3d_position)
    assert 0 <= found_azimuth < 360
    if azimuth is not None:
        assert found_azimuth == pytest.approx(azimuth, abs=1e-6)
    assert found_elevation == pytest.approx(elevation, abs=1e-6)


def test_entries_carry_the_viewpoint_of_their_camera(pix3d_root):
    root, rows = pix3d_root
    for entry, row in zip(read_annotations(root), rows):
        assert (entry.azimuth, entry.elevation) == pytest.approx(viewpoint(row["cam_position"]))
    rows = json.loads((root / "pix3d.json").read_text())
    del rows[0]["cam_position"]
    (root / "pix3d.json").write_text(json.dumps(rows))
    first = read_annotations(root)[0]
    assert np.isnan(first.azimuth) and np.isnan(first.elevation)


@pytest.fixture(scope="module")
def cutout_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cutouts")
    generate_dataset(root, per_category=2, views=4, seed=2, resolution=64, categories=("chair", "sofa"), cutout=True)
    return root


def test_rendered_views_are_seen_from_the_azimuth_their_entry_records(cutout_root):
    """The renderer and viewpoint() agree: from azimuth a the viewer's right is (cos a, 0, -sin a)
    in our frame, so the image shows +X and +Z in that proportion (roll and perspective aside)."""
    from train.data.render_views import camera_from_annotation

    rows = json.loads((cutout_root / "pix3d.json").read_text())
    axes = np.array([[0.05, 0, 0], [-0.05, 0, 0], [0, 0, 0.05], [0, 0, -0.05]])
    for row in rows:
        u = camera_from_annotation(row).project(axes)[:, 0]
        seen = np.degrees(np.arctan2(-(u[2] - u[3]), u[0] - u[1])) % 360
        azimuth, _ = viewpoint(row["cam_position"])
        assert abs((seen - azimuth + 180) % 360 - 180) < 15, (row["img"], seen, azimuth)


def test_composited_cutouts_give_mask_and_camera(cutout_root):
    dataset = Pix3DDataset(cutout_root, split="all", resolution=32, image_size=64, background="keep", jitter=True,
                           compositing=Compositing({}, frame_fraction=0.0))
    assert {entry.background for entry in dataset.entries} == {"cutout"}
    for index in range(4):
        item = dataset[index]
        assert item["pixels"].shape == (3, 64, 64) and item["mask"].shape == (64, 64)
        assert item["mask"].dtype == torch.float32 and set(np.unique(item["mask"].numpy())) <= {0.0, 1.0}
        assert item["mask"].sum() > 0
        assert 0 <= item["azimuth"] < 360 and -90 <= item["elevation"] <= 90
        entry = dataset.entries[index]
        assert item["azimuth"] == pytest.approx(entry.azimuth)
        # composited: the background is no longer the render's black
        outside = item["pixels"][:, item["mask"] == 0]
        assert (outside > -0.9).any()
    framed = Pix3DDataset(cutout_root, split="all", resolution=32, image_size=64, background="keep", jitter=True,
                          compositing=Compositing({}, frame_fraction=1.0))
    shares = [float(framed[i]["mask"].mean()) for i in range(4)]
    crops = [float(dataset[i]["mask"].mean()) for i in range(4)]
    assert np.mean(shares) < np.mean(crops)  # the whole frame shows the object smaller


def test_flip_mirrors_pixels_mask_and_voxels_along_x_and_negates_the_azimuth(cutout_root):
    options = dict(split="all", resolution=32, image_size=64, background="keep", jitter=True, seed=4,
                   compositing=Compositing({}, frame_fraction=0.0))
    plain, flipping = Pix3DDataset(cutout_root, **options), Pix3DDataset(cutout_root, flip=True, **options)
    flipped = kept = 0
    for index in range(len(plain)):
        a, b = plain[index], flipping[index]
        if torch.equal(a["pixels"], b["pixels"]):
            kept += 1
            assert torch.equal(a["voxels"], b["voxels"]) and a["azimuth"] == b["azimuth"]
            continue
        flipped += 1
        assert torch.equal(b["pixels"], torch.flip(a["pixels"], dims=[2]))
        assert torch.equal(b["mask"], torch.flip(a["mask"], dims=[1]))
        assert torch.equal(b["voxels"], torch.flip(a["voxels"], dims=[0]))  # i runs along +X
        assert b["azimuth"] == pytest.approx((360 - a["azimuth"]) % 360)
        assert b["elevation"] == a["elevation"]
    assert flipped and kept
    # without jitter (a held-out set) nothing is drawn, so nothing flips
    still = dict(options, jitter=False)
    unjittered, unflipped = Pix3DDataset(cutout_root, flip=True, **still), Pix3DDataset(cutout_root, **still)
    assert all(torch.equal(unjittered[i]["pixels"], unflipped[i]["pixels"]) for i in range(len(unflipped)))
