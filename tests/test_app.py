"""The real app on a local port, driven through gradio_client with real files (DESIGN.md's App API)."""

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import trimesh
from PIL import Image

from recon.mesh import load_mesh
from tests.two_pieces import CHAIR_POINT, TABLE_POINT, chair_and_table

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FURNITURE = sorted((ROOT / "examples" / "furniture").glob("*.jpg"))
SCENE = ROOT / "examples" / "scenes" / "room.jpg"
REFERENCE = ROOT / "examples" / "scenes" / "room-reference.png"
TRUE_CORNERS = json.loads((ROOT / "examples" / "scenes" / "room.json").read_text())
SHEET_SCENE = ROOT / "examples" / "scenes" / "room-sheet.jpg"  # a plain A4 sheet (scripts/make_sheet_scene.py)
SHEET_CORNERS = json.loads((ROOT / "examples" / "scenes" / "room-sheet.json").read_text())


@pytest.fixture(scope="module")
def client(server):
    return Client(server[1], verbose=False)


@pytest.fixture(scope="module")
def reconstruction(client):
    """The default /reconstruct result for the first example photo."""
    return client.predict(handle_file(str(FURNITURE[0])), api_name="/reconstruct")


def test_examples_cover_every_category():
    categories = {path.stem.split("-")[0] for path in FURNITURE}
    assert categories == {"bed", "bookcase", "chair", "desk", "sofa", "table", "wardrobe"}
    assert len(FURNITURE) >= 8
    total = sum(p.stat().st_size for p in (ROOT / "examples").rglob("*") if p.is_file())
    assert total < 2_000_000


def test_api_lists_the_documented_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/reconstruct", "/place", "/interpolate", "/find_reference", "/find_sheet",
            "/random_furniture"} <= endpoints
    assert not {"/add_corner", "/pick_mesh", "/randomize_seed", "/show_scene"} & endpoints


def test_reconstruct_returns_two_glb_meshes_and_downloads(reconstruction):
    cgan_glb, vae_glb, preview_image, cgan_info, vae_info, cgan_files, vae_files = reconstruction[:7]
    for glb in (cgan_glb, vae_glb):
        assert glb.endswith(".glb")
        mesh = trimesh.load(glb, force="mesh")
        assert len(mesh.faces) > 0
        assert np.abs(mesh.bounds).max() <= 0.51  # canonical cube
    assert Image.open(preview_image).size[0] == 2 * Image.open(preview_image).size[1]
    assert "cGAN" in cgan_info and " s " in cgan_info and "voxels" in cgan_info
    assert "VAE" in vae_info
    for files in (cgan_files, vae_files):
        suffixes = {Path(f).suffix for f in files}
        assert suffixes == {".glb", ".usdz", ".ply", ".stl", ".obj", ".json", ".mat", ".npy"}
        details = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
        assert set(details) == {"category", "category_scores", "azimuth_deg", "elevation_deg", "size_m"}
        glb = load_mesh(next(f for f in files if f.endswith(".glb")))
        assert len(np.unique(glb.visual.vertex_colors[:, :3], axis=0)) > 50  # coloured from the photo
        mat = next(f for f in files if f.endswith(".mat"))
        voxel = scipy.io.loadmat(mat)["voxel"]
        assert voxel.dtype == np.uint8 and voxel.shape == (64, 64, 64)
        npy = np.load(next(f for f in files if f.endswith(".npy")))
        assert npy.shape == (64, 64, 64) and 0 <= npy.min() and npy.max() <= 1
        assert ((npy >= 0.5) == voxel.astype(bool)).all()


def test_reconstruct_options_seeded_samples_are_repeatable(client):
    args = dict(level=0.4, resolution=32, smoothing="none", seed=5, samples=3, vae_mode="sampled",
                api_name="/reconstruct")
    first = client.predict(handle_file(str(FURNITURE[1])), **args)
    again = client.predict(handle_file(str(FURNITURE[1])), **args)
    assert "seed 5" in first[3] and "3 samples" in first[3] and "seed 5" in first[4]
    assert "Another piece" not in first[3] + first[4]  # one piece alone: the finder has no doubt
    for one, two in zip(first[5] + first[6], again[5] + again[6]):
        if one.endswith(".npy"):
            np.testing.assert_array_equal(np.load(one), np.load(two))
            assert np.load(one).shape == (32, 32, 32)


