"""Reconstructor: one photo -> grid and mesh, batched, seeded, the same for app and command line.

Tests taking `reconstructor` or calling get_reconstructor without weights use the EMBEDDED weights
(recon/weights/); the others build tiny untrained models and save them into a temp folder.
"""

import copy
import numpy as np
import pytest
import torch
from PIL import Image

from recon import Reconstructor, get_reconstructor
from recon.errors import InvalidImageError
from recon.images import RIVAL_DOUBT
from recon.hub import save_weights
from recon.models import CGANGenerator, VoxelVAE
from recon.pipeline import CATEGORIES
from tests.two_pieces import CHAIR_POINT, TABLE_POINT, chair_and_table

TINY = dict(image_size=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)


@pytest.fixture(scope="module", params=["cgan", "vae"])
def reconstructor(request):
    return get_reconstructor(request.param, device="cpu")


@pytest.fixture(scope="module", params=["cgan", "vae"])
def tiny(request, tmp_path_factory):
    """A Reconstructor over a tiny untrained model saved as the app loads weights."""
    torch.manual_seed(0)
    model = {"cgan": CGANGenerator, "vae": VoxelVAE}[request.param](**TINY).eval()
    return Reconstructor(request.param, weights=save_weights(model, tmp_path_factory.mktemp(request.param)),
                         device="cpu")


def two_objects_photo() -> Image.Image:
    """A 120 x 80 photo of a red block on the left and a blue block on the right, on grey."""
    rgb = np.full((80, 120, 3), 200, np.uint8)
    rgb[20:60, 10:40] = (200, 30, 30)
    rgb[30:70, 75:110] = (30, 30, 200)
    return Image.fromarray(rgb)


def test_reconstruction_is_a_grid_and_a_mesh_in_the_canonical_cube(reconstructor, furniture_photo):
    result = reconstructor.reconstruct(furniture_photo)
    D = reconstructor.resolution
    assert result.grid.shape == (D, D, D) and result.grid.dtype == np.float32
    assert result.mesh.faces.shape[0] > 0
    # Surfaces lie between voxel centres, so they reach at most half a voxel past the outer centres.
    assert np.all(np.abs(result.mesh.bounds) <= 0.5 + 0.5 / D)
    assert set(result.timings) == {"preprocess", "forward", "mesh"}
    assert result.prepared.pixels.shape == (3, reconstructor.image_size, reconstructor.image_size)


