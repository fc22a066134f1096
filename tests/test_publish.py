"""Model card and Hub upload list of train/publish.py (no network: dry run and a mocked HfApi)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recon.models.vae import VoxelVAE
from train.publish import UPLOAD_FILES, model_card, publish, upload_list


@pytest.fixture
def weights(tmp_path) -> Path:
    folder = tmp_path / "vae"
    VoxelVAE(image_size=32, latent_dim=8, feature_dim=32, base_channels=4).save_pretrained(folder)
    (folder / "train_config.json").write_text(json.dumps({"model": "vae", "data": ["/somewhere/procedural"],
                                                          "steps": 2, "batch_size": 4, "lr": 2e-4}))
    (folder / "training_summary.json").write_text(json.dumps({"images_per_s": 123.4, "device": "cuda:0",
                                                              "seconds_this_run": 60, "world_size": 1}))
    (folder / "curve.png").write_bytes(b"\x89PNG fake")
    (folder / "checkpoint").mkdir()
    (folder / "checkpoint" / "checkpoint.safetensors").write_bytes(b"optimizer state")
    (folder / "tensorboard").mkdir()
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.md").write_text("| method | mean |\n|---|---|\n| VAE (mu) | 0.5 / 0.4 |\n")
    return folder


def test_dry_run_lists_exactly_the_uploaded_files_with_sizes_and_writes_nothing(weights):
    before = sorted(p.name for p in weights.iterdir())
    result = subprocess.run([sys.executable, "-m", "train.publish", "--repo", "org/recon3d-vae", "--weights",
                             str(weights), "--eval", str(weights.parent / "eval"), "--dry-run"],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    listed = dict(line.split("\t")[:2] for line in result.stdout.splitlines()[1:])
    assert set(listed) == {"README.md", "config.json", "model.safetensors", "train_config.json",
                           "training_summary.json", "curve.png"}
    assert int(listed["model.safetensors"]) == (weights / "model.safetensors").stat().st_size
    assert int(listed["README.md"].split()[0]) > 500
    assert sorted(p.name for p in weights.iterdir()) == before  # README.md of save_pretrained untouched


def test_model_card_holds_usage_training_curve_evaluation_and_limits(weights):
    card = model_card(weights, "org/recon3d-vae", evaluation="| VAE (mu) | 0.5 |", credits="Chairs by A (CC-BY)")
    for text in ("pipeline_tag: image-to-3d", 'load_model("vae", "org/recon3d-vae")', "123 images/s",
                 "![training curves](curve.png)", "## Evaluation", "| VAE (mu) | 0.5 |", "Chairs by A (CC-BY)",
                 "## Limitations", "Data roots: procedural."):
        assert text in card
    assert "/somewhere" not in card  # no machine paths in a public card


def test_publish_uploads_only_the_listed_files(weights, monkeypatch):
    calls = {}

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            calls["create"] = repo_id

        def upload_folder(self, **kwargs):
            calls["upload"] = kwargs
            return "https://huggingface.co/org/recon3d-vae/commit/abc"

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    url = publish("org/recon3d-vae", weights, "# card\n")
    assert url.endswith("/commit/abc") and calls["create"] == "org/recon3d-vae"
    assert (weights / "README.md").read_text() == "# card\n"
    patterns = calls["upload"]["allow_patterns"]
    assert set(patterns) <= set(UPLOAD_FILES) and "model.safetensors" in patterns
    assert not any("checkpoint" in p or "tensorboard" in p for p in patterns)
    assert [p.name for p in upload_list(weights)] == patterns


def test_a_folder_without_weights_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        upload_list(tmp_path)


def test_local_copy_embeds_the_card_weights_and_evaluation_and_loads_back(weights, tmp_path):
    from recon.hub import load_model

    destination = tmp_path / "embedded"
    (tmp_path / "notes.md").write_text("Trained on the CPU: no GPU was lent.")
    subprocess.run([sys.executable, "-m", "train.publish", "--repo", "org/recon3d-vae", "--weights", str(weights),
                    "--eval", str(tmp_path / "eval"), "--notes", str(tmp_path / "notes.md"),
                    "--local", str(destination)], check=True,
                   cwd=Path(__file__).resolve().parents[1], capture_output=True)
    names = {path.name for path in destination.iterdir()}
    assert {"README.md", "config.json", "model.safetensors", "curve.png", "results.md"} <= names
    assert "checkpoint" not in names and "tensorboard" not in names
    card = (destination / "README.md").read_text()
    assert "VAE (mu) | 0.5 / 0.4" in card and "no GPU was lent" in card
    assert load_model("vae", destination).latent_dim == 8