def test_the_cgan_at_z0_ignores_the_seed_and_a_bad_mode_is_refused(client):
    """cgan_mode "zero": the cGAN's most likely shape, the same grid whatever the seed; "sampled"
    (the default) draws with the seed, so two seeds differ."""
    args = dict(level=0.5, resolution=32, smoothing="none", api_name="/reconstruct")
    photo = handle_file(str(FURNITURE[1]))
    grids = {}
    for mode, seed in (("zero", 1), ("zero", 2), ("sampled", 1), ("sampled", 2)):
        result = client.predict(photo, seed=seed, samples=2, cgan_mode=mode, **args)
        grids[mode, seed] = np.load(next(f for f in result[5] if f.endswith(".npy")))
        assert ("z = 0" in result[3]) == (mode == "zero") and ("2 samples" in result[3]) == (mode == "sampled")
    np.testing.assert_array_equal(grids["zero", 1], grids["zero", 2])
    assert not np.array_equal(grids["sampled", 1], grids["sampled", 2])
    with pytest.raises(AppError, match="sampled.*zero"):  # Gradio names the choices
        client.predict(photo, cgan_mode="mode", **args)


def test_a_drawn_box_drives_the_crop(client, tmp_path):
    """Two pieces side by side: a box around the right one crops it, whatever the models would find."""
    left, right = Image.open(FURNITURE[0]).convert("RGB"), Image.open(FURNITURE[1]).convert("RGB")
    side = 256
    scene = Image.new("RGB", (2 * side, side), "white")
    scene.paste(left.resize((side, side)), (0, 0))
    scene.paste(right.resize((side, side)), (side, 0))
    path = tmp_path / "two-pieces.png"
    scene.save(path)
    boxed = client.predict(handle_file(str(path)), box=json.dumps([side, 0, 2 * side, side]), api_name="/reconstruct")
    preview = np.asarray(Image.open(boxed[2]).convert("RGB"), np.float32)
    crop = preview[:, : preview.shape[0]]  # left half of the preview: the crop the models saw
    expected = np.asarray(right.resize((crop.shape[1], crop.shape[0])), np.float32)
    other = np.asarray(left.resize((crop.shape[1], crop.shape[0])), np.float32)
    # the crop shows the boxed piece (with a margin), not the other one
    assert np.abs(crop - expected).mean() < np.abs(crop - other).mean()
    with pytest.raises(AppError, match="crop box"):
        client.predict(handle_file(str(path)), box="[1, 2, 3]", api_name="/reconstruct")
    with pytest.raises(AppError, match="crop box"):
        client.predict(handle_file(str(path)), box=json.dumps([900, 900, 950, 950]), api_name="/reconstruct")


def test_a_point_on_the_object_picks_what_is_cropped(client, tmp_path):
    """A chair and a table side by side: a point [x, y] on either crops that one."""
    scene, chair, table = chair_and_table()
    path = tmp_path / "chair-and-table.png"
    scene.save(path)
    for point, shown, other in ((CHAIR_POINT, chair, table), (TABLE_POINT, table, chair)):
        result = client.predict(handle_file(str(path)), box=json.dumps(point), api_name="/reconstruct")
        preview = np.asarray(Image.open(result[2]).convert("RGB"), np.float32)
        crop = preview[:, : preview.shape[0]]
        size = (crop.shape[1], crop.shape[0])
        assert np.abs(crop - np.asarray(shown.resize(size), np.float32)).mean() < \
            np.abs(crop - np.asarray(other.resize(size), np.float32)).mean(), point
        assert result[0] and result[1]
        assert "Another piece" not in result[3] + result[4]  # the click said which one
    by_itself = client.predict(handle_file(str(path)), api_name="/reconstruct")
    for info in by_itself[3:5]:  # the finder hesitated between the two: both models' notes ask for a click
        assert "Another piece in the photo looked almost as likely" in info and "click on the piece" in info, info
    with pytest.raises(AppError, match="outside the 512x256 photo"):
        client.predict(handle_file(str(path)), box="[600, 10]", api_name="/reconstruct")
    with pytest.raises(AppError, match="crop box"):
        client.predict(handle_file(str(path)), box="[10, NaN]", api_name="/reconstruct")


