"""recon.colors: colours of a rendered, painted object come back onto its mesh, sides not swapped."""


import numpy as np
import pytest
import trimesh
from PIL import Image

from recon.colors import NEUTRAL_COLOR, color_mesh, photo_vertex_colors, project_to_crop
from recon.images import prepare_image
from recon.render import render_mesh

RED, BLUE, TEAL = (220, 40, 30), (30, 60, 220), (40, 150, 160)
AZIMUTH, ELEVATION = 35.0, 20.0


def table_mesh() -> trimesh.Trimesh:
    """A table in the canonical cube (longest side 1, centred): a top on four thin legs, finely
    subdivided so colours have many vertices to land on."""
    parts = [trimesh.creation.box([1.0, 0.1, 0.6], trimesh.transformations.translation_matrix([0, 0.25, 0]))]
    for x in (-0.42, 0.42):
        for z in (-0.22, 0.22):
            parts.append(trimesh.creation.box([0.08, 0.5, 0.08],
                                              trimesh.transformations.translation_matrix([x, -0.05, z])))
    mesh = trimesh.util.concatenate(parts)
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.03)
    return trimesh.Trimesh(vertices, faces)


def painted(mesh, color_of_vertex) -> trimesh.Trimesh:
    copy = mesh.copy()
    rgb = np.array([color_of_vertex(v) for v in copy.vertices], dtype=np.uint8)
    copy.visual = trimesh.visual.ColorVisuals(copy, vertex_colors=np.column_stack([rgb, np.full(len(rgb), 255)]))
    return copy


def look_at_camera(azimuth_deg, elevation_deg, distance=3.0, size=256, focal=480.0):
    """OpenCV (K, R, t) of a camera placed as DESIGN.md says, built here independently of
    recon.viewpoint: centre at distance * (sin az cos el, sin el, cos az cos el), looking at 0."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    centre = distance * np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    forward = -centre / distance
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
    return K, R, -R @ centre


def photo_of(mesh, azimuth_deg, elevation_deg, size=256):
    """An unshaded render on white (ambient 1: the paint's exact colour) and its prepared crop."""
    K, R, t = look_at_camera(azimuth_deg, elevation_deg, size=size)
    rendering = render_mesh(mesh, K, R, t, (size, size), ambient=1.0)
    alpha = rendering.alpha[..., None]
    rgb = (255 * rendering.colour * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return rgb, prepare_image(Image.fromarray(rgb), size=128, mask=rendering.alpha >= 0.5)


def transfer(mesh, prepared, azimuth_deg, elevation_deg):
    return photo_vertex_colors(mesh, np.asarray(prepared.crop), prepared.mask, azimuth_deg, elevation_deg)


def close_to(colors, rgb, tolerance=60.0):
    return np.linalg.norm(colors[:, :3].astype(float) - np.array(rgb), axis=1) < tolerance


def split_colour(vertex):
    return RED if vertex[0] < 0 else BLUE


def test_the_test_camera_puts_the_objects_left_half_on_the_images_left():
    rgb, _ = photo_of(painted(table_mesh(), split_colour), 0.0, 0.0)
    row = rgb[128]
    object_columns = np.flatnonzero(row.min(axis=1) < 250)
    left, right = row[object_columns[0] + 3], row[object_columns[-1] - 3]
    assert left[0] > 150 and left[2] < 100  # red on the image's left (x < 0)
    assert right[2] > 150 and right[0] < 100


def test_one_colour_object_comes_back_that_colour():
    mesh = table_mesh()
    _, prepared = photo_of(painted(mesh, lambda v: TEAL), AZIMUTH, ELEVATION)
    colors = transfer(mesh, prepared, AZIMUTH, ELEVATION)
    assert colors.shape == (len(mesh.vertices), 4) and colors.dtype == np.uint8
    assert close_to(colors, TEAL).mean() > 0.95  # no white background bled in


def test_left_and_right_halves_are_not_swapped():
    mesh = table_mesh()
    _, prepared = photo_of(painted(mesh, split_colour), AZIMUTH, ELEVATION)
    x, y, z = mesh.vertices.T
    # Faces a camera at azimuth 35, elevation 20 surely sees: the top, the front, the +X end.
    seen = (y > y.max() - 1e-6) | ((z > 0.299) & (y > 0.19))
    plus_x_end = (x > 0.499) & (y > 0.19)
    colors = transfer(mesh, prepared, AZIMUTH, ELEVATION)
    assert close_to(colors[seen & (x < -0.05)], RED).mean() > 0.9
    assert close_to(colors[seen & (x > 0.05)], BLUE).mean() > 0.9
    assert close_to(colors[plus_x_end], BLUE).mean() > 0.9
    # A mirrored azimuth thinks the camera saw the -X end and paints the +X end from its twin:
    # the last check catches it.
    mirrored = transfer(mesh, prepared, -AZIMUTH, ELEVATION)
    assert close_to(mirrored[plus_x_end], BLUE).mean() < 0.5


def test_hidden_side_takes_its_mirror_twins_colour():
    mesh = table_mesh()
    _, prepared = photo_of(painted(mesh, split_colour), AZIMUTH, ELEVATION)
    colors = transfer(mesh, prepared, AZIMUTH, ELEVATION)
    # The -X end's outer face is turned away from a camera at azimuth 35: it was never seen, and
    # its twin (the +X end, seen) is blue. Mirroring copies colour, so that face comes out blue;
    # the check is that it is filled from a seen vertex, not left neutral grey.
    end = mesh.vertices[:, 0] < -0.499
    assert end.any() and not close_to(colors[end], NEUTRAL_COLOR[:3], 5).any()


def test_projection_fits_the_mask_box():
    mesh = table_mesh()
    mask = np.zeros((128, 128), bool)
    mask[20:100, 30:90] = True
    pixels = project_to_crop(mesh.vertices, mask, AZIMUTH, ELEVATION)
    np.testing.assert_allclose(pixels.min(axis=0), [29.5, 19.5])
    np.testing.assert_allclose(pixels.max(axis=0), [89.5, 99.5])


def test_empty_mask_gives_neutral_colour():
    mesh = table_mesh()
    colors = photo_vertex_colors(mesh, np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), bool), 0, 15)
    assert (colors == NEUTRAL_COLOR).all()


