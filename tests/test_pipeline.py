"""Reconstructor: one photo -> grid and mesh, batched, seeded, the same for app and command line."""

import numpy as np
import pytest
from PIL import Image

from recon import Reconstructor, get_reconstructor
from recon.errors import InvalidImageError


@pytest.fixture(scope="module", params=["cgan", "vae"])
def reconstructor(request):
    return get_reconstructor(request.param, device="cpu")


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
    for batched, single in zip(together, alone):
        np.testing.assert_allclose(batched, single, atol=1e-5)
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


def test_a_text_file_is_an_invalid_image(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    with pytest.raises(InvalidImageError):
        get_reconstructor("vae", device="cpu").prepare(fake)


def test_random_furniture_is_the_seeded_vae_prior_sample_with_its_mesh():
    from recon.generative_metrics import random_shapes

    vae = get_reconstructor("vae", device="cpu")
    shape = vae.random_furniture(seed=4)
    np.testing.assert_array_equal(shape.grid, random_shapes(vae.network, 1, seed=4)[0])
    assert shape.seed == 4 and shape.mesh.faces.shape[0] > 0
    assert not np.array_equal(shape.grid, vae.random_furniture(seed=5).grid)
    with pytest.raises(ValueError, match="needs the VAE"):
        get_reconstructor("cgan", device="cpu").random_furniture(seed=4)
