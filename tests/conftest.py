"""Test-wide settings: never reach the Hub, keep torch to the machine's cores."""

import os

# huggingface_hub reads this at import time, so set it before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def validation_folder(tmp_path_factory) -> Path:
    """What the validations on train.finder_validation.validation_photos read: tiny cutout renders of
    chairs and tables (train/) and two noise photographs (photos/)."""
    import numpy as np
    from PIL import Image

    from train.data.generate import generate_dataset

    folder = tmp_path_factory.mktemp("validation")
    generate_dataset(folder / "train", per_category=3, views=3, seed=0, resolution=64,
                     categories=("chair", "table"), cutout=True)
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(folder / "photos" / f"{k}.jpg")
    return folder


@pytest.fixture(scope="session")
def furniture_photo(tmp_path_factory) -> Path:
    """A real rendered chair on a plain background (one of the app's examples) as a PNG path."""
    photos = sorted((ROOT / "examples" / "furniture").glob("*chair*"))
    assert photos, "examples/furniture has no chair photo"
    return photos[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """(app module, base URL, GRADIO_TEMP_DIR) of the real app on a free local port.

    One server for the whole session, shared by every app test: Gradio's Blocks is a module
    singleton, and relaunching a closed one in the same process is not reliable. Uses the
    embedded weights; before any training exists, random-init ones in a temp folder.
    """
    from recon.models.cgan import CGANGenerator
    from recon.models.vae import VoxelVAE

    with pytest.MonkeyPatch.context() as patch:
        for kind, model_class in (("cgan", CGANGenerator), ("vae", VoxelVAE)):
            if not (ROOT / "recon" / "weights" / kind / "model.safetensors").is_file():
                folder = tmp_path_factory.mktemp(f"weights-{kind}")
                model_class().save_pretrained(folder)
                patch.setenv(f"RECON_{kind.upper()}_WEIGHTS", str(folder))
        temp = tmp_path_factory.mktemp("gradio-temp")
        patch.setenv("GRADIO_TEMP_DIR", str(temp))
        import app

        port = free_port()
        app.demo.launch(**app.LAUNCH_OPTIONS, prevent_thread_lock=True, server_name="127.0.0.1",
                        server_port=port, quiet=True)
        try:
            yield app, f"http://127.0.0.1:{port}/", temp
        finally:
            app.demo.close()