def test_interpolate_gives_an_animation_and_a_strip(client):
    gif, strip = client.predict(handle_file(str(FURNITURE[0])), handle_file(str(FURNITURE[-1])), 4,
                                api_name="/interpolate")
    with Image.open(gif) as animation:
        assert animation.n_frames > 4
    assert Image.open(strip).size[0] >= 2 * Image.open(strip).size[1]


def test_random_furniture_returns_the_seeded_vae_prior_sample_as_a_mesh(client):
    glb, info = client.predict(api_name="/random_furniture")  # every input has a default (seed 0)
    assert glb.endswith(".glb") and "seed 0" in info
    first, again = (client.predict(7, api_name="/random_furniture") for _ in range(2))
    assert "seed 7" in first[1]
    meshes = [trimesh.load(path, force="mesh") for path in (glb, first[0], again[0])]
    assert all(len(mesh.faces) > 0 and np.abs(mesh.bounds).max() <= 0.51 for mesh in meshes)
    np.testing.assert_allclose(meshes[1].vertices, meshes[2].vertices)  # same seed, same shape
    assert meshes[0].vertices.shape != meshes[1].vertices.shape or not np.allclose(meshes[0].vertices,
                                                                                   meshes[1].vertices)
    with pytest.raises(AppError, match="Seed"):
        client.predict(2**40, api_name="/random_furniture")
    assert client.predict(1, api_name="/random_furniture")[0].endswith(".glb")  # still serving


def test_place_composites_at_the_scene_size(client, reconstruction):
    composite, files = client.predict(handle_file(str(SCENE)), json.dumps(TRUE_CORNERS),
                                      handle_file(reconstruction[0]), api_name="/place")
    with Image.open(SCENE) as scene, Image.open(composite) as result:
        assert result.size == scene.size
        assert composite.endswith(".png")
        difference = np.abs(np.asarray(result.convert("RGB"), float) - np.asarray(scene.convert("RGB"), float))
        assert (difference.sum(axis=2) > 30).mean() > 0.002  # the model is visible
    camera = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert np.asarray(camera["K"]).shape == (3, 3)


def test_place_accepts_obj_and_options(client, reconstruction):
    obj = next(f for f in reconstruction[5] if f.endswith(".obj"))
    composite, _ = client.predict(handle_file(str(SCENE)), json.dumps(TRUE_CORNERS), handle_file(obj),
                                  "Unknown", 50, 50, 2.0, 45, 0.2, 0.8, api_name="/place")
    assert Image.open(composite).size == Image.open(SCENE).size


def test_find_reference_locates_the_sheet(client):
    corners_json, _ = client.predict(handle_file(str(SCENE)), handle_file(str(REFERENCE)),
                                        api_name="/find_reference")
    np.testing.assert_allclose(json.loads(corners_json), TRUE_CORNERS, atol=4)


def test_find_sheet_locates_the_plain_sheet_and_its_corners_place_a_mesh(client, reconstruction):
    corners_json, marked = client.predict(handle_file(str(SHEET_SCENE)), "A4", api_name="/find_sheet")
    np.testing.assert_allclose(json.loads(corners_json), SHEET_CORNERS, atol=1.5)
    assert Image.open(marked).size == Image.open(SHEET_SCENE).size
    composite, _ = client.predict(handle_file(str(SHEET_SCENE)), corners_json, handle_file(reconstruction[0]),
                                  api_name="/place")
    assert Image.open(composite).size == Image.open(SHEET_SCENE).size


def test_find_sheet_without_a_sheet_gives_no_corners(client):
    corners_json, _ = client.predict(handle_file(str(FURNITURE[0])), "Letter", api_name="/find_sheet")
    assert corners_json == ""


