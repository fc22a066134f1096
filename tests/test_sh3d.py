import zipfile

import numpy as np
import pytest

from train.data import sh3d
from train.data.credits import credits_table

PROPERTIES = r"""# a synthetic library in Sweet Home 3D's format
id=Test#Library
license=Creative Commons Attribution 3.0 \u00a9 Test
! another comment style

id#1=Test#chair
name#1=Caf\u00e9 chair
category#1=Living room
model#1=/lib/chair/chair.obj
width#1=40
depth#1=20
height#1=\
    80
modelRotation#1=1 0 0 0 0 1 0 -1 0
doorOrWindow#1=false
creator#1=Jane \
          Doe

id#2=Test#door
name#2=Door
category#2=Doors and windows
model#2=/lib/door/door.obj
width#2=90
depth#2=10
height#2=200
doorOrWindow#2=true
creator#2=Someone

id#3=Test#stuhl
name#3=Stuhl
category#3=Wohnzimmer
model#3=/lib/chair/chair.obj
width#3=40
depth#3=40
height#3=40
doorOrWindow#3=false
creator#3=Someone
license#3=CC-0

id#4=Test#corner
name#4 = Corner sofa
category#4:Living room
model#4=/lib/chair/chair.obj
width#4=200
depth#4=100
height#4=80
creator#4=Someone
"""

# a box 2 x 1 x 4 (x, y, z) in model units: along z it is the tallest, like a model exported Z-up
OBJ = """mtllib chair.mtl
v 0 0 0
v 2 0 0
v 2 1 0
v 0 1 0
v 0 0 4
v 2 0 4
v 2 1 4
v 0 1 4
usemtl red
f 1 4 3 2
f 5 6 7 8
usemtl green
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""

MTL = """newmtl red
Kd 1 0 0
newmtl green
Kd 0 1 0
"""


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "KatorLegaz.sh3f"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PluginFurnitureCatalog.properties", PROPERTIES.encode("latin-1"))
        archive.writestr("PluginFurnitureCatalog_fr.properties", "name#1=Chaise\n")
        archive.writestr("lib/chair/chair.obj", OBJ)
        archive.writestr("lib/chair/chair.mtl", MTL)
    return path


def test_read_properties_handles_escapes_continuations_and_separators():
    properties = sh3d.read_properties(PROPERTIES.encode("latin-1"))
    assert properties["name#1"] == "Café chair"
    assert properties["height#1"] == "80"
    assert properties["creator#1"] == "Jane Doe"
    assert properties["license"] == "Creative Commons Attribution 3.0 © Test"
    assert properties["name#4"] == "Corner sofa" and properties["category#4"] == "Living room"
    assert sh3d.read_properties("key=caf\xe9".encode("latin-1"))["key"] == "café"
    assert sh3d.read_properties(b"a\\=b=c\\\\\nx\\ty") == {"a=b": "c\\", "x\ty": ""}


def test_read_catalog_maps_categories_and_excludes_doors(library):
    entries = {entry.id: entry for entry in sh3d.read_catalog(library)}
    assert set(entries) == {"Test#chair", "Test#door", "Test#stuhl", "Test#corner"}
    chair = entries["Test#chair"]
    assert chair.name == "Café chair"  # the English base file, not the _fr one
    assert chair.pix3d_category == "chair"
    assert (chair.width, chair.depth, chair.height) == (40.0, 20.0, 80.0)
    assert chair.model == "lib/chair/chair.obj" and chair.creator == "Jane Doe"
    assert chair.license == "Creative Commons Attribution 3.0 © Test"
    assert chair.model_rotation == ((1, 0, 0), (0, 0, 1), (0, -1, 0))
    assert entries["Test#door"].door_or_window and entries["Test#door"].pix3d_category is None
    assert entries["Test#stuhl"].pix3d_category is None and entries["Test#stuhl"].license == "CC-0"
    assert entries["Test#corner"].pix3d_category == "sofa"


@pytest.mark.parametrize("name, category, expected", [
    ("Bed 140x190", "Bedroom", "bed"), ("Bedside table", "Bedroom", None), ("Bunk bed", "Bedroom", "bed"),
    ("Filled bookcase", "Living room", "bookcase"), ("Vertical shelves", "Living room", "bookcase"),
    ("Armchair", "Office", "chair"), ("Bar stool", "Living room", "chair"), ("Wheelchair", "Miscellaneous", None),
    ("Armchair ottoman", "Living room", None), ("Futon couch", "Living room", "sofa"),
    ("Coffee table", "Living room", "table"), ("Pool table", "Miscellaneous", None), ("Desk", "Office", "desk"),
    ("Wardrobe", "Bedroom", "wardrobe"), ("Stool", "Kitchen", None), ("Piano bench", "Living room", None),
    ("Table lamp", "Lights", None), ("Cafe table", "Exterior", "table"),
])
def test_pix3d_category(name, category, expected):
    assert sh3d.pix3d_category(name, category) == expected


def test_load_entry_mesh_applies_rotation_size_and_canonical_frame(library):
    chair = next(entry for entry in sh3d.read_catalog(library) if entry.id == "Test#chair")
    mesh = sh3d.load_entry_mesh(chair)
    low, high = mesh.bounds
    np.testing.assert_allclose((low + high) / 2, 0, atol=1e-9)
    # rotated (model z -> up) then stretched to width 40 x height 80 x depth 20, longest side 1
    np.testing.assert_allclose(high - low, [0.5, 1.0, 0.25], atol=1e-9)
    colors = mesh.visual.face_colors[:, :3]
    assert len(mesh.faces) == 12
    # the red faces were the model's z = 0 and z = 4 faces: after rotation they face down and up
    red = np.all(colors == [255, 0, 0], axis=1)
    assert red.sum() == 4
    np.testing.assert_allclose(np.abs(mesh.face_normals[red, 1]), 1, atol=1e-9)
    assert np.all(colors[~red] == [0, 255, 0])


def test_find_catalogs_and_iter_catalog_meshes(library, tmp_path):
    (tmp_path / "Scopia.sh3f").write_bytes(library.read_bytes())  # a library we must not use
    assert sh3d.find_catalogs(tmp_path) == [library]
    results = list(sh3d.iter_catalog_meshes([tmp_path]))
    assert [(entry.id, entry.pix3d_category) for entry, _ in results] == [("Test#chair", "chair"), ("Test#corner", "sofa")]
    assert all(mesh.extents.max() == pytest.approx(1.0) for _, mesh in results)
    with pytest.raises(FileNotFoundError):
        sh3d.find_catalogs(tmp_path / "nothing-here")


def test_credits_table(library):
    entries = [entry for entry in sh3d.read_catalog(library) if entry.pix3d_category]
    table = credits_table(entries + entries)
    lines = table.strip().splitlines()
    assert lines[0] == "| Model | Category | Author | Licence | Library |"
    assert len(lines) == 4
    assert "| Café chair | chair | Jane Doe | Creative Commons Attribution 3.0 © Test | KatorLegaz.sh3f |" in lines
    assert credits_table([]) == ""
