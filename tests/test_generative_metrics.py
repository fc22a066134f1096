"""Crispness, diversity, active units, Fréchet distances and the VAE's random shapes, on small data
with known answers, and the Fréchet voxel distance on real procedural grids."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from recon.errors import InvalidGridError
from recon.generative_metrics import (active_latent_units, crispness, frechet_distance, frechet_voxel_distance,
                                      load_voxel_classifier, pairwise_diversity, random_shapes, voxel_features)
from recon.metrics import voxel_iou
from recon.models import VoxelVAE
from train.data.procedural import CATEGORIES, furniture_voxels, generate


def test_crispness_counts_unsure_active_voxels_per_grid_and_pooled():
    sharp = np.zeros((8, 8, 8), np.float32)
    sharp[:4] = 0.95  # 256 active voxels, all sure
    blurry = np.full((8, 8, 8), 0.1, np.float32)
    blurry[:2] = 0.5  # 128 active, unsure
    blurry[2:4] = 0.9  # 128 active, sure
    result = crispness(np.stack([sharp, blurry]))
    np.testing.assert_allclose(result.per_grid, [0.0, 0.5])
    assert result.pooled == pytest.approx(128 / 512)
    assert crispness(np.zeros((8, 8, 8))).per_grid.tolist() == [0.0]  # nothing active: nothing unsure
    assert crispness(blurry, active=0.05).per_grid[0] == pytest.approx((512 - 128) / 512)
    with pytest.raises(ValueError):
        crispness(sharp, active=0.9, sure=0.8)


def test_pairwise_diversity_known_values_and_slow_reference():
    empty = np.zeros((8, 8, 8))
    half = empty.copy()
    half[:4] = 1
    quarter = empty.copy()
    quarter[:2] = 1
    assert pairwise_diversity(np.stack([half, half, half])) == 0.0
    assert pairwise_diversity(np.stack([empty, empty])) == 0.0
    assert pairwise_diversity(np.stack([half, 1 - half])) == 1.0
    # pairs: half-quarter 1 - 1/2, half-empty 1, quarter-empty 1
    assert pairwise_diversity(np.stack([half, quarter, empty])) == pytest.approx((0.5 + 1 + 1) / 3)
    samples = np.random.default_rng(3).random((5, 16, 16, 16))
    slow = np.mean([1 - voxel_iou(a, b) for a, b in itertools.combinations(samples, 2)])
    assert pairwise_diversity(samples) == pytest.approx(slow)
    with pytest.raises(InvalidGridError):
        pairwise_diversity(half[None])


def test_active_latent_units_counts_dimensions_whose_mean_moves():
    rng = np.random.default_rng(0)
    mu = np.zeros((200, 6))
    mu[:, 0] = rng.normal(0, 1, 200)  # variance ~1: active
    mu[:, 1] = rng.normal(0, 0.3, 200)  # ~0.09: active
    mu[:, 2] = rng.normal(0, 0.05, 200)  # ~0.0025: inactive
    mu[:, 3] = 5.0  # constant offset: inactive
    mu[:, 4] = np.tile([-0.2, 0.2], 100)  # exactly 0.04: active
    assert active_latent_units(mu) == 3
    assert active_latent_units(mu, threshold=0.05) == 2
    with pytest.raises(ValueError):
        active_latent_units(mu[:1])


def test_frechet_distance_of_unit_gaussians_is_the_squared_mean_shift():
    rng = np.random.default_rng(0)
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) + shift
    assert frechet_distance(a, b) == pytest.approx(np.sum(shift ** 2), abs=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # N(0, I) vs N(0, 4 I) in F dims: F (1 + 4 - 2 * 2) = F
    assert frechet_distance(a, 2 * rng.standard_normal((20000, 4))) == pytest.approx(4.0, abs=0.1)


def test_frechet_distance_matches_scipy_sqrtm_and_handles_singular_covariances():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 5)) @ rng.normal(size=(5, 5)), rng.normal(size=(60, 5)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)
    few = rng.normal(size=(10, 64))  # 10 samples of 64 features: rank-9 covariance
    assert frechet_distance(few, few) == pytest.approx(0.0, abs=1e-8)
    assert np.isfinite(frechet_distance(few, rng.normal(size=(12, 64))))
    with pytest.raises(ValueError):
        frechet_distance(a, b[:, :4])


@pytest.fixture(scope="module")
def shapes():
    """Ten real procedural grids per category, 32^3 bool."""
    rng = np.random.default_rng(7)
    return np.stack([furniture_voxels(generate(category, rng), 32) for category in CATEGORIES for _ in range(10)])


@pytest.fixture(scope="module")
def classifier():
    return load_voxel_classifier()


def flipped(grids: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    """Each voxel switched (occupied <-> empty) with probability `rate`."""
    return grids ^ (np.random.default_rng(seed).random(grids.shape) < rate)


def test_frechet_voxel_distance_is_zero_for_one_set_and_grows_with_voxel_flips(shapes, classifier):
    assert frechet_voxel_distance(shapes, shapes, classifier) == pytest.approx(0.0, abs=1e-6)
    distances = [frechet_voxel_distance(flipped(shapes, rate), shapes, classifier) for rate in (0.01, 0.05, 0.2)]
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_frechet_voxel_distance_grows_with_dilation_and_separates_categories(shapes, classifier):
    from scipy.ndimage import binary_dilation

    distances = [frechet_voxel_distance(binary_dilation(shapes, iterations=n, axes=(1, 2, 3)), shapes, classifier)
                 for n in (1, 2, 3)]
    assert distances[0] < distances[1] < distances[2], distances
    chairs, beds = shapes[20:30], shapes[:10]  # CATEGORIES order: bed, bookcase, chair, ...
    other_chairs = np.stack([furniture_voxels(generate("chair", np.random.default_rng(99 + i)), 32) for i in range(10)])
    assert frechet_voxel_distance(other_chairs, chairs, classifier) < frechet_voxel_distance(beds, chairs, classifier)


def test_voxel_features_pool_finer_grids_and_check_shapes(shapes, classifier):
    fine = shapes[:3].repeat(2, 1).repeat(2, 2).repeat(2, 3)  # 64^3, any-pools back to the same grids
    np.testing.assert_allclose(voxel_features(fine, classifier), voxel_features(shapes[:3], classifier))
    assert voxel_features(shapes[:3], classifier).shape == (3, 128)
    with pytest.raises(InvalidGridError):
        voxel_features(np.zeros((2, 48, 48, 48)), classifier)


def test_random_shapes_are_seeded_prior_samples_of_the_vae():
    vae = VoxelVAE(image_size=32, latent_dim=8, feature_dim=16, base_channels=4).eval()
    first = random_shapes(vae, 3, seed=1)
    assert first.shape == (3, 32, 32, 32) and first.dtype == np.float32
    assert 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, random_shapes(vae, 3, seed=1))
    assert not np.allclose(first, random_shapes(vae, 3, seed=2))
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(first, torch.sigmoid(vae.decode(z)).detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError):
        random_shapes(vae, 0, seed=1)
