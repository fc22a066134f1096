"""Test-wide settings: never reach the Hub, keep torch to the machine's cores."""

import os

# huggingface_hub reads this at import time, so set it before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def furniture_photo(tmp_path_factory) -> Path:
    """A real rendered chair on a plain background (one of the app's examples) as a PNG path."""
    photos = sorted((ROOT / "examples" / "furniture").glob("*chair*"))
    assert photos, "examples/furniture has no chair photo"
    return photos[0]
