import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon.voxels import index_to_position, load_pix3d_voxel
from train.data.backgrounds import plain_background, room_background
from train.data.procedural import furniture_mesh, furniture_voxels, generate
from train.data.render_views import (PIX3D_VIEWPOINTS, camera_from_annotation, fit_viewpoints, render_view,
                                     render_views, sample_camera, write_annotations)

SAMPLE = Path(__file__).parent / "fixtures" / "pix3d_annotations_sample.csv"


def _sample_rows():
    with open(SAMPLE, newline="") as handle:
        for row in csv.DictReader(handle):
            yield {"rot_mat": json.loads(row["rot_mat"]), "trans_mat": json.loads(row["trans_mat"]),
                   "focal_length": float(row["focal_length"]),
                   "inplane_rotation": float(row["inplane_rotation"]), "truncated": row["truncated"] == "True"}


def test_viewpoint_constants_are_the_fit_of_pix3d_sample():
    fitted = fit_viewpoints(_sample_rows())
    for name, value in vars(PIX3D_VIEWPOINTS).items():
        assert getattr(fitted, name) == pytest.approx(value, abs=1e-3), name
    # Pix3D photographs the front: the mean camera sits within 20 degrees of +Z, above the object.
    assert abs(fitted.azimuth_mean) < 20 and 5 < fitted.elevation_mean < 30


def test_sample_cameras_reproject_their_own_camera_position():
    for row in list(_sample_rows())[:10]:
        R, t = np.array(row["rot_mat"]), np.array(row["trans_mat"])
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-6)
        assert np.allclose(np.cross(R[1], R[2]), R[0], atol=1e-6)  # x = y cross z: x is image-left


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    rng = np.random.default_rng(0)
    entries, grids = [], {}
    for category in ("chair", "table", "wardrobe"):
        furniture = generate(category, rng)
        grid = furniture_voxels(furniture, 128)
        name = f"test_{category}"
        entries += render_views(root, category, name, furniture_mesh(furniture), grid, 6, rng)
        grids[name] = grid
    write_annotations(root, entries)
    return root, grids


def test_layout_and_fields_follow_pix3d(rendered):
    root, grids = rendered
    entries = json.loads((root / "pix3d.json").read_text())
    assert len(entries) == 18
    sample_fields = set(next(csv.reader(open(SAMPLE)))[1:])
    for entry in entries:
        assert sample_fields <= set(entry)
        assert entry["background"] in ("clean", "room")
        image = Image.open(root / entry["img"])
        mask = np.asarray(Image.open(root / entry["mask"]))
        assert image.mode == "RGB" and image.size == tuple(entry["img_size"]) == (128, 128)
        assert set(np.unique(mask)) <= {0, 255}
        x0, y0, x1, y1 = entry["bbox"]
        rows, cols = np.nonzero(mask)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        camera = np.array(entry["cam_position"])
        assert np.allclose(camera, -np.array(entry["rot_mat"]).T @ np.array(entry["trans_mat"]))
        assert (root / entry["model"]).is_file()
    assert {e["background"] for e in entries} == {"clean", "room"}


def test_voxel_mat_reads_back_through_pix3d_conversion(rendered):
    root, grids = rendered
    for name, grid in grids.items():
        category = name.split("_")[1]
        loaded = load_pix3d_voxel(root / "model" / category / name / "voxel.mat")
        assert np.array_equal(loaded, grid)


def test_rendering_agrees_with_its_own_camera_fields(rendered):
    root, grids = rendered
    for entry in json.loads((root / "pix3d.json").read_text()):
        grid = grids[entry["model"].split("/")[2]]
        camera = camera_from_annotation(entry)
        centres = index_to_position(np.argwhere(grid), 128)
        pixels = np.round(camera.project(centres)).astype(int)
        mask = np.asarray(Image.open(root / entry["mask"])) > 0
        width, height = entry["img_size"]
        visible = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
        pixels = pixels[visible]
        assert mask[pixels[:, 1], pixels[:, 0]].mean() > 0.9
        silhouette = np.zeros_like(mask)
        silhouette[pixels[:, 1], pixels[:, 0]] = True
        iou = (silhouette & mask).sum() / (silhouette | mask).sum()
        assert iou > 0.8, (entry["img"], iou)


def test_pix3d_model_frame_is_ours_turned_about_y(rendered):
    root, _ = rendered
    entry = json.loads((root / "pix3d.json").read_text())[0]
    import trimesh
    model = trimesh.load(root / entry["model"], force="mesh")
    camera = camera_from_annotation(entry)
    # Projecting model.obj's vertices with Pix3D's own formula lands on the mask.
    points = model.vertices @ np.array(entry["rot_mat"]).T + np.array(entry["trans_mat"])
    u = entry["img_size"][0] / 2 - camera.focal_px * points[:, 0] / points[:, 2]
    v = entry["img_size"][1] / 2 - camera.focal_px * points[:, 1] / points[:, 2]
    mask = np.asarray(Image.open(root / entry["mask"])) > 0
    inside = (u >= 0) & (u < 127.5) & (v >= 0) & (v < 127.5)
    hits = mask[np.round(v[inside]).astype(int), np.round(u[inside]).astype(int)]
    assert hits.mean() > 0.85


def test_backgrounds_are_fast_images():
    rng = np.random.default_rng(0)
    room = room_background(96, 128, rng, horizon=20.0)
    plain = plain_background(96, 128, rng)
    assert room.shape == plain.shape == (96, 128, 3) and room.dtype == np.uint8
    assert room.std() > plain.std()  # texture and a floor/wall edge
    assert not np.array_equal(room_background(96, 128, np.random.default_rng(1)), room)


def test_a_cutout_is_the_object_alone_with_its_soft_coverage(tmp_path):
    rng = np.random.default_rng(4)
    furniture = generate("table", rng)
    mesh = furniture_mesh(furniture)
    camera, _ = sample_camera(np.random.default_rng(1), mesh.vertices, (96, 96))
    colour, coverage = render_view(mesh, camera, "cutout", np.random.default_rng(2))
    clean, clean_coverage = render_view(mesh, camera, "clean", np.random.default_rng(2))
    assert colour.shape == (96, 96, 3) and coverage.shape == (96, 96) and coverage.dtype == np.uint8
    assert np.array_equal(coverage, clean_coverage)  # the same object, whatever the background
    assert not colour[coverage == 0].any()  # black where nothing was hit
    assert ((coverage > 0) & (coverage < 255)).any()  # anti-aliased edge
    # inside, the cutout holds the straight colour: the clean render shows it where fully covered,
    # up to the exposure drawn for each render
    full = coverage == 255
    exposure = colour[full].astype(float).sum() / clean[full].astype(float).sum()
    assert 0.7 < exposure < 1.4 and np.abs(colour[full] - exposure * clean[full]).max() <= 4
    entries = render_views(tmp_path, "table", "cut_table", mesh, furniture_voxels(furniture, 128), 3, rng,
                           image_size=64, cutout=True)
    assert len(entries) == 3 and {entry["background"] for entry in entries} == {"cutout"}
    for entry in entries:
        saved = np.asarray(Image.open(tmp_path / entry["mask"]))
        assert len(np.unique(saved)) > 2  # the coverage itself, not a 0/255 mask
        rows, cols = np.nonzero(saved >= 128)  # the box is that of the object (coverage >= 128)
        assert entry["bbox"] == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
