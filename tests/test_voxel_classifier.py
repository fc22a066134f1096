"""The FVD's voxel classifier: shapes, save/reload, one training step, augmentation, and the
`python -m train.voxel_classifier` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from recon.generative_metrics import load_voxel_classifier
from recon.hub import save_weights
from recon.models import VoxelClassifier
from train.data.pix3d import CATEGORIES, split_of
from train.voxel_classifier import ClassifierConfig, augment, balanced_weights, root_grids

ROOT = Path(__file__).resolve().parents[1]


def grids(batch: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(batch, 32, 32, 32, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_features_and_logits_shapes_and_size():
    model = VoxelClassifier().eval()
    assert model.embed(grids(2)).shape == (2, 128)
    assert model(grids(2)).shape == (2, 7)
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 1_000_000  # < 2 MB as float16


def test_save_and_reload_round_trip(tmp_path):
    model = VoxelClassifier(base_channels=4, feature_dim=32).eval()
    save_weights(model, tmp_path / "classifier", card_text="# card\n")
    loaded = load_voxel_classifier(tmp_path / "classifier")
    assert isinstance(loaded, VoxelClassifier) and not loaded.training
    assert json.loads((tmp_path / "classifier" / "config.json").read_text())["feature_dim"] == 32
    half = VoxelClassifier(base_channels=4, feature_dim=32)
    half.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})  # what fp16 storage keeps
    assert torch.allclose(loaded.embed(grids(3)), half.eval().embed(grids(3)), atol=1e-5)


def test_one_step_gives_every_parameter_a_gradient_and_changes_it():
    model = VoxelClassifier(base_channels=4, feature_dim=32).train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    F.cross_entropy(model(grids(4)), torch.tensor([0, 1, 2, 3])).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    optimizer.step()
    assert all(not torch.equal(before[name], p) for name, p in model.named_parameters())


def test_augment_mirrors_along_x_and_shifts_without_wrapping():
    grid = torch.zeros(1, 8, 8, 8)
    grid[0, 0, 0, 0] = 1  # the voxel at the -X, bottom, back corner
    moved = augment(grid.repeat(500, 1, 1, 1), max_shift=1, generator=torch.Generator().manual_seed(0))
    assert (moved.flatten(1).sum(1) <= 1).all()  # shifted out or kept, never copied or wrapped
    seen = {tuple(index[1:]) for index in moved.nonzero().tolist()}
    # mirrored to i = 7 or kept at i = 0, each shifted by -1, 0 or +1 (off the grid below 0 or above 7)
    assert {(0, 0, 0), (1, 1, 1), (7, 0, 0), (6, 1, 1)} <= seen
    assert all(i in (0, 1, 6, 7) and j in (0, 1) and k in (0, 1) for i, j, k in seen)
    assert torch.equal(augment(grid, 0, torch.Generator().manual_seed(1)).sum(), torch.tensor(1.0))


def test_balanced_weights_draw_each_category_equally():
    labels = np.array([0, 0, 0, 1, 2, 2])
    weights = balanced_weights(labels)
    assert [float(weights[labels == c].sum()) for c in (0, 1, 2)] == pytest.approx([1.0, 1.0, 1.0])


def write_root(root: Path, models: list[tuple[str, str, int]]) -> None:
    """A Pix3D-layout root: per (model path, category, images) that many annotated images of one
    64^3 voxel.mat holding a box (Pix3D's file convention: nonzero = occupied)."""
    rows = []
    for number, (model, category, images) in enumerate(models):
        folder = root / Path(model).parent
        folder.mkdir(parents=True)
        voxel = np.zeros((64, 64, 64), np.uint8)
        voxel[8:56, 20:44, 4:60 - 8 * number] = 1
        scipy.io.savemat(folder / "voxel.mat", {"voxel": voxel})
        for image in range(images):
            for kind in ("img", "mask"):
                (root / kind).mkdir(exist_ok=True)
                (root / kind / f"{number}-{image}.png").write_bytes(b"unused")
            rows.append({"img": f"img/{number}-{image}.png", "mask": f"mask/{number}-{image}.png",
                         "voxel": str(Path(model).parent / "voxel.mat"), "model": model, "category": category,
                         "bbox": [0, 0, 1, 1]})
    (root / "pix3d.json").write_text(json.dumps(rows))


def test_root_grids_take_one_grid_per_model_of_the_split(tmp_path):
    models = [("model/chair/m0/model.obj", "chair", 3), ("model/table/m2/model.obj", "table", 1),
              ("model/bed/m0/model.obj", "bed", 2), ("model/sofa/m2/model.obj", "sofa", 1)]
    assert [split_of(model) for model, _, _ in models] == ["train", "train", "val", "test"]
    write_root(tmp_path, models)
    train = root_grids(tmp_path, "train")
    assert train.grids.shape == (2, 32, 32, 32) and train.grids.dtype == bool
    assert [CATEGORIES[label] for label in train.labels] == ["chair", "table"]
    assert not np.array_equal(train.grids[0], train.grids[1])
    held_out = root_grids(tmp_path, "val")
    assert [CATEGORIES[label] for label in held_out.labels] == ["bed"]
    assert held_out.grids[0].any() and held_out.grids[0].max(axis=(1, 2)).all()  # canonical: spans X


def test_config_needs_some_data():
    with pytest.raises(ValueError):
        ClassifierConfig()


def test_embedded_classifier_loads_and_is_small():
    folder = ROOT / "recon" / "weights" / "voxel-classifier"
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2_000_000
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary["held_out"]["accuracy"] > 0.6  # chance is 1/7; the shipped one scores 0.986
    assert isinstance(load_voxel_classifier(), VoxelClassifier)


@pytest.mark.slow
def test_two_step_command_line_run_writes_loadable_weights(tmp_path):
    out = tmp_path / "classifier"
    write_root(tmp_path / "root", [("model/chair/m0/model.obj", "chair", 2), ("model/bed/m0/model.obj", "bed", 1)])
    result = subprocess.run([sys.executable, "-m", "train.voxel_classifier", "--data", str(tmp_path / "root"),
                             "--procedural", "2", "--steps", "2", "--batch_size", "4", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("config.json", "model.safetensors", "README.md", "train_config.json", "training_summary.json"):
        assert (out / name).is_file(), name
    assert all(t.dtype == torch.float16 for t in load_file(out / "model.safetensors").values())
    assert "Held-out accuracy" in (out / "README.md").read_text()
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["train_count"] == 2 * 7 + 1 and summary["held_out"]["count"] == 7 + 1  # + chair m0, bed m0
    assert isinstance(load_voxel_classifier(out), VoxelClassifier)
    failed = subprocess.run([sys.executable, "-m", "train.voxel_classifier", "--out", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert failed.returncode != 0 and "no training data" in failed.stderr
