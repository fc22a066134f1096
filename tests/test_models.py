"""Shapes, sampling, save/reload, one training step and the object heads of the cGAN and VAE models."""

import pytest
import torch
import torch.nn.functional as F

from recon.hub import save_weights
from recon.models import CGANDiscriminator, CGANGenerator, VoxelVAE
from recon.models.blocks import AZIMUTH_BINS, CATEGORY_COUNT, azimuth_from_bins

SMALL = dict(image_size=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)  # fast


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
    scores = CGANDiscriminator(resolution, feature_dim=16, base_channels=4)(torch.sigmoid(logits),
                                                                            generator.encoder(x))
    assert scores.shape == (2, 4, 4, 4)  # one logit per 3D patch
    logits, mu, logvar = VoxelVAE(resolution=resolution, **SMALL)(x)
    assert logits.shape == (2, resolution, resolution, resolution)
    assert mu.shape == logvar.shape == (2, 8)


def assert_head_shapes(heads: dict, batch: int, size: int) -> None:
    assert heads["category"].shape == (batch, CATEGORY_COUNT)
    assert heads["azimuth"].shape == (batch, AZIMUTH_BINS)
    assert heads["elevation"].shape == (batch,)
    assert heads["mask"].shape == (batch, size, size)


def test_all_outputs_give_the_grids_the_head_logits_and_the_features():
    x = images(3, 32)
    generator = CGANGenerator(**SMALL)
    logits, heads, features = generator(x, torch.randn(6, 8), all_outputs=True)  # two draws per image
    assert logits.shape == (6, 32, 32, 32) and features.shape == (3, 16)
    assert_head_shapes(heads, 3, 32)
    z = torch.randn(3, 8)
    assert torch.allclose(generator(x, z, all_outputs=True)[0], generator(x, z), atol=1e-5)  # same grids
    logits, mu, logvar, heads = VoxelVAE(**SMALL)(x, torch.Generator().manual_seed(0), all_outputs=True)
    assert logits.shape == (3, 32, 32, 32) and mu.shape == logvar.shape == (3, 8)
    assert_head_shapes(heads, 3, 32)


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
    expected = torch.sigmoid((torch.logit(single.double()) + torch.flip(torch.logit(model.reconstruct(
        flipped, mirror=False).double()), dims=[1])) / 2).float()  # log-odds pooled, back along i (+X)
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
    pooled = torch.sigmoid((torch.logit(direct.double()) + torch.flip(torch.logit(mirrored.double()), dims=[1])) / 2)
    assert torch.allclose(model.reconstruct(x, seeded()), pooled.float(), atol=1e-5)


def test_mirror_pooling_keeps_agreement_sure_and_lets_the_surer_pass_decide():
    from recon.models.blocks import mirror_averaged

    # voxel 0: both passes sure of the same answer; 1: sure against unsure; 2: a tie
    direct = torch.tensor([4.0, 4.0, 2.0]).view(1, 1, 1, 3)  # three voxels along k (the flip is along i)
    mirrored = torch.tensor([4.0, -1.0, -2.0]).view(1, 1, 1, 3)
    passes = iter([direct, mirrored])
    pooled = mirror_averaged(lambda x, g: next(passes), torch.zeros(1, 3, 1, 1)).flatten()
    assert pooled[0] > 0.98  # averaging probabilities would give the same, ...
    assert 0.8 < pooled[1] < 0.83  # ... but 0.63 here: sigmoid(1.5), the sure pass decides
    assert pooled[2] == pytest.approx(0.5)


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


def head_loss(heads: dict, mask: torch.Tensor) -> torch.Tensor:
    """A loss on every head output (category 2, azimuth bin 10, elevation 15 degrees, the mask)."""
    batch = mask.shape[0]
    return (F.cross_entropy(heads["category"], torch.full((batch,), 2))
            + F.cross_entropy(heads["azimuth"], torch.full((batch,), 10))
            + F.mse_loss(heads["elevation"], torch.full((batch,), 15 / 45))
            + F.binary_cross_entropy_with_logits(heads["mask"], mask))


