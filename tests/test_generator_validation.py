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
        assert 0 <= scores["sample_iou"] <= 1 and 0 <= scores["sample_crispness"] <= 1
    assert "active_latent_units" in models["V"] and "active_latent_units" not in models["G"]
    # the same weights under two names: the same crops, the same draws, the same figures
    assert models["G"]["fvd"] == pytest.approx(models["G2"]["fvd"])
    assert models["G"]["mean_over_images"] == models["G2"]["mean_over_images"]
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {name} | " in table for name in ("G", "V", "G2")) and "cut-outs" not in table


def test_samples_of_a_generator_that_ignores_z_score_as_its_mode(setup, tmp_path):
    """The sample columns (what the app shows: one draw per photo) are the mode's figures when z
    changes nothing, and differ from them when it does."""
    folder, cgan, _ = setup
    torch.manual_seed(0)
    deaf = CGANGenerator(**SIZES).eval()
    with torch.no_grad():
        deaf.decoder.linear.weight[:, -SIZES["latent_dim"]:] = 0  # z's columns of the decoder's input
    deaf_folder = save_weights(deaf, tmp_path / "deaf")
    main(["--data", str(folder / "train"), "--backgrounds", str(folder / "photos"), "--model", f"deaf=cgan:{deaf_folder}",
          "--model", f"G=cgan:{cgan}", "--count", "6", "--seed", "3", "--out", str(tmp_path / "out")])
    models = json.loads((tmp_path / "out" / "results.json").read_text())["models"]
    assert models["deaf"]["sample_iou"] == pytest.approx(models["deaf"]["mean_over_images"]["iou"])
    assert models["deaf"]["sample_crispness"] == pytest.approx(models["deaf"]["crispness"])
    assert models["deaf"]["sample_diversity"] == 0
    assert models["deaf"]["sample_iou"] > 0
    assert models["G"]["sample_diversity"] > 0 and models["G"]["sample_iou"] != pytest.approx(models["G"]["mean_over_images"]["iou"])
