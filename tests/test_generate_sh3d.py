import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from recon.voxels import load_pix3d_voxel
from train.data import generate_sh3d
from train.data.generate_sh3d import generate_sh3d_dataset, main
from train.data.pix3d import read_annotations

PROPERTIES = r"""id=Test#Library
license=CC-BY 3.0 Test Licence

id#1=Test#chair
name#1=Oak chair
category#1=Living room
model#1=/box/box.obj
width#1=40
depth#1=40
height#1=90
creator#1=Jane Doe

id#2=Test#table
name#2=Round table
category#2=Dining room
model#2=/box/box.obj
width#2=120
depth#2=80
height#2=75
creator#2=John Roe
license#2=CC-0

id#3=Test#door
name#3=Door
category#3=Doors and windows
model#3=/box/box.obj
width#3=90
depth#3=10
height#3=200
doorOrWindow#3=true
creator#3=Nobody
"""

# a closed unit cube, red top and bottom, green sides
OBJ = """mtllib box.mtl
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
usemtl red
f 1 4 3 2
f 5 6 7 8
usemtl green
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""

MTL = "newmtl red\nKd 1 0 0\nnewmtl green\nKd 0 1 0\n"


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "lib" / "KatorLegaz.sh3f"
    path.parent.mkdir()
    # fixed timestamps: the archive's bytes (and so each piece's key and random stream, its stretch
    # among them) must not depend on the clock, or a rare draw leaves a stretch invisible at 128^3
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in (("PluginFurnitureCatalog.properties", PROPERTIES), ("box/box.obj", OBJ),
                           ("box/box.mtl", MTL)):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return path


def _deb(library, path):
    """A minimal Debian package (ar archive) whose data.tar.gz holds the library."""
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tar:
        tar.add(library, arcname=f"./usr/share/sweethome3d/furniture/{library.name}")
    members = [("debian-binary", b"2.0\n"), ("data.tar.gz", payload.getvalue())]
    data = b"!<arch>\n"
    for name, content in members:
        data += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(content):<10}`\n".encode() + content
        data += b"\n" * (len(content) % 2)
    path.write_bytes(data)
    return path


def test_generates_pix3d_layout_with_credits_and_sources(library, tmp_path):
    out = tmp_path / "out"
    entries = generate_sh3d_dataset([library], out, views=2, seed=0, resolution=64, cache=tmp_path / "cache")

    assert len(entries) == 4  # chair and table, 2 views each; the door is not furniture
    rows = json.loads((out / "pix3d.json").read_text())
    assert {row["category"] for row in rows} == {"chair", "table"}
    for row in rows:
        assert row["img_source"] == row["model_source"] == "sh3d:KatorLegaz.sh3f"
        assert row["background"] in ("clean", "room")
        assert row["img_size"] == [64, 64]
        assert row["model"].startswith(f"model/{row['category']}/sh3d_test_")
        image = Image.open(out / row["img"])
        assert image.size == (64, 64) and image.mode == "RGB"
        assert np.asarray(Image.open(out / row["mask"])).any()
        voxels = load_pix3d_voxel(out / row["voxel"])
        assert voxels.shape == (128, 128, 128) and voxels.any()
        assert (out / row["model"]).is_file()
    assert len(read_annotations(out)) == 4  # the training loader accepts the root

    credits = (out / "CREDITS.md").read_text()
    assert "| Oak chair | chair | Jane Doe | CC-BY 3.0 Test Licence | KatorLegaz.sh3f |" in credits
    assert "| Round table | table | John Roe | CC-0 | KatorLegaz.sh3f |" in credits
    assert "Door" not in credits
    sources = json.loads((out / "sources.json").read_text())
    assert [model["name"] for model in sources["models"]] == ["sh3d_test_chair", "sh3d_test_table"]
    assert sources["libraries"][0]["library"] == "KatorLegaz.sh3f" and sources["libraries"][0]["models"] == 2
    assert sources["settings"]["views"] == 2 and sources["settings"]["seed"] == 0
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_rerun_is_deterministic_and_reads_the_voxel_cache(library, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = generate_sh3d_dataset([library], tmp_path / "a", views=2, seed=3, resolution=64, cache=cache)

    def no_voxelising(*args, **kwargs):
        raise AssertionError("voxelised again despite the cache")

    monkeypatch.setattr(generate_sh3d, "voxelize_mesh", no_voxelising)
    second = generate_sh3d_dataset([library], tmp_path / "b", views=2, seed=3, resolution=64, cache=cache)
    assert first == second
    for row in first:
        assert (tmp_path / "a" / row["img"]).read_bytes() == (tmp_path / "b" / row["img"]).read_bytes()
    other_seed = generate_sh3d_dataset([library], tmp_path / "c", views=2, seed=4, resolution=64, cache=cache)
    assert [row["rot_mat"] for row in other_seed] != [row["rot_mat"] for row in first]


def test_cli_reads_a_deb_with_workers(library, tmp_path):
    """Workers open the archives after listing; a .deb's unpacked copy must still exist then."""
    deb = _deb(library, tmp_path / "sweethome3d-furniture_test_all.deb")
    out = tmp_path / "out"
    main(["--source", str(deb), "--out", str(out), "--views", "1", "--seed", "0", "--resolution", "48",
          "--workers", "2", "--cache", str(tmp_path / "cache")])
    rows = json.loads((out / "pix3d.json").read_text())
    assert sorted(row["category"] for row in rows) == ["chair", "table"]
    sources = json.loads((out / "sources.json").read_text())
    assert sources["inputs"] == [{"file": deb.name, "sha256": sources["inputs"][0]["sha256"]}]
    single = generate_sh3d_dataset([library], tmp_path / "single", views=1, seed=0, resolution=48)
    assert sorted(rows, key=lambda row: row["img"]) == sorted(single, key=lambda row: row["img"])


