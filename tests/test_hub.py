"""Loading weights from folders, the environment, the embedded default and an offline Hub cache."""

import json
import shutil
import time

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file

from recon import hub
from recon.errors import ReconError, WeightsError
from recon.hub import load_model, resolve_device, save_weights
from recon.models import CGANGenerator, VoxelVAE

SMALL = dict(image_size=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    # huggingface_hub reads HF_HUB_OFFLINE once at import: set the constant too, not only the env.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def saved(tmp_path):
    """A small cGAN saved with save_weights: (model, folder)."""
    model = CGANGenerator(**SMALL).eval()
    return model, save_weights(model, tmp_path / "cgan")


def same_outputs(a, b) -> bool:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return torch.allclose(a.reconstruct(x), b.reconstruct(x), atol=2e-2)


def test_save_weights_writes_a_small_float16_folder(saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    expected = dict(SMALL, resolution=32, backbone="resnet", frozen_stages=0, mask_head="lateral",
                    noise_modulation=False, noise_scale=1.0)
    assert json.loads((folder / "config.json").read_text()) == expected
    parameter_bytes = sum(p.numel() for p in model.parameters()) * 2
    assert (folder / "model.safetensors").stat().st_size < parameter_bytes * 1.1


def test_save_weights_takes_a_model_card(tmp_path):
    folder = save_weights(VoxelVAE(**SMALL), tmp_path / "vae", card_text="# Trained VAE\n")
    assert (folder / "README.md").read_text() == "# Trained VAE\n"
    assert isinstance(load_model("vae", folder), VoxelVAE)


def test_load_local_folder_in_float32_eval_mode(saved):
    model, folder = saved
    loaded = load_model("cgan", folder)
    assert isinstance(loaded, CGANGenerator) and not loaded.training
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert same_outputs(model, loaded)
    assert same_outputs(model, load_model("cgan", str(folder)))


def test_environment_variable_then_embedded_default(saved, monkeypatch, tmp_path):
    model, folder = saved
    monkeypatch.setenv("RECON_CGAN_WEIGHTS", str(folder))
    assert same_outputs(model, load_model("cgan"))
    monkeypatch.delenv("RECON_CGAN_WEIGHTS")
    monkeypatch.setattr(hub, "EMBEDDED_WEIGHTS", tmp_path / "embedded")
    shutil.copytree(folder, tmp_path / "embedded" / "cgan")
    assert same_outputs(model, load_model("cgan"))


def test_offline_hub_cache(saved, tmp_path):
    model, folder = saved
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--org--name"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(folder, repo / "snapshots" / commit)
    assert same_outputs(model, load_model("cgan", "org/name", cache_dir=tmp_path / "cache"))


def test_uncached_hub_id_fails_fast_naming_repo_and_offline_mode(tmp_path):
    start = time.perf_counter()
    with pytest.raises(WeightsError, match=r"org/missing.*HF_HUB_OFFLINE"):
        load_model("vae", "org/missing", cache_dir=tmp_path)
    assert time.perf_counter() - start < 5


def test_missing_folder_and_empty_embedded_folder(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="does not exist"):
        load_model("cgan", tmp_path / "nowhere")
    (tmp_path / "embedded" / "vae").mkdir(parents=True)
    monkeypatch.setattr(hub, "EMBEDDED_WEIGHTS", tmp_path / "embedded")
    monkeypatch.delenv("RECON_VAE_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="config.json is missing"):
        load_model("vae")


def test_bad_config(saved):
    _, folder = saved
    config = folder / "config.json"
    config.write_text("{not json")
    with pytest.raises(WeightsError, match="config.json is not valid JSON"):
        load_model("cgan", folder)
    config.write_text(json.dumps(dict(SMALL, depth=3)))
    with pytest.raises(WeightsError, match="does not describe a CGANGenerator"):
        load_model("cgan", folder)


def test_missing_and_truncated_safetensors(saved):
    _, folder = saved
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="model.safetensors is truncated"):
        load_model("cgan", folder)
    weights.write_bytes(data[:5])
    with pytest.raises(WeightsError, match="model.safetensors is not a valid safetensors"):
        load_model("cgan", folder)
    weights.unlink()
    with pytest.raises(WeightsError, match="model.safetensors is missing"):
        load_model("cgan", folder)


@pytest.mark.parametrize("zip_format", [True, False])
def test_pickle_renamed_safetensors_is_refused(saved, zip_format):
    model, folder = saved
    torch.save(model.state_dict(), folder / "model.safetensors", _use_new_zipfile_serialization=zip_format)
    with pytest.raises(WeightsError, match="zip/pickle"):
        load_model("cgan", folder)


def test_weights_that_do_not_fit_the_config(saved):
    _, folder = saved
    (folder / "config.json").write_text(json.dumps(dict(SMALL, base_channels=8, resolution=32)))
    with pytest.raises(WeightsError, match="wrong shape"):
        load_model("cgan", folder)
    save_file({"encoder.linear.weight": torch.zeros(16, 64)}, folder / "model.safetensors")
    with pytest.raises(WeightsError, match="missing"):
        load_model("cgan", folder)


def test_unknown_kind():
    with pytest.raises(ValueError, match="Unknown model kind"):
        load_model("diffusion")


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ReconError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ReconError, match="Unknown device"):
        resolve_device("gpu please")
