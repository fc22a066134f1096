import zipfile

import numpy as np
import pytest

from recon.voxels import load_pix3d_voxel
from tests.test_generate_sh3d import MTL, OBJ
from train.data.generate_sh3d import generate_sh3d_dataset
from train.data.pack_sh3d import main, pack_sh3d
from train.data.sh3d import DEFAULT_CATALOG, DEFAULT_MATERIALS_CLASS, read_catalog, load_entry_mesh

PROPERTIES = r"""id=Test#Library
license=CC-0

id#1=Test#armchair
name#1=Beech armchair
category#1=Living room
model#1=/chair/box.obj
width#1=70
depth#1=60
height#1=85
creator#1=Ann Smith

id#2=Test#lamp
name#2=Table lamp
category#2=Lights
model#2=/lamp/lamp.obj
width#2=20
depth#2=20
height#2=40
lightSourceX#2=0.5
creator#2=Nobody

id#3=Test#door
name#3=Door
category#3=Doors and windows
model#3=/door/door.obj
width#3=90
depth#3=10
height#3=200
doorOrWindow#3=true
creator#3=Nobody
"""

JAR_PROPERTIES = PROPERTIES.replace("/chair/", "/com/eteks/sweethome3d/io/resources/chair/")



def _write(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def sources(tmp_path):
    """A library and a jar, each with one chair beside pieces the generator never reads."""
    noise = np.random.default_rng(0).bytes(200_000)  # incompressible, like textures and classes
    library = _write(tmp_path / "full" / "KatorLegaz.sh3f", {
        "PluginFurnitureCatalog.properties": PROPERTIES, "chair/box.obj": OBJ, "chair/box.mtl": MTL,
        "lamp/lamp.obj": OBJ, "lamp/texture.jpg": noise, "door/door.obj": OBJ, "door/texture.jpg": noise})
    resources = "com/eteks/sweethome3d/io/resources"
    jar = _write(tmp_path / "full" / "sweethome3d.jar", {
        DEFAULT_CATALOG: JAR_PROPERTIES, DEFAULT_MATERIALS_CLASS: b"\xca\xfe\xba\xbe" + noise[:100],
        f"{resources}/chair/box.obj": OBJ, f"{resources}/chair/box.mtl": MTL,
        "com/eteks/sweethome3d/swing/HomePane.class": noise, "help/index.html": noise})
    return library, jar


def test_slim_archives_keep_only_what_the_generator_reads(sources, tmp_path):
    library, jar = sources
    written = pack_sh3d([tmp_path / "full"], tmp_path / "pack")

    assert [path.name for path in written] == ["sweethome3d.jar", "KatorLegaz.sh3f"]
    with zipfile.ZipFile(tmp_path / "pack" / library.name) as slim:
        assert sorted(slim.namelist()) == ["PluginFurnitureCatalog.properties", "chair/box.mtl", "chair/box.obj"]
    with zipfile.ZipFile(tmp_path / "pack" / jar.name) as slim:
        assert sorted(slim.namelist()) == sorted([DEFAULT_CATALOG, DEFAULT_MATERIALS_CLASS,
                                                  "com/eteks/sweethome3d/io/resources/chair/box.obj",
                                                  "com/eteks/sweethome3d/io/resources/chair/box.mtl"])
    for path in written:
        assert path.stat().st_size < (tmp_path / "full" / path.name).stat().st_size / 10
        full, slim = read_catalog(tmp_path / "full" / path.name), read_catalog(path)
        assert [e.id for e in slim] == [e.id for e in full]  # the catalogue travels whole
        for a, b in zip(full, slim):
            assert a.name == b.name and a.model == b.model and a.pix3d_category == b.pix3d_category
        chair_full, chair_slim = (load_entry_mesh(entries[0]) for entries in (full, slim))
        assert np.array_equal(chair_full.vertices, chair_slim.vertices)
        assert np.array_equal(chair_full.visual.face_colors, chair_slim.visual.face_colors)


def test_generator_makes_the_same_pieces_from_the_slim_archives(sources, tmp_path):
    library, _ = sources
    pack_sh3d([library], tmp_path / "pack")
    full = generate_sh3d_dataset([library], tmp_path / "a", views=2, seed=1, resolution=48)
    slim = generate_sh3d_dataset([tmp_path / "pack"], tmp_path / "b", views=2, seed=1, resolution=48)

    # the chair only (lamp and door are never rendered), voxelised identically; the views are
    # drawn from a stream keyed by the archive's bytes, so they are other views of it
    assert [row["img"] for row in full] == [row["img"] for row in slim] == [
        "img/chair/sh3d_test_armchair_000.png", "img/chair/sh3d_test_armchair_001.png"]
    voxels = [load_pix3d_voxel(root / full[0]["voxel"]) for root in (tmp_path / "a", tmp_path / "b")]
    assert voxels[0].any() and np.array_equal(*voxels)


def test_refuses_to_overwrite_its_source_and_missing_sources(sources, tmp_path):
    library, _ = sources
    before = library.read_bytes()
    with pytest.raises(SystemExit, match="overwrite its source"):
        main(["--source", str(library), "--out", str(library.parent)])
    assert library.read_bytes() == before
    with pytest.raises(SystemExit):
        main(["--source", str(tmp_path / "nothing.deb"), "--out", str(tmp_path / "pack")])
