"""recon.ar: camera from four corners or a reference picture, and placement of a mesh on the plane.

Every scene is synthetic with a known camera: a textured 4 x 3 rectangle on a plane is warped by
its true homography into a 640 x 480 photo, so the recovered camera can be checked exactly.
"""

import json

import cv2
import numpy as np
import pytest
import trimesh
from PIL import Image

from recon.ar import (
    Camera,
    camera_from_corners,
    camera_from_homography,
    camera_to_json,
    corners_from_homography,
    homography_from_reference,
    place,
    placed_mesh,
    render_placement,
)
from recon.errors import DegenerateCornersError, ReferenceNotFoundError

IMAGE_SIZE = (640, 480)
PLANE = (4.0, 3.0)
FOCAL = 500.0


def look_at(centre_uvh, target_uvh, roll_deg):
    """True (R, t) of a camera at centre_uvh looking at target_uvh, world = (u, v, -h)."""
    centre = np.asarray(centre_uvh, float) * [1, 1, -1]
    target = np.asarray(target_uvh, float) * [1, 1, -1]
    forward = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(forward, [0.0, 0.0, -1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    roll = np.radians(roll_deg)
    turn = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    R = turn @ np.stack([right, down, forward])
    return R, -R @ centre


def random_texture(rng, size=(400, 300)):
    """A picture full of corners and blobs for feature detectors (uint8 RGB)."""
    width, height = size
    texture = np.full((height, width, 3), 200, np.uint8)
    for _ in range(120):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.rectangle(
                texture,
                (x, y),
                (x + int(rng.integers(5, 60)), y + int(rng.integers(5, 60))),
                colour,
                -1,
            )
        else:
            cv2.circle(texture, (x, y), int(rng.integers(3, 30)), colour, -1)
    return texture


@pytest.fixture(scope="module")
def scene():
    """Known camera, the reference picture, the photo with it on the plane, and its corners."""
    rng = np.random.default_rng(7)
    K = np.array([[FOCAL, 0, 319.5], [0, FOCAL, 239.5], [0, 0, 1]])
    R, t = look_at((3.0, 6.5, 3.5), (2.0, 1.5, 0.0), roll_deg=5.0)
    camera = Camera(K, R, t, IMAGE_SIZE, PLANE)
    texture = random_texture(rng)
    th, tw = texture.shape[:2]
    texture_to_plane = np.array(
        [
            [PLANE[0] / tw, 0, 0.5 * PLANE[0] / tw],
            [0, PLANE[1] / th, 0.5 * PLANE[1] / th],
            [0, 0, 1],
        ]
    )
    to_image = camera.plane_homography() @ texture_to_plane
    noise = cv2.resize(
        rng.integers(60, 160, (12, 16, 3)).astype(np.uint8),
        IMAGE_SIZE,
        interpolation=cv2.INTER_CUBIC,
    )
    # Warp at 4x and shrink by area, as a lens would blur, so the picture is not aliased.
    fine = np.diag([4.0, 4.0, 1.0]) @ to_image
    fine[:2, 2] += 1.5
    big = (IMAGE_SIZE[0] * 4, IMAGE_SIZE[1] * 4)
    warped = cv2.resize(
        cv2.warpPerspective(texture, fine, big), IMAGE_SIZE, interpolation=cv2.INTER_AREA
    )
    mask = np.ones(texture.shape[:2], np.float32)
    mask = cv2.resize(
        cv2.warpPerspective(mask, fine, big), IMAGE_SIZE, interpolation=cv2.INTER_AREA
    )[..., None]
    photo = (warped * mask + noise * (1 - mask)).astype(np.uint8)
    corners = camera.project(np.array([[0, 0, 0], [4, 0, 0], [4, 3, 0], [0, 3, 0]], float))
    return {"camera": camera, "texture": texture, "photo": photo, "corners": corners}


def rotation_error_deg(R_estimated, R_true):
    cosine = (np.trace(R_estimated.T @ R_true) - 1) / 2
    return np.degrees(np.arccos(np.clip(cosine, -1, 1)))


def off_plane_points(plane_width):
    """The rectangle's corners and centre raised by half its width; the width is plane_width."""
    s = plane_width / PLANE[0]
    return np.array([[0, 0, 2], [4, 0, 2], [4, 3, 2], [0, 3, 2], [2, 1.5, 2]], float) * s


def assert_camera_matches(estimated, truth):
    assert abs(estimated.K[0, 0] - FOCAL) / FOCAL < 0.05
    assert rotation_error_deg(estimated.R, truth.R) < 2.0
    error = estimated.project(off_plane_points(estimated.plane_size[0])) - truth.project(
        off_plane_points(PLANE[0])
    )
    assert np.abs(error).max() < 2.0


def test_camera_from_exact_corners_with_known_size(scene):
    camera = camera_from_corners(scene["corners"], IMAGE_SIZE, plane_size=PLANE)
    assert_camera_matches(camera, scene["camera"])
    assert np.allclose(camera.t, scene["camera"].t, atol=0.05)
    assert np.linalg.det(camera.R) == pytest.approx(1.0)


def test_camera_from_corners_recovers_aspect_ratio(scene):
    camera = camera_from_corners(scene["corners"].tolist(), IMAGE_SIZE)
    assert camera.plane_size[0] == 1.0
    assert camera.plane_size[1] == pytest.approx(0.75, rel=0.02)
    assert_camera_matches(camera, scene["camera"])


def test_camera_with_given_focal_reprojects_clicks(scene):
    camera = camera_from_corners(scene["corners"], IMAGE_SIZE, plane_size=PLANE, focal_px=FOCAL)
    assert camera.K[0, 0] == FOCAL
    corners_uvh = np.array([[0, 0, 0], [4, 0, 0], [4, 3, 0], [0, 3, 0]], float)
    assert np.abs(camera.project(corners_uvh) - scene["corners"]).max() < 0.01
    assert camera.position_uvh[2] == pytest.approx(3.5, rel=0.01)  # the camera is 3.5 units up


def test_camera_tolerates_click_noise(scene):
    rng = np.random.default_rng(0)
    noisy = scene["corners"] + rng.uniform(-1, 1, (4, 2))
    camera = camera_from_corners(noisy, IMAGE_SIZE, plane_size=PLANE)
    assert abs(camera.K[0, 0] - FOCAL) / FOCAL < 0.15
    assert rotation_error_deg(camera.R, scene["camera"].R) < 5.0


def test_camera_from_feature_matching(scene):
    H = homography_from_reference(scene["texture"], Image.fromarray(scene["photo"]))
    reference_size = (scene["texture"].shape[1], scene["texture"].shape[0])
    assert np.abs(corners_from_homography(H, reference_size) - scene["corners"]).max() < 1.5
    camera = camera_from_homography(H, reference_size, IMAGE_SIZE, plane_size=PLANE)
    assert_camera_matches(camera, scene["camera"])
    clicked = camera_from_corners(corners_from_homography(H, reference_size), IMAGE_SIZE)
    assert_camera_matches(clicked, scene["camera"])


def test_feature_matching_with_large_reference_and_orb(scene):
    big = cv2.resize(scene["texture"], (1600, 1200), interpolation=cv2.INTER_CUBIC)
    for detector in ("sift", "orb"):
        H = homography_from_reference(Image.fromarray(big), scene["photo"], detector=detector)
        assert np.abs(corners_from_homography(H, (1600, 1200)) - scene["corners"]).max() < 3.0


def test_flat_reference_is_not_found(scene):
    grey = Image.new("RGB", (300, 200), (128, 128, 128))
    with pytest.raises(ReferenceNotFoundError, match="too few features"):
        homography_from_reference(grey, scene["photo"])


def test_absent_reference_is_not_found(scene):
    other = random_texture(np.random.default_rng(99))
    with pytest.raises(ValueError, match="not found"):
        homography_from_reference(other, scene["photo"])


GOOD = [[100, 100], [500, 120], [520, 400], [90, 380]]


@pytest.mark.parametrize(
    "corners, message",
    [
        (GOOD[:3], "four corners"),
        (GOOD + [[300, 300]], "four corners"),
        ([[100, np.nan], *GOOD[1:]], "NaN"),
        ([[100, 100], [300, 100], [500, 100], [90, 380]], "one line"),
        ([[100, 100], [101, 101], [520, 400], [90, 380]], "same point"),
        ([[100, 100], [520, 400], [500, 120], [90, 380]], "self-crossing"),
        ([[-20, 100], *GOOD[1:]], "outside"),
        ([[100, 100], [500, 120], [520, 490], [90, 380]], "outside"),
        (GOOD[::-1], "counter-clockwise"),
        ([[100, 100], [500, 120], [200, 200], [90, 380]], "convex"),
        ("not corners", "four"),
    ],
)
def test_degenerate_corners_are_rejected(corners, message):
    with pytest.raises(DegenerateCornersError, match=message) as caught:
        camera_from_corners(corners, IMAGE_SIZE)
    assert isinstance(caught.value, ValueError)


def box_mesh(extents, colour=(200, 40, 40)):
    box = trimesh.creation.box(extents=extents)
    box.visual.vertex_colors = np.tile([*colour, 255], (len(box.vertices), 1))
    return box


def hull_mask(points_px):
    mask = np.zeros(IMAGE_SIZE[::-1], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points_px).astype(np.int32)), 1)
    return mask.astype(bool)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("rotation_deg", [0.0, 30.0])