def test_cli_rejects_missing_source(tmp_path):
    with pytest.raises(SystemExit):
        main(["--source", str(tmp_path / "nothing.deb"), "--out", str(tmp_path / "out")])


def occupied_extent(voxels: np.ndarray) -> tuple[int, ...]:
    """Occupied span (voxels) along X, Y and Z of a canonical grid."""
    return tuple(int(np.ptp(np.flatnonzero(voxels.any(axis=tuple(a for a in range(3) if a != axis))))) + 1
                 for axis in range(3))


def test_variants_and_cutouts(library, tmp_path):
    out = tmp_path / "out"
    entries = generate_sh3d_dataset([library], out, views=1, seed=0, resolution=48, variants=3, cutout=True)
    assert len(entries) == 2 * 3  # chair and table, each plain, mirrored and stretched
    by_model = {row["model"].split("/")[2]: row for row in entries}
    assert set(by_model) == {f"sh3d_test_{c}{suffix}" for c in ("chair", "table") for suffix in ("", "_v1", "_v2")}
    for category in ("chair", "table"):
        base, mirrored, stretched = (load_pix3d_voxel(out / by_model[f"sh3d_test_{category}{s}"]["voxel"])
                                     for s in ("", "_v1", "_v2"))
        assert np.array_equal(mirrored, base[::-1])  # the first variant is the plain mirror image
        assert occupied_extent(stretched) != occupied_extent(base)  # the second changes the proportions
        assert max(occupied_extent(stretched)) >= 127  # and stays canonical
    for row in entries:
        assert row["background"] == "cutout"
        coverage = np.asarray(Image.open(out / row["mask"]))
        assert coverage.any() and len(np.unique(coverage)) > 2  # soft coverage, not a 0/255 mask
        colour = np.asarray(Image.open(out / row["img"]))
        assert not colour[coverage == 0].any()  # the object alone, black around it
    settings = json.loads((out / "sources.json").read_text())["settings"]
    assert settings["variants"] == 3 and settings["cutout"] is True


def test_library_filters(library, tmp_path):
    other = library.with_name("BlendSwap-CC-0.sh3f")
    other.write_bytes(library.read_bytes())
    both = generate_sh3d_dataset([library, other], tmp_path / "both", views=1, seed=0, resolution=32)
    assert {row["img_source"] for row in both} == {"sh3d:KatorLegaz.sh3f", "sh3d:BlendSwap-CC-0.sh3f"}
    kept = generate_sh3d_dataset([library, other], tmp_path / "kept", views=1, seed=0, resolution=32,
                                 libraries=("BlendSwap-CC-0.sh3f",))
    assert {row["img_source"] for row in kept} == {"sh3d:BlendSwap-CC-0.sh3f"} and len(kept) == 2
    main(["--source", str(library), str(other), "--out", str(tmp_path / "cli"), "--views", "1", "--resolution",
          "32", "--exclude-libraries", "KatorLegaz.sh3f", "--cache", str(tmp_path / "cache")])
    rows = json.loads((tmp_path / "cli" / "pix3d.json").read_text())
    assert {row["img_source"] for row in rows} == {"sh3d:BlendSwap-CC-0.sh3f"}
    assert json.loads((tmp_path / "cli" / "sources.json").read_text())["settings"]["exclude_libraries"] == [
        "KatorLegaz.sh3f"]
    with pytest.raises(SystemExit):
        main(["--source", str(library), "--out", str(tmp_path / "none"), "--libraries", "Missing.sh3f"])
