"""Evaluation next to the baselines (train/evaluate.py, train/baselines.py) on tiny real data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from recon.models.cgan import CGANGenerator
from recon.models.vae import VoxelVAE
from tests.test_train import TinyShapes
from train.baselines import SilhouetteRetrieval, fit_category_means, fit_mean_shape, pool_mask
from train.evaluate import BASELINES, markdown_table, pool_to_32, score_test_set, write_results

SIZES = dict(image_size=32, resolution=32, latent_dim=8, feature_dim=32, base_channels=4)


def box(side: int, lo: int, hi: int) -> np.ndarray:
    grid = np.zeros((side,) * 3, np.float32)
    grid[lo:hi, lo:hi, lo:hi] = 1
    return grid


def test_mean_shape_threshold_is_chosen_on_the_training_grids():
    # two small boxes and one large: the mean is 1 in the small box, 1/3 in the shell around it
    grids = np.stack([box(32, 12, 20), box(32, 12, 20), box(32, 4, 28)])
    mean = fit_mean_shape(grids)
    assert np.array_equal(mean.grid, grids[0] >= 0.5)  # keeping the shell would cost the two small ones more
    assert mean.level > 1 / 3 and mean.training_iou > 0.67
    per_category = fit_category_means(grids, ["chair", "chair", "bed"])
    assert np.array_equal(per_category["bed"].grid, grids[2] >= 0.5)
    assert per_category["bed"].training_iou == 1.0


def test_silhouette_retrieval_returns_the_shape_of_the_best_matching_mask():
    masks = np.zeros((3, 64, 64), bool)
    masks[0, 10:50, 10:20] = True  # tall thin
    masks[1, 30:40, 5:60] = True  # wide flat
    masks[2, 10:50, 10:50] = True  # square
    grids = np.stack([box(32, 0, 4), box(32, 4, 8), box(32, 8, 12)])
    retrieval = SilhouetteRetrieval(masks, grids)
    query = np.zeros((128, 128), bool)
    query[62:82, 12:118] = True  # wide flat, at another image size
    assert retrieval.nearest(query) == 1
    assert np.array_equal(retrieval.predict(query), grids[1])
    assert pool_mask(query).shape == (32, 32)


def test_64_predictions_are_any_pooled_to_32():
    grid = torch.zeros(1, 64, 64, 64)
    grid[0, 5, 9, 63] = 0.7  # one thin voxel survives pooling
    pooled = pool_to_32(grid)
    assert pooled.shape == (1, 32, 32, 32) and pooled[0, 2, 4, 31] == 0.7 and pooled.sum() == 0.7


def test_scores_models_and_baselines_per_background_and_category(tmp_path):
    train_set = TinyShapes(count=24, seed=1)
    test_set = ConcatDataset([TinyShapes(count=6, seed=2), TinyShapes(count=6, seed=3, background="room")])
    torch.manual_seed(0)
    models = {"cgan": CGANGenerator(**SIZES).eval(), "vae": VoxelVAE(**SIZES).eval()}
    results = score_test_set(models, train_set, test_set, batch_size=5)
    methods = results["methods"]
    assert set(methods) == {"cGAN (z = 0)", "VAE (mu)", *BASELINES}
    for tables in methods.values():
        assert set(tables) == {"clean", "room"}
        for table in tables.values():
            assert table["count"] == 6 and set(table["categories"]) == {"bed", "chair", "table"}
            assert 0 <= table["mean"]["iou"] <= 1 and 0 <= table["mean"]["f_score"] <= 1
    assert "sample_diversity" in methods["cGAN (z = 0)"]["room"]
    # boxes of sizes seen in training: retrieval by silhouette finds near-identical shapes
    retrieval = methods["silhouette retrieval"]["clean"]["mean"]["iou"]
    assert retrieval > methods["global mean shape"]["clean"]["mean"]["iou"]
    assert 0.05 <= results["protocol"]["baselines"]["global mean shape"]["threshold"] <= 0.95

    json_path, markdown_path = write_results(results, tmp_path)
    assert json.loads(json_path.read_text()) == results
    markdown = markdown_path.read_text()
    assert markdown == markdown_table(results)
    for text in ("no re-alignment", "threshold 0.5", "**clean background**", "**room background**",
                 "silhouette retrieval", "per-category mean shape", "| cGAN (z = 0) |"):
        assert text in markdown


def test_command_line_evaluates_saved_models_on_a_generated_set(tmp_path):
    from train.data.generate import generate_dataset
    from train.data.pix3d import Pix3DDataset

    root = tmp_path / "data"
    generate_dataset(root, per_category=5, views=3, resolution=64, categories=("chair", "table"))  # table 4: test
    assert len(Pix3DDataset(root, split="test")) > 0, "fixture needs models in the test split"
    torch.manual_seed(0)
    for kind, model in (("cgan", CGANGenerator(**SIZES)), ("vae", VoxelVAE(**SIZES))):
        model.save_pretrained(tmp_path / kind)
    out = tmp_path / "eval"
    result = subprocess.run([sys.executable, "-m", "train.evaluate", "--data", str(root), "--cgan",
                             str(tmp_path / "cgan"), "--vae", str(tmp_path / "vae"), "--out", str(out),
                             "--device", "cpu"], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["methods"]) == {"cGAN (z = 0)", "VAE (mu)", *BASELINES}
    assert "| silhouette retrieval |" in (out / "results.md").read_text()