def test_placed_box_stands_where_the_plane_says(scene, rotation_deg):
    camera = scene["camera"]
    # A box 1 wide (X), 0.5 high (Y), 0.25 deep (Z), scaled to width 1.2 and placed at (2, 1.5).
    placed = placed_mesh(
        box_mesh((1.0, 0.5, 0.25)),
        camera,
        scale=1.2,
        rotation_deg=rotation_deg,
        position=(2.0, 1.5),
    )
    alpha = render_placement(placed, camera).alpha
    turn = np.radians(rotation_deg)
    half_x, half_z, height = 0.6, 0.15, 0.6
    footprint = []
    for x, z in [(-half_x, -half_z), (half_x, -half_z), (half_x, half_z), (-half_x, half_z)]:
        footprint.append(
            [2.0 + np.cos(turn) * x + np.sin(turn) * z, 1.5 - np.sin(turn) * x + np.cos(turn) * z]
        )
    footprint = np.array(footprint)
    bottom = np.column_stack([footprint, np.zeros(4)])
    top = np.column_stack([footprint, np.full(4, height)])
    expected = hull_mask(camera.project(np.vstack([bottom, top])))
    assert iou(alpha > 0.5, expected) > 0.95
    # The front bottom corners (largest v, nearest the camera) sit on the silhouette's edge.
    centre = camera.project(np.array([[2.0, 1.5, height / 2]]))[0]
    for corner in camera.project(bottom)[np.argsort(footprint[:, 1])[-2:]]:
        outward = (corner - centre) / np.linalg.norm(corner - centre)
        inside, outside = np.round(corner - 3 * outward).astype(int), np.round(
            corner + 3 * outward
        ).astype(int)
        assert alpha[inside[1], inside[0]] > 0.9
        assert alpha[outside[1], outside[0]] < 0.1


