"""The procedural data generator's command line (train/data/generate.py): same seed, same bytes."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from recon.voxels import load_pix3d_voxel
from train.data.generate import main


def generate(out: Path, seed: int) -> list[dict]:
    main(["--out", str(out), "--per-category", "2", "--views", "2", "--seed", str(seed), "--resolution", "48",
          "--categories", "chair", "--cutout"])
    return json.loads((out / "pix3d.json").read_text())


def test_the_same_seed_writes_the_same_dataset_and_another_seed_does_not(tmp_path):
    first, again, other = (generate(tmp_path / name, seed) for name, seed in (("a", 7), ("b", 7), ("c", 8)))
    assert len(first) == 2 * 2 and {row["background"] for row in first} == {"cutout"}
    assert (tmp_path / "a" / "pix3d.json").read_bytes() == (tmp_path / "b" / "pix3d.json").read_bytes()
    for row in first:
        for key in ("img", "mask"):
            assert (tmp_path / "a" / row[key]).read_bytes() == (tmp_path / "b" / row[key]).read_bytes(), row[key]
        # (a .mat header holds its creation time: compare the grids)
        grids = [load_pix3d_voxel(tmp_path / name / row["voxel"]) for name in ("a", "b")]
        assert np.array_equal(*grids)
    assert [row["img"] for row in other] == [row["img"] for row in first]  # same names, other pictures
    for mine, theirs in zip(first, other):
        assert (tmp_path / "a" / mine["img"]).read_bytes() != (tmp_path / "c" / theirs["img"]).read_bytes()
    # cutouts: the object alone on black, its soft coverage as the mask
    colour = np.asarray(Image.open(tmp_path / "a" / first[0]["img"]))
    coverage = np.asarray(Image.open(tmp_path / "a" / first[0]["mask"]))
    assert colour.shape == (48, 48, 3) and coverage.shape == (48, 48)
    assert not colour[coverage == 0].any() and coverage.max() == 255
