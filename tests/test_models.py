"""Shapes, sampling, save/reload and one training step of the cGAN and VAE models."""

import pytest
import torch
import torch.nn.functional as F

from recon.hub import save_weights
from recon.models import CGANDiscriminator, CGANGenerator, VoxelVAE

SMALL = dict(image_size=32, latent_dim=8, feature_dim=16, base_channels=4)  # fast to build and run


def images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
@pytest.mark.parametrize("resolution", [32, 64])
def test_reconstruct_gives_probability_grids(model_class, resolution):
    model = model_class(resolution=resolution).eval()
    grids = model.reconstruct(images(2, 128))
    assert grids.shape == (2, resolution, resolution, resolution)
    assert grids.dtype == torch.float32
    assert 0 <= grids.min() and grids.max() <= 1
    assert (model.resolution, model.image_size) == (resolution, 128)
    assert not grids.requires_grad


@pytest.mark.parametrize("resolution", [32, 64])
def test_forward_shapes(resolution):
    x = images(2, 32)
    generator = CGANGenerator(resolution=resolution, **SMALL)
    logits = generator(x, torch.randn(2, 8))
    assert logits.shape == (2, resolution, resolution, resolution)
    scores = CGANDiscriminator(32, resolution, feature_dim=16, base_channels=4)(torch.sigmoid(logits), x)
    assert scores.shape == (2,)
    logits, mu, logvar = VoxelVAE(resolution=resolution, **SMALL)(x)
    assert logits.shape == (2, resolution, resolution, resolution)
    assert mu.shape == logvar.shape == (2, 8)


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_sampling_is_seeded_and_noise_matters(model_class):
    model = model_class(**SMALL).eval()
    x = images(2, 32)
    first = model.reconstruct(x, torch.Generator().manual_seed(1))
    assert torch.equal(first, model.reconstruct(x, torch.Generator().manual_seed(1)))
    assert not torch.allclose(first, model.reconstruct(x, torch.Generator().manual_seed(2)))
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))  # no generator: deterministic mode


def test_vae_without_generator_decodes_the_mean():
    model = VoxelVAE(**SMALL).eval()
    x = images(1, 32)
    mu, _ = model.encode(x)
    assert torch.allclose(model.reconstruct(x, mirror=False), torch.sigmoid(model.decode(mu)))


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_reconstruct_averages_with_the_mirrored_photo_along_x(model_class):
    model = model_class(**SMALL).eval()
    x = images(2, 32)
    flipped = torch.flip(x, dims=[3])  # photo left-right
    single = model.reconstruct(x, mirror=False)
    expected = (single + torch.flip(model.reconstruct(flipped, mirror=False), dims=[1])) / 2  # back along i (+X)
    assert torch.allclose(model.reconstruct(x), expected, atol=1e-6)
    assert not torch.allclose(single, expected, atol=1e-4)  # the mirrored pass changes something
    # Mirroring the photo mirrors the averaged grid along X exactly.
    assert torch.allclose(model.reconstruct(flipped), torch.flip(model.reconstruct(x), dims=[1]), atol=1e-6)


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_mirrored_pass_uses_the_same_latent_draw(model_class):
    model = model_class(**SMALL).eval()
    x = images(2, 32)
    seeded = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    direct = model.reconstruct(x, seeded(), mirror=False)
    mirrored = model.reconstruct(torch.flip(x, dims=[3]), seeded(), mirror=False)
    assert torch.allclose(model.reconstruct(x, seeded()), (direct + torch.flip(mirrored, dims=[1])) / 2, atol=1e-6)


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_save_and_reload_round_trip(model_class, tmp_path):
    model = model_class(resolution=64, **SMALL).eval()
    x = images(2, 32)
    model.save_pretrained(tmp_path / "fp32")
    reloaded = model_class.from_pretrained(tmp_path / "fp32")
    assert reloaded.resolution == 64 and reloaded.latent_dim == 8
    assert torch.equal(model.reconstruct(x), reloaded.reconstruct(x))

    save_weights(model, tmp_path / "fp16")
    half = model_class.from_pretrained(tmp_path / "fp16")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    assert torch.allclose(model.reconstruct(x), half.reconstruct(x), atol=2e-2)
    assert "recon3d" in (tmp_path / "fp16" / "README.md").read_text()


def assert_step_trains(module: torch.nn.Module, loss_fn) -> None:
    """One Adam step: every parameter gets a nonzero gradient and changes."""
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    optimizer.zero_grad()
    loss_fn().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"
    optimizer.step()
    for name, p in module.named_parameters():
        assert not torch.equal(p, before[name]), f"{name} did not change"


def test_one_training_step_moves_every_parameter():
    x = images(4, 32)
    target = (torch.rand(4, 32, 32, 32, generator=torch.Generator().manual_seed(3)) > 0.7).float()
    generator = CGANGenerator(**SMALL)
    discriminator = CGANDiscriminator(32, 32, feature_dim=16, base_channels=4)
    vae = VoxelVAE(**SMALL)

    def generator_loss():
        logits = generator(x, torch.randn(4, 8))
        return F.binary_cross_entropy_with_logits(logits, target) - discriminator(torch.sigmoid(logits), x).mean()

    def discriminator_loss():
        with torch.no_grad():
            fake = torch.sigmoid(generator(x, torch.randn(4, 8)))
        # Non-saturating loss: a hinge loss can give the last bias exactly zero gradient (+1 -1).
        return F.softplus(-discriminator(target, x)).mean() + F.softplus(discriminator(fake, x)).mean()

    def vae_loss():
        logits, mu, logvar = vae(x)
        return F.binary_cross_entropy_with_logits(logits, target) - 0.5 * (1 + logvar - mu**2 - logvar.exp()).mean()

    assert_step_trains(generator, generator_loss)
    assert_step_trains(discriminator, discriminator_loss)
    assert_step_trains(vae, vae_loss)


def test_discriminator_layers_are_spectrally_normalised():
    discriminator = CGANDiscriminator(32, 32, feature_dim=16, base_channels=4)
    layers = [m for m in discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