def chair_mesh():
    parts = [((0.9, 0.1, 0.9), (0, 0.0, 0)), ((0.9, 0.9, 0.1), (0, 0.45, -0.4))]
    parts += [((0.1, 0.5, 0.1), (x, -0.3, z)) for x in (-0.4, 0.4) for z in (-0.4, 0.4)]
    meshes = [
        trimesh.creation.box(extents=e, transform=trimesh.transformations.translation_matrix(c))
        for e, c in parts
    ]
    chair = trimesh.util.concatenate(meshes)
    chair.visual.vertex_colors = np.tile([220, 30, 30, 255], (len(chair.vertices), 1))
    return chair


def independent_silhouette(mesh, camera, scale, rotation_deg, position, image_size):
    """Filled projected triangles of the mesh placed by hand and projected with cv2."""
    vertices = np.asarray(mesh.vertices)
    low, high = vertices.min(0), vertices.max(0)
    local = (
        (vertices - [(low[0] + high[0]) / 2, low[1], (low[2] + high[2]) / 2])
        * scale
        / (high[0] - low[0])
    )
    turn = np.radians(rotation_deg)
    u = np.cos(turn) * local[:, 0] + np.sin(turn) * local[:, 2] + position[0]
    v = -np.sin(turn) * local[:, 0] + np.cos(turn) * local[:, 2] + position[1]
    world = np.column_stack([u, v, -local[:, 1]])
    pixels, _ = cv2.projectPoints(world, cv2.Rodrigues(camera.R)[0], camera.t, camera.K, None)
    pixels = pixels.reshape(-1, 2)
    mask = np.zeros(image_size[::-1], np.uint8)
    shift = 4  # fillPoly's fixed point bits, so sub-pixel vertices are not rounded away
    triangles = np.round(pixels[mesh.faces] * (1 << shift)).astype(np.int32)
    for triangle in triangles:  # one by one: fillPoly on a list would cancel overlaps (even-odd)
        cv2.fillPoly(mask, [triangle], 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


@pytest.mark.parametrize("photo_scale", [1, 2])
def test_composite_matches_independent_projection(scene, photo_scale):
    camera = scene["camera"]
    size = (IMAGE_SIZE[0] * photo_scale, IMAGE_SIZE[1] * photo_scale)
    blue = Image.new("RGB", size, (0, 0, 255))
    chair = chair_mesh()
    composite = place(
        blue, chair, camera, scale=1.5, rotation_deg=20.0, position=(2.2, 1.4), shadow_strength=0.0
    )
    assert composite.mode == "RGB" and composite.size == size
    changed = np.abs(np.asarray(composite, float) - [0, 0, 255]).sum(2) > 60
    scaled = Camera(
        np.diag([photo_scale, photo_scale, 1.0]) @ camera.K, camera.R, camera.t, size, PLANE
    )
    scaled.K[:2, 2] += 0.5 * photo_scale - 0.5
    expected = independent_silhouette(chair, scaled, 1.5, 20.0, (2.2, 1.4), size)
    assert iou(changed, expected) > 0.9


def test_place_adds_contact_shadow_and_follows_scene_light(scene):
    camera = scene["camera"]
    photo = Image.fromarray(scene["photo"])
    box = box_mesh((1.0, 1.0, 1.0), colour=(180, 180, 180))
    with_shadow = np.asarray(place(photo, box, camera, scale=1.0), float)
    without = np.asarray(place(photo, box, camera, scale=1.0, shadow_strength=0.0), float)
    darkening = (without - with_shadow).sum(2)
    # The box covers u in [1.5, 2.5], v in [1, 2]: just in front of its front edge is in shadow,
    # a box-width away is not.
    near = np.round(camera.project(np.array([[2.0, 2.05, 0.0]]))[0]).astype(int)
    away = np.round(camera.project(np.array([[2.0, 3.0, 0.0]]))[0]).astype(int)
    assert darkening[near[1], near[0]] > 0.15 * without[near[1], near[0]].sum()
    assert darkening[away[1], away[0]] == 0
    assert darkening.min() >= 0  # a shadow only ever darkens
    alpha = render_placement(placed_mesh(box, camera, scale=1.0), camera).alpha
    dark = np.asarray(place(Image.new("RGB", IMAGE_SIZE, (30, 30, 30)), box, camera), float)
    bright = np.asarray(place(Image.new("RGB", IMAGE_SIZE, (220, 220, 220)), box, camera), float)
    inside = alpha > 0.99
    assert dark[inside].mean() < bright[inside].mean() * 0.6


def test_bad_placement_arguments_are_rejected(scene):
    box = box_mesh((1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="scale"):
        placed_mesh(box, scene["camera"], scale=-1.0)
    with pytest.raises(ValueError, match="position"):
        placed_mesh(box, scene["camera"], position=(np.nan, 1.0))
    with pytest.raises(ValueError, match="no faces"):
        place(Image.new("RGB", IMAGE_SIZE), trimesh.Trimesh(), scene["camera"])


def test_camera_to_json_round_trips(scene):
    camera = camera_from_corners(scene["corners"], IMAGE_SIZE, plane_size=PLANE)
    data = json.loads(json.dumps(camera_to_json(camera)))
    assert (
        np.allclose(data["K"], camera.K)
        and np.allclose(data["R"], camera.R)
        and np.allclose(data["t"], camera.t)
    )
    assert data["image_size"] == list(IMAGE_SIZE) and data["plane_size"] == list(PLANE)
