"""The generators' validation (train/generator_validation.py): a real run on tiny cutout renders
over generated photographs with tiny untrained models, scored as the evaluation scores them."""

import json

import pytest
import torch

from recon.hub import save_weights
from recon.models.cgan import CGANGenerator
from recon.models.vae import VoxelVAE
from train.generator_validation import main

SIZES = dict(image_size=32, resolution=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)


@pytest.fixture(scope="module")
def setup(validation_folder):
    torch.manual_seed(0)
    return (validation_folder, save_weights(CGANGenerator(**SIZES).eval(), validation_folder / "generator-cgan"),
            save_weights(VoxelVAE(**SIZES).eval(), validation_folder / "generator-vae"))


def test_command_line_scores_each_model_as_its_kind(setup, tmp_path):
    folder, cgan, vae = setup
    main(["--data", str(folder / "train"), "--backgrounds", str(folder / "photos"), "--model", f"G=cgan:{cgan}",
          "--model", f"V=vae:{vae}", "--model", f"G2=cgan:{cgan}", "--count", "6", "--seed", "3", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["photos"] == 6 and results["crop"] == "true"
    models = results["models"]
    assert set(models) == {"G", "V", "G2"}
    for scores in models.values():
        assert all(0 <= scores["mean_over_images"][key] <= 1 for key in ("iou", "f1", "f2"))
        assert 0 <= scores["crispness"] <= 1 and 0 <= scores["sample_diversity"] <= 1
        assert scores["fvd"] >= 0 and scores["fvd_samples"] >= 0
    assert "active_latent_units" in models["V"] and "active_latent_units" not in models["G"]
    # the same weights under two names: the same crops, the same draws, the same figures
    assert models["G"]["fvd"] == pytest.approx(models["G2"]["fvd"])
    assert models["G"]["mean_over_images"] == models["G2"]["mean_over_images"]
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {name} | " in table for name in ("G", "V", "G2")) and "cut-outs" not in table