def test_a_batch_gives_what_each_photo_gives_alone(reconstructor, furniture_photo):
    chair = reconstructor.prepare(furniture_photo)
    mirrored = reconstructor.prepare(Image.open(furniture_photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    together = reconstructor.predict([chair, mirrored])
    alone = [reconstructor.predict([prepared])[0] for prepared in (chair, mirrored)]
    for batched, single in zip(together, alone):  # float32 kernels may sum in another order per batch size
        np.testing.assert_allclose(batched, single, atol=1e-4)
    assert not np.allclose(together[0], together[1])


def test_the_same_seed_gives_the_same_grid(reconstructor, furniture_photo):
    prepared = reconstructor.prepare(furniture_photo)
    first, again = reconstructor.predict([prepared], seed=11)[0], reconstructor.predict([prepared], seed=11)[0]
    np.testing.assert_array_equal(first, again)


def test_the_cgan_latent_changes_the_shape(furniture_photo):
    cgan = get_reconstructor("cgan", device="cpu")
    prepared = cgan.prepare(furniture_photo)
    grids = [cgan.predict([prepared], seed=seed)[0] for seed in range(4)]
    differences = [np.abs(grids[0] - g).mean() for g in grids[1:]]
    assert min(differences) > 1e-4


def test_the_loader_is_cached():
    assert get_reconstructor("vae", device="cpu") is get_reconstructor("vae", device="cpu")


def test_unknown_model_is_a_clear_value_error():
    with pytest.raises(ValueError, match="unknown model"):
        Reconstructor("diffusion")


def test_a_text_file_is_an_invalid_image(tmp_path, tiny):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    with pytest.raises(InvalidImageError):
        tiny.prepare(fake)


def test_random_furniture_is_the_seeded_vae_prior_sample_with_its_mesh():
    from recon.generative_metrics import random_shapes

    vae = get_reconstructor("vae", device="cpu")
    shape = vae.random_furniture(seed=4)
    np.testing.assert_array_equal(shape.grid, random_shapes(vae.network, 1, seed=4)[0])
    assert shape.seed == 4 and shape.mesh.faces.shape[0] > 0
    assert not np.array_equal(shape.grid, vae.random_furniture(seed=5).grid)
    with pytest.raises(ValueError, match="needs the VAE"):
        get_reconstructor("cgan", device="cpu").random_furniture(seed=4)


def test_requests_that_ask_for_a_model_together_share_one_load(tmp_path):
    """Four threads (the server's requests) ask for the same new model at once: it is loaded once
    and all four get that one Reconstructor."""
    import threading

    torch.manual_seed(0)
    weights = str(save_weights(VoxelVAE(**TINY).eval(), tmp_path / "vae"))
    start, got = threading.Barrier(4), []

    def ask():
        start.wait()
        got.append(get_reconstructor("vae", weights=weights, device="cpu"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(got) == 4 and all(r is got[0] for r in got)


# ---------------------------------------------------------------- object finding, box, heads (tiny models)


def test_find_object_gives_a_mask_of_the_photo_size(tiny):
    found = tiny.find_object(two_objects_photo())
    assert found.shape == (80, 120) and found.dtype == bool


class RedFinder:
    """A stand-in mask head that marks exactly the red pixels of its input (pixels in [-1, 1])."""

    def describe(self, batch):
        red = (batch[:, 0] > 0.4) & (batch[:, 1] < -0.4) & (batch[:, 2] < -0.4)
        return {"mask": red.float()}


@pytest.mark.parametrize("size", [(640, 400), (300, 900)])
def test_the_tiled_search_puts_every_pass_back_where_it_looked(tiny, size):
    """A red block in a wide and a tall photo, found by a head that sees red: the averaged map of
    the whole photo and its four tiles lands on the block (misplaced tiles would smear it)."""
    width, height = size
    rgb = np.full((height, width, 3), 190, np.uint8)
    box = (int(width * 0.55), int(height * 0.55), int(width * 0.8), int(height * 0.72))
    rgb[box[1]:box[3], box[0]:box[2]] = (220, 20, 20)
    truth = np.zeros((height, width), bool)
    truth[box[1]:box[3], box[0]:box[2]] = True
    finder = tiny
    original = finder.network, finder.image_size
    try:
        finder.network, finder.image_size = RedFinder(), 128  # the shipped models' input side
        for tiles in (True, False):
            found = finder.find_object(Image.fromarray(rgb), refine=False, tiles=tiles)
            iou = (found & truth).sum() / (found | truth).sum()
            assert found.shape == (height, width) and iou > 0.8, (tiles, iou)
    finally:
        finder.network, finder.image_size = original


@pytest.mark.parametrize("tiles", [True, False])
def test_a_click_picks_the_piece_under_it(tiny, tiles):
    """Two red blocks, found by a head that sees red: a click on either keeps that one, a click
    beside one keeps the nearer, and a click outside the photo is an invalid image."""
    rgb = np.full((300, 480, 3), 190, np.uint8)
    rgb[80:220, 40:180] = (220, 20, 20)
    rgb[100:260, 280:440] = (220, 20, 20)
    photo = Image.fromarray(rgb)
    finder = tiny
    original = finder.network, finder.image_size
    try:
        finder.network, finder.image_size = RedFinder(), 128
        for point, (x0, x1) in (((110, 150), (40, 180)), ((360, 180), (280, 440)), ((240, 170), (280, 440))):
            found = finder.find_object(photo, refine=False, tiles=tiles, point=point)
            columns = np.flatnonzero(found.any(axis=0))
            assert abs(columns[0] - x0) <= 6 and abs(columns[-1] + 1 - x1) <= 6, (point, columns[[0, -1]])
        with pytest.raises(InvalidImageError, match="outside"):
            finder.find_object(photo, point=(480, 10))
        # two like blocks: the finder is unsure which is meant, a click settles it
        assert finder.locate(photo, refine=False, tiles=tiles).rival >= RIVAL_DOUBT
        assert finder.locate(photo, refine=False, tiles=tiles, point=(110, 150)).rival == 0.0
        single = rgb.copy()
        single[100:260, 280:440] = 190
        assert finder.locate(Image.fromarray(single), refine=False, tiles=tiles).rival == 0.0
    finally:
        finder.network, finder.image_size = original


class TwoToneFinder:
    """A stand-in mask head that gives red pixels one probability and orange pixels another."""

    def __init__(self, red: float, orange: float):
        self.red, self.orange = red, orange

    def describe(self, batch):
        warm = (batch[:, 0] > 0.4) & (batch[:, 2] < -0.4)
        red, orange = warm & (batch[:, 1] < -0.4), warm & (batch[:, 1] > -0.2) & (batch[:, 1] < 0.4)
        count = batch.shape[0]
        return {"mask": self.red * red.float() + self.orange * orange.float(),
                "category": torch.full((count, len(CATEGORIES)), 1 / len(CATEGORIES)),
                "azimuth": torch.zeros(count), "elevation": torch.zeros(count)}


@pytest.mark.parametrize("tiles", [True, False])
def test_models_that_find_the_object_together_average_their_heads(tiny, tiles):
    """A block half red, half orange: one head is sure only of the red half, the other only of
    the orange half; each alone keeps its half, the two together (mean 0.6) the whole block."""
    rgb = np.full((240, 320, 3), 190, np.uint8)
    rgb[60:180, 80:160] = (220, 20, 20)
    rgb[60:180, 160:240] = (230, 140, 20)
    photo = Image.fromarray(rgb)
    red, orange = copy.copy(tiny), copy.copy(tiny)  # the fixture's own network stays as it is
    red.network, red.image_size = TwoToneFinder(0.9, 0.3), 128
    orange.network, orange.image_size = TwoToneFinder(0.3, 0.9), 128
    for finder, others, (x0, x1) in ((red, (), (80, 160)), (orange, (), (160, 240)), (red, (orange,), (80, 240))):
        found = finder.find_object(photo, refine=False, tiles=tiles, others=others)
        columns = np.flatnonzero(found.any(axis=0))
        assert abs(columns[0] - x0) <= 6 and abs(columns[-1] + 1 - x1) <= 6, (len(others), columns[[0, -1]])
    x0, _, x1, _ = red.prepare(photo, others=(orange,)).bbox  # the crop around the whole block
    assert abs(x0 - 80) <= 6 and abs(x1 - 240) <= 6, (x0, x1)
    orange.image_size = 64
    with pytest.raises(ValueError, match="one input size"):
        red.find_object(photo, others=(orange,))


def test_a_click_drives_the_crop_with_the_embedded_weights():
    """EMBEDDED weights: two pieces of furniture side by side; a click on either crops that one,
    whatever the finder keeps by itself."""
    photo, chair, _ = chair_and_table()
    vae = get_reconstructor("vae", device="cpu")
    # by itself the finder hesitates between the two, and says so; a click or a box leaves no doubt
    assert vae.locate(photo).rival >= RIVAL_DOUBT and vae.prepare(photo).rival >= RIVAL_DOUBT
    assert vae.prepare(photo, point=CHAIR_POINT).rival == 0.0
    assert vae.prepare(photo, box=(0, 0, 256, 256)).rival == 0.0
    assert vae.prepare(chair).rival < RIVAL_DOUBT  # one piece alone
    for point, side in ((CHAIR_POINT, "left"), (TABLE_POINT, "right")):
        found = vae.find_object(photo, point=point)
        share = found[:, 256:].sum() / max(found.sum(), 1)
        assert found.sum() > 2000 and (share < 0.05 if side == "left" else share > 0.95), (side, share)
        prepared = vae.prepare(photo, point=point)
        assert (prepared.bbox[2] <= 262) if side == "left" else (prepared.bbox[0] >= 250), prepared.bbox
    with pytest.raises(InvalidImageError, match="outside"):
        vae.prepare(photo, point=(-3, 10))


def test_the_user_box_drives_the_crop(tiny):
    photo = two_objects_photo()
    box = (70, 25, 115, 75)  # around the blue block on the right
    prepared = tiny.prepare(photo, box=box)
    x0, y0, x1, y1 = prepared.bbox
    assert box[0] <= x0 < x1 <= box[2] and box[1] <= y0 < y1 <= box[3]
    crop = np.asarray(prepared.crop).reshape(-1, 3).astype(int)
    blue = ((crop[:, 2] > 150) & (crop[:, 0] < 80)).mean()
    red = ((crop[:, 0] > 150) & (crop[:, 2] < 80)).mean()
    assert blue > 0.2 and red == 0  # the crop shows the second object, none of the first
    left = tiny.prepare(photo, box=(5, 15, 45, 65))
    assert left.bbox[2] <= 45 and not np.array_equal(np.asarray(left.crop), np.asarray(prepared.crop))
    clipped = tiny.prepare(photo, box=(100, 40, 300, 200))  # partly outside: cut to the photo
    assert clipped.bbox[2] <= 120 and clipped.bbox[3] <= 80


@pytest.mark.parametrize("box", [(130, 10, 160, 40), (-50, -50, -10, -10), (10, 90, 40, 120)])
def test_a_box_outside_the_photo_is_an_invalid_image(tiny, box):
    with pytest.raises(InvalidImageError, match="outside"):
        tiny.prepare(two_objects_photo(), box=box)


def test_the_alpha_channel_wins_over_the_mask_head(tiny):
    rgba = np.zeros((80, 120, 4), np.uint8)
    rgba[..., :3] = np.asarray(two_objects_photo())
    rgba[30:70, 75:110, 3] = 255  # only the blue block is opaque
    prepared = tiny.prepare(Image.fromarray(rgba))
    assert prepared.bbox == (75, 30, 110, 70)


def test_describe_reads_category_camera_and_mask(tiny):
    prepared = [tiny.prepare(two_objects_photo(), box=box) for box in ((5, 15, 45, 65), (70, 25, 115, 75))]
    readings = tiny.describe(prepared)
    assert len(readings) == 2 and tiny.describe([]) == []
    for reading in readings:
        assert reading.category in CATEGORIES and set(reading.category_scores) == set(CATEGORIES)
        assert sum(reading.category_scores.values()) == pytest.approx(1, abs=1e-4)
        assert reading.category == max(reading.category_scores, key=reading.category_scores.get)
        assert 0 <= reading.azimuth_deg < 360 and np.isfinite(reading.elevation_deg)
        assert reading.mask.shape == (32, 32) and 0 <= reading.mask.min() and reading.mask.max() <= 1


def test_reconstruct_fills_category_and_camera(tiny):
    result = tiny.reconstruct(two_objects_photo(), box=(70, 25, 115, 75), smoothing=None)
    (reading,) = tiny.describe([result.prepared])
    assert result.category == reading.category and result.category_scores == reading.category_scores
    assert result.azimuth_deg == pytest.approx(reading.azimuth_deg)
    assert result.elevation_deg == pytest.approx(reading.elevation_deg)
    assert result.prepared.bbox == (70, 25, 115, 75)


# ---------------------------------------------------------------- the embedded mask head


@pytest.mark.parametrize("category,seed", [("sofa", 5), ("wardrobe", 3)])
def test_embedded_mask_head_finds_the_object(category, seed):
    """EMBEDDED weights: the VAE's mask head finds a procedural piece composited (plain backdrop,
    whole-frame view, photo effects) into a 128-pixel photo. Needs weights trained with the mask head."""
    from train.data.composite import Cutout, compose
    from train.data.procedural import furniture_mesh, generate
    from train.data.render_views import render_view, sample_camera

    rng = np.random.default_rng(seed)
    mesh = furniture_mesh(generate(category, rng))
    camera, _ = sample_camera(rng, mesh.vertices, (128, 128))
    colour, coverage = render_view(mesh, camera, "cutout", rng)
    composite = compose(Cutout(colour, coverage), rng, kind="plain", frame=True, clutter=False)
    assert composite.mask.sum() > 500, "the test photo shows too little of the object"
    found = Reconstructor("vae", device="cpu").find_object(Image.fromarray(composite.rgb))
    iou = (found & composite.mask).sum() / max((found | composite.mask).sum(), 1)
    assert iou > 0.6, f"mask IoU {iou:.2f}"


class CloseUpFinder:
    """A stand-in mask head that sees red only where red fills at least a fifth of its input: like
    the real heads, it misses a small piece in a whole photo and finds it in a close-up."""

    def describe(self, batch):
        red = (batch[:, 0] > 0.4) & (batch[:, 1] < -0.4) & (batch[:, 2] < -0.4)
        large = red.float().mean(dim=(1, 2)) >= 0.2
        count = batch.shape[0]
        return {"mask": red.float() * large[:, None, None],
                "category": torch.full((count, len(CATEGORIES)), 1 / len(CATEGORIES)),
                "azimuth": torch.zeros(count), "elevation": torch.zeros(count)}


def test_a_click_the_search_missed_looks_closer_around_it(tiny):
    """A small red block the whole-photo search misses (3 % of the photo, 9 % of a tile): a click on
    it finds it in a close-up centred on the click; a click on bare wall finds nothing."""
    rgb = np.full((600, 600, 3), 190, np.uint8)
    rgb[300:410, 150:260] = (220, 20, 20)
    truth = np.zeros((600, 600), bool)
    truth[300:410, 150:260] = True
    photo = Image.fromarray(rgb)
    finder = copy.copy(tiny)
    finder.network, finder.image_size = CloseUpFinder(), 128
    assert not finder.find_object(photo, refine=False).any()  # by itself, nothing
    for point in ((205, 355), (160, 400)):  # its middle, near its corner
        found = finder.find_object(photo, point=point, colours=False)
        iou = (found & truth).sum() / (found | truth).sum()
        assert iou > 0.85, (point, iou)
        assert finder.locate(photo, point=point).rival == 0.0
    assert not finder.find_object(photo, point=(500, 80), colours=False).any()


def test_a_piece_is_clear_of_a_crop_edges_only_inside_the_photo():
    from recon.images import clear_of_crop_edges

    piece = np.zeros((100, 100), bool)
    piece[40:60, 40:60] = True
    assert clear_of_crop_edges(piece, (30, 30, 40))  # 10 pixels in from every side
    assert not clear_of_crop_edges(piece, (41, 30, 40))  # the crop cuts its left side
    assert not clear_of_crop_edges(piece, (30, 30, 31))  # and its right side
    corner = np.zeros((100, 100), bool)
    corner[0:10, 0:10] = True
    assert clear_of_crop_edges(corner, (-20, -20, 40))  # the photo's own border does not count
    assert not clear_of_crop_edges(np.zeros((100, 100), bool), (0, 0, 100))
