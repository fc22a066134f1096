import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from recon.voxels import pix3d_to_canonical, resample
from train.data.generate import generate_dataset
from train.data.pix3d import CATEGORIES, Pix3DDataset, Pix3DError, read_annotations, split_of

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