def _bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    text = folder / "notes.png"
    text.write_text("this is not an image")
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(FURNITURE[0].read_bytes()[:300])
    fake_mesh = folder / "fake.glb"
    fake_mesh.write_text("not a mesh")
    return text, empty, truncated, fake_mesh


def test_bad_inputs_give_clear_errors_and_the_server_keeps_serving(client, tmp_path_factory, reconstruction):
    text, empty, truncated, fake_mesh = _bad_files(tmp_path_factory)
    good_mesh = handle_file(reconstruction[0])
    scene = handle_file(str(SCENE))
    corners = json.dumps(TRUE_CORNERS)
    cases = [
        ("/reconstruct", (handle_file(str(text)),), "not an image"),
        ("/reconstruct", (handle_file(str(empty)),), "empty"),
        ("/reconstruct", (handle_file(str(truncated)),), ""),
        ("/reconstruct", (handle_file(str(FURNITURE[0])), "nan"), "Iso level"),
        ("/reconstruct", (handle_file(str(FURNITURE[0])), 0.5, 64, "taubin", 0, 1e9), "maximum"),
        ("/place", (scene, "not json", good_mesh), "JSON"),
        ("/place", (scene, "[[1, 2], [3, 4], [5, 6]]", good_mesh), "four corners"),
        ("/place", (scene, "[[10, 10], [20, 20], [30, 30], [40, 40]]", good_mesh), ""),
        ("/place", (scene, "[[10, 10], [9000, 10], [9000, 90], [10, 90]]", good_mesh), "inside the photo"),
        ("/place", (scene, corners, None), "No mesh"),
        ("/place", (scene, corners, handle_file(str(fake_mesh))), ""),
        ("/place", (scene, corners, good_mesh, "A4", 50, 50, "inf"), "width"),
        ("/place", (handle_file(str(text)), corners, good_mesh), "not an image"),
        ("/find_reference", (scene, handle_file(str(empty))), "empty"),
        ("/find_sheet", (scene, "Custom"), "A4 or Letter"),
        ("/find_sheet", (handle_file(str(text)), "A4"), "not an image"),
    ]
    for api_name, args, expected in cases:
        with pytest.raises(Exception) as caught:
            client.predict(*args, api_name=api_name)
        message = str(caught.value)
        assert "upstream Gradio app has raised an exception" not in message, (api_name, args, message)
        assert expected.lower() in message.lower(), (api_name, args, message)
    # Still serving.
    assert Path(client.predict(handle_file(str(FURNITURE[2])), api_name="/reconstruct")[0]).is_file()


def test_about_tab_cards_have_no_unreachable_images_and_carry_the_evaluation():
    import app

    for kind in ("cgan", "vae"):
        card = app._model_card(kind)
        assert "![" not in card and "## Evaluation" in card and "silhouette retrieval" in card
    summary, details = app._evaluation_sections()
    assert "Against the targets" in summary and "How it was measured" not in summary
    assert details.startswith("## How it was measured") and "silhouette retrieval" in details
    assert len(app._training_curves()) == 2


def test_object_words_and_ar_defaults():
    import app

    assert app.object_words("chair", 35, 20) == "chair, seen from 35° right of front, 20° above"
    assert app.object_words("sofa", None, None) == "sofa"
    assert app.object_words(None, None, None) == ""
    size = {"size_m": [0.45, 0.9, 0.5], "azimuth_deg": 35.0}
    assert app.ar_defaults(size) == (0.45, -35.0)  # turned back as the photo showed it
    assert app.ar_defaults({**size, "azimuth_deg": 330.0}) == (0.45, 30.0)
    assert app.ar_defaults({**size, "azimuth_deg": None}) == (0.45, 0.0)


def test_about_tab_credits_are_compact():
    import app

    summary = app._credits_summary()
    assert "BlendSwap-CC-BY" in summary and "models by" in summary
    assert summary.count("\n") < 12  # a line per library, not a row per model
    for kind in ("cgan", "vae"):
        assert "| Armchair |" not in app._model_card(kind)