def test_one_training_step_moves_every_parameter():
    x = images(4, 32)
    target = (torch.rand(4, 32, 32, 32, generator=torch.Generator().manual_seed(3)) > 0.7).float()
    mask = (torch.rand(4, 32, 32, generator=torch.Generator().manual_seed(4)) > 0.5).float()
    generator = CGANGenerator(**SMALL)
    discriminator = CGANDiscriminator(32, feature_dim=16, base_channels=4)
    vae = VoxelVAE(**SMALL)

    def generator_loss():
        logits, heads, features = generator(x, torch.randn(4, 8), all_outputs=True)
        adversarial = -discriminator(torch.sigmoid(logits), features.detach()).mean()
        return F.binary_cross_entropy_with_logits(logits, target) + adversarial + head_loss(heads, mask)

    def discriminator_loss():
        with torch.no_grad():
            logits, _, features = generator(x, torch.randn(4, 8), all_outputs=True)
        # Non-saturating loss: a hinge loss can give the last bias exactly zero gradient (+1 -1).
        return (F.softplus(-discriminator(target, features)).mean()
                + F.softplus(discriminator(torch.sigmoid(logits), features)).mean())

    def vae_loss():
        logits, mu, logvar, heads = vae(x, all_outputs=True)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).mean()
        return F.binary_cross_entropy_with_logits(logits, target) + kl + head_loss(heads, mask)

    assert_step_trains(generator, generator_loss)  # encoder, decoder and heads
    assert_step_trains(discriminator, discriminator_loss)  # conv stack, patch score and projection
    assert_step_trains(vae, vae_loss)


def test_discriminator_layers_are_spectrally_normalised():
    discriminator = CGANDiscriminator(32, feature_dim=16, base_channels=4)
    layers = [m for m in discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)