def test_color_mesh_modes():
    mesh = painted(table_mesh(), lambda v: (10, 10, 10))
    _, prepared = photo_of(painted(mesh, lambda v: TEAL), 0.0, 15.0)
    assert color_mesh(mesh, prepared, colors="plain") is mesh
    photo = color_mesh(mesh, prepared)  # no viewpoint: the default (front, 15 degrees above)
    assert close_to(photo.visual.vertex_colors, TEAL).mean() > 0.9
    assert (mesh.visual.vertex_colors[:, :3] == 10).all()  # the input is left as it was
    with pytest.raises(ValueError, match="photo, plain"):
        color_mesh(mesh, prepared, colors="rainbow")


@pytest.mark.parametrize("azimuth, elevation, words", [
    (0, 15, "seen from the front, 15° above"),
    (35, 20, "seen from 35° right of front, 20° above"),
    (325, 20, "seen from 35° left of front, 20° above"),
    (-35, -5, "seen from 35° left of front, 5° below"),
    (180, 0, "seen from behind, at its height"),
    (90.4, 10, "seen from 90° right of front, 10° above"),
])
def test_viewpoint_words(azimuth, elevation, words):
    from recon.viewpoint import describe_viewpoint

    assert describe_viewpoint(azimuth, elevation) == words


def test_image_axes_follow_design_md():
    from recon.viewpoint import image_axes

    right, up, toward = image_axes(90, 0)  # camera on +X: it sees the front (+Z) on its left
    np.testing.assert_allclose(toward, [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(right, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(up, [0, 1, 0], atol=1e-12)


def test_photo_colours_survive_glb_and_the_ar_composite(tmp_path):
    import json
    from pathlib import Path

    from recon import ar
    from recon.mesh import export_mesh, load_mesh

    mesh = table_mesh()
    _, prepared = photo_of(painted(mesh, lambda v: TEAL), AZIMUTH, ELEVATION)
    coloured = color_mesh(mesh, prepared, AZIMUTH, ELEVATION)
    loaded = load_mesh(export_mesh(coloured, tmp_path / "table.glb"))
    assert close_to(loaded.visual.vertex_colors, TEAL).mean() > 0.9
    scenes = Path(__file__).resolve().parents[1] / "examples" / "scenes"
    scene = Image.open(scenes / "room.jpg").convert("RGB")
    camera = ar.camera_from_corners(np.array(json.loads((scenes / "room.json").read_text())), scene.size,
                                    plane_size=(0.21, 0.297))
    composite = np.asarray(ar.place(scene, loaded, camera, scale=0.5), dtype=float)
    changed = np.abs(composite - np.asarray(scene, dtype=float)).sum(axis=2) > 60
    red, green, blue = composite[changed].mean(axis=0)
    assert changed.sum() > 500 and green > red + 20 and blue > red + 20  # teal, not grey or warm
