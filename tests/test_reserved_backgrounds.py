"""The reserved evaluation photographs (evaluation/reserved_backgrounds.py) stay out of training:
nothing in train/, recon/ or scripts/ imports the evaluation package or reaches for the bundled
sample images of scikit-image or OpenCV."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the forbidden spellings, assembled so this file does not hold them literally
FORBIDDEN = ["skimage" + ".data", "from skimage import " + "data", "cv2" + ".samples", "samples" + ".findFile"]
EVALUATION_IMPORT = re.compile(r"^\s*(from\s+evaluation[\s.]|import\s+evaluation\b)", re.MULTILINE)


def sources() -> list[Path]:
    return sorted(path for folder in ("train", "recon", "scripts") for path in (ROOT / folder).rglob("*.py"))


def test_there_are_sources_to_check():
    assert len(sources()) > 20


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_training_and_library_code_never_touch_the_reserved_photos(path):
    text = path.read_text()
    assert not EVALUATION_IMPORT.search(text), f"{path} imports the evaluation package"
    for spelling in FORBIDDEN:
        assert spelling not in text, f"{path} mentions {spelling}"