def test_discriminator_scores_depend_on_the_photo_features():
    discriminator = CGANDiscriminator(32, feature_dim=16, base_channels=4)
    grids = (torch.rand(2, 32, 32, 32, generator=torch.Generator().manual_seed(5)) > 0.5).float()
    features = torch.randn(2, 16, generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(discriminator(grids, features), discriminator(grids, -features))


# ---------------------------------------------------------------- object heads


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_describe_gives_probabilities_and_degrees(model_class):
    out = model_class(**SMALL).eval().describe(images(3, 32))
    assert out["category"].shape == (3, CATEGORY_COUNT)
    assert torch.allclose(out["category"].sum(1), torch.ones(3), atol=1e-5) and out["category"].min() >= 0
    assert out["azimuth_bins"].shape == (3, AZIMUTH_BINS)
    assert torch.allclose(out["azimuth_bins"].sum(1), torch.ones(3), atol=1e-5)
    assert out["azimuth"].shape == out["elevation"].shape == (3,)
    assert ((0 <= out["azimuth"]) & (out["azimuth"] < 360)).all()
    assert torch.isfinite(out["elevation"]).all()
    assert out["mask"].shape == (3, 32, 32)
    assert 0 <= out["mask"].min() and out["mask"].max() <= 1


def circular_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b| in degrees on the circle."""
    return ((a - b + 180) % 360 - 180).abs()


@pytest.mark.parametrize("model_class", [CGANGenerator, VoxelVAE])
def test_describe_of_the_mirrored_photo_is_the_mirrored_reading(model_class):
    model = model_class(**SMALL).eval()
    x = images(3, 32, seed=2)
    direct, mirrored = model.describe(x), model.describe(torch.flip(x, dims=[3]))
    assert circular_gap(mirrored["azimuth"], (360 - direct["azimuth"]) % 360).max() < 1e-3
    assert torch.allclose(mirrored["mask"], torch.flip(direct["mask"], dims=[2]), atol=1e-6)
    assert torch.allclose(mirrored["category"], direct["category"], atol=1e-6)
    assert torch.allclose(mirrored["elevation"], direct["elevation"], atol=1e-5)
    # without the mirror average the reading is not symmetric: the average is what makes it so
    single, flipped = model.describe(x, mirror=False), model.describe(torch.flip(x, dims=[3]), mirror=False)
    assert not torch.allclose(flipped["mask"], torch.flip(single["mask"], dims=[2]), atol=1e-4)


def bins_with(weights: dict[int, float]) -> torch.Tensor:
    """(1, 72) bin probabilities: `weights` at their bins, the rest spread evenly and small."""
    probabilities = torch.full((1, AZIMUTH_BINS), 1e-6)
    for index, weight in weights.items():
        probabilities[0, index] = weight
    return probabilities / probabilities.sum()


@pytest.mark.parametrize("peak", [0, 1, 17, 36, 71])
def test_azimuth_of_a_single_peak_is_its_bin_centre(peak):
    assert float(azimuth_from_bins(bins_with({peak: 1.0}))) == pytest.approx((peak + 0.5) * 5, abs=1e-2)


def test_azimuth_reads_the_neighbours_of_the_mode_across_zero():
    # half in bin 71 (357.5 deg), half in bin 0 (2.5 deg): the circular mean is 0, not 180
    both = float(azimuth_from_bins(bins_with({71: 0.5, 0: 0.5})))
    assert min(both, 360 - both) < 1e-2
    # a lighter neighbour pulls the estimate toward it, across the wrap
    leaning = float(azimuth_from_bins(bins_with({0: 0.6, 71: 0.3})))
    assert 357.5 < leaning < 360 or 0 <= leaning < 2.5
    assert circular_gap(torch.tensor(leaning), torch.tensor(2.5)) > 0.5


def test_azimuth_ignores_a_second_mode_far_away():
    # a front/back ambiguity (bins 10 and 46, 180 degrees apart) keeps the stronger mode's angle
    assert float(azimuth_from_bins(bins_with({10: 0.6, 46: 0.4}))) == pytest.approx(52.5, abs=1e-2)
    batch = torch.cat([bins_with({3: 1.0}), bins_with({40: 1.0})])
    assert torch.allclose(azimuth_from_bins(batch), torch.tensor([17.5, 202.5]), atol=1e-2)


# ---------------------------------------------------------------- the ImageNet-pretrained backbone


def test_pretrained_backbone_trains_all_but_its_frozen_stages():
    model = VoxelVAE(image_size=128, latent_dim=8, feature_dim=16, decoder_channels=4,
                     backbone="efficientnet-lite0", frozen_stages=2)
    x = images(2, 128)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(name.startswith(("encoder.net.stem.", "encoder.net.stages.0.", "encoder.net.stages.1."))
                          for name in frozen)
    logits, mu, logvar, heads = model(x, all_outputs=True)
    assert logits.shape == (2, 32, 32, 32) and heads["mask"].shape == (2, 128, 128)
    mask = (torch.rand(2, 128, 128, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    (logits.mean() + mu.square().mean() + logvar.square().mean() + head_loss(heads, mask)).backward()
    no_gradient = [name for name, p in model.named_parameters()
                   if name in trainable and (p.grad is None or not p.grad.any())]
    assert not no_gradient
    assert all(p.grad is None for name, p in model.named_parameters() if name in frozen)
    assert model.describe(x)["mask"].shape == (2, 128, 128)


def test_backbone_choices_are_checked():
    with pytest.raises(ValueError, match="128-pixel"):
        CGANGenerator(image_size=32, backbone="efficientnet-lite0")
    with pytest.raises(ValueError, match="backbone"):
        VoxelVAE(**SMALL, backbone="vgg")


def test_noise_modulation_leaves_the_mode_alone_and_moves_the_samples(tmp_path):
    """With noise_modulation z also modulates every decoder stage; z = 0 gives exactly the plain
    decoder's grid whatever the modulation's weights, a fresh module changes nothing yet, and a
    trained one (random weights here) changes the samples. The setting survives save and load."""
    from recon.hub import load_model

    x = images(3, 32)
    plain = CGANGenerator(**SMALL).eval()
    modulated = CGANGenerator(noise_modulation=True, **SMALL).eval()
    result = modulated.load_state_dict(plain.state_dict(), strict=False)
    assert result.missing_keys and all(key.startswith("noise.") for key in result.missing_keys)
    assert not result.unexpected_keys
    zero, z = torch.zeros(3, 8), torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(modulated(x, z), plain(x, z))  # fresh: its lift and FiLM layers start at zero
        for parameter in modulated.noise.parameters():
            parameter.normal_(0, 0.3, generator=torch.Generator().manual_seed(parameter.numel()))
        assert torch.equal(modulated(x, zero), plain(x, zero))  # the mode: the plain decoder's, bit for bit
        moved = (torch.sigmoid(modulated(x, z)) - torch.sigmoid(plain(x, z))).abs().mean()
    assert moved > 0.01, moved
    assert torch.equal(modulated.reconstruct(x), plain.reconstruct(x))  # what inference returns
    reloaded = load_model("cgan", save_weights(modulated, tmp_path / "modulated"))
    assert reloaded.noise is not None and plain.noise is None
    with torch.no_grad():
        assert torch.allclose(reloaded(x, z), modulated(x, z), atol=0.05)  # fp16 weights


def test_noise_scale_draws_samples_nearer_the_mode_and_refuses_a_bad_value(tmp_path):
    """noise_scale (the truncation trick): samples draw z ~ N(0, scale^2 I), the mode stays z = 0;
    a folder whose config holds a scale outside (0, 1] is refused with a WeightsError."""
    import json

    from recon.errors import WeightsError
    from recon.hub import load_model

    full, truncated = CGANGenerator(**SMALL), CGANGenerator(noise_scale=0.5, **SMALL)
    drawn = full.sample_noise(4, torch.Generator().manual_seed(3))
    assert torch.equal(truncated.sample_noise(4, torch.Generator().manual_seed(3)), drawn * 0.5)
    assert not truncated.sample_noise(4).any()  # no generator: the mode
    folder = save_weights(truncated, tmp_path / "truncated")
    assert load_model("cgan", folder).noise_scale == 0.5
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="noise_scale"):
            CGANGenerator(noise_scale=bad, **SMALL)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "noise_scale": -1}))
    with pytest.raises(WeightsError, match="noise_scale"):
        load_model("cgan", folder)
