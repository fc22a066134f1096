"""Conditional GAN: a generator maps (photo, noise z) to a voxel grid; a discriminator judges
(grid, photo) pairs.

Shapes: images (B, 3, S, S) in [-1, 1]; z (B, latent_dim); logits and probabilities (B, D, D, D).
"""

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from recon.models.blocks import (BOTTLENECK, MODEL_CARD_TEMPLATE, Modulation, ObjectHeads, build_image_encoder,
                                 VoxelDecoder, describe_averaged, mirror_averaged, stage_count)


class NoiseModulation(nn.Module):
    """z -> a Modulation of the voxel decoder: where the cGAN's samples depart from its mode.

    A bias-free mapping (two linear layers, LeakyReLU between) feeds a low-rank offset of the 4^3
    bottleneck grid and a FiLM scale and shift for every GroupNorm of the decoder. Nothing in it has
    a bias and LeakyReLU(0) = 0, so z = 0 gives a zero modulation whatever the weights: the mode
    output (z = 0, what inference returns) is the plain decoder's, exactly, and what trains here
    (adversarially) changes the samples alone. The offset's lift and the FiLM layers start at zero,
    so a new module leaves the samples too as they were until it trains.
    """

    def __init__(self, latent_dim: int, norm_widths: tuple[int, ...], hidden: int = 64, rank: int = 4):
        super().__init__()
        self.mapping = nn.Sequential(nn.Linear(latent_dim, hidden, bias=False), nn.LeakyReLU(0.2),
                                     nn.Linear(hidden, hidden, bias=False), nn.LeakyReLU(0.2))
        self.rank = rank
        self.offset = nn.Linear(hidden, rank * BOTTLENECK**3, bias=False)
        self.lift = nn.Conv3d(rank, norm_widths[0], 1, bias=False)
        self.films = nn.ModuleList(nn.Linear(hidden, 2 * width, bias=False) for width in norm_widths)
        nn.init.zeros_(self.lift.weight)
        for film in self.films:
            nn.init.zeros_(film.weight)

    def forward(self, z: Tensor) -> Modulation:
        """(B, latent_dim) noise -> the decoder's Modulation (all zeros where z = 0)."""
        h = self.mapping(z)  # (B, hidden)
        offset = self.lift(self.offset(h).view(-1, self.rank, BOTTLENECK, BOTTLENECK, BOTTLENECK))
        scales, shifts = zip(*(film(h).chunk(2, dim=1) for film in self.films))
        return Modulation(offset, list(scales), list(shifts))


class CGANGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="recon3d",
    pipeline_tag="image-to-3d",
    tags=["recon3d", "cgan", "voxels", "3d-reconstruction", "furniture"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Photo + noise -> occupancy logits, plus the object heads (category, camera, mask) on the
    image features. The constructor arguments are the saved config."""

    def __init__(self, image_size: int = 128, resolution: int = 32, latent_dim: int = 32,
                 feature_dim: int = 256, base_channels: int = 16, decoder_channels: int = 12,
                 backbone: str = "resnet", frozen_stages: int = 0, mask_head: str = "lateral",
                 noise_modulation: bool = False, noise_scale: float = 1.0):
        super().__init__()
        if not 0 < noise_scale <= 1:
            raise ValueError(f"noise_scale must be in (0, 1], got {noise_scale}")
        self.image_size = image_size
        # samples draw z ~ N(0, noise_scale^2 I): below 1, the truncation trick (samples nearer the
        # mode, less diverse); training always draws N(0, I)
        self.noise_scale = noise_scale
        self.resolution = resolution
        self.latent_dim = latent_dim
        self.encoder = build_image_encoder(backbone, image_size, base_channels, feature_dim, frozen_stages)
        self.heads = ObjectHeads(feature_dim, self.encoder.widths, mask_head)
        self.decoder = VoxelDecoder(feature_dim + latent_dim, resolution, decoder_channels)
        # z enters the decoder's input; with noise_modulation it also modulates every decoder stage
        # (NoiseModulation), leaving the z = 0 output to the decoder alone
        self.noise = NoiseModulation(latent_dim, self.decoder.norm_widths) if noise_modulation else None

    def decode(self, features: Tensor, z: Tensor) -> Tensor:
        """(B, F) image features and (B, latent_dim) noise -> (B, D, D, D) logits."""
        modulation = self.noise(z) if self.noise is not None else None
        return self.decoder(torch.cat([features, z], dim=1), modulation)

    def forward(self, images: Tensor, z: Tensor, all_outputs: bool = False):
        """(B, 3, S, S) images and (B, latent_dim) noise -> (B, D, D, D) logits.
        all_outputs: z may hold k draws per image, and forward_all's triple comes back."""
        if all_outputs:
            return self.forward_all(images, z)
        return self.decode(self.encoder(images), z)

    def forward_all(self, images: Tensor, z: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Training pass: images (B, ...) and z (k * B, latent_dim), k draws per image ->
        (logits (k * B, D, D, D), head logits of the B images, features (B, F))."""
        features, maps = self.encoder.pyramid(images)
        draws = z.shape[0] // images.shape[0]
        logits = self.decode(features.repeat(draws, 1), z)
        return logits, self.heads(features, maps), features

    def describe(self, images: Tensor, mirror: bool = True) -> dict[str, Tensor]:
        """Category probabilities, azimuth / elevation (degrees) and mask probabilities (B, S, S)
        of (B, 3, S, S) images (recon.models.blocks.describe_averaged)."""
        return describe_averaged(self.encoder, self.heads, images, mirror)

    def sample_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """(batch, latent_dim) noise: N(0, noise_scale^2 I) drawn from `generator`, or zeros (the mode)
        when None."""
        device = next(self.parameters()).device
        if generator is None:
            return torch.zeros(batch, self.latent_dim, device=device)
        return self.noise_scale * torch.randn(batch, self.latent_dim, generator=generator,
                                              device=generator.device).to(device)

    @torch.inference_mode()
    def reconstruct(self, images: Tensor, generator: torch.Generator | None = None, mirror: bool = True) -> Tensor:
        """(B, 3, S, S) images -> (B, D, D, D) occupancy probabilities; z = 0 unless a generator is
        given; pooled (log-odds) with the left-right mirrored photo's prediction unless `mirror` is False."""
        return mirror_averaged(lambda x, g: self(x, self.sample_noise(x.shape[0], g)),
                               images, generator, mirror)


class CGANDiscriminator(nn.Module):
    """(grid, image features) -> (B, 4, 4, 4) realness logits of overlapping 3D patches.

    A 3D conv stack (spectral norm on every layer) reads the grid down to a 4^3 map of patch
    features; each patch's score is a linear read-out plus a projection onto the photo's features
    (Miyato & Koyama's projection discriminator), so a patch is judged as a plausible piece *of this
    photo's object*. The photo enters as the generator's encoder features, detached by the caller:
    no second image encoder to train, and the discriminator cannot steer the encoder.
    """

    def __init__(self, resolution: int = 32, feature_dim: int = 256, base_channels: int = 16):
        super().__init__()
        stages = stage_count(resolution)
        layers: list[nn.Module] = []
        in_channels = 1
        for stage in range(stages):  # the widest layer (8 * base) sits on the 4^3 grid
            out_channels = max(base_channels * 8 // 2 ** (stages - 1 - stage), 4)
            layers += [spectral_norm(nn.Conv3d(in_channels, out_channels, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Conv3d(in_channels, 1, 1))
        self.embed = spectral_norm(nn.Linear(feature_dim, in_channels))

    def forward(self, voxels: Tensor, features: Tensor) -> Tensor:
        """(B, D, D, D) probabilities and (B, F) image features -> (B, 4, 4, 4) logits."""
        x = voxels.unsqueeze(1).contiguous(memory_format=torch.channels_last_3d)  # fast CPU kernels
        patches = self.convs(x)  # (B, C, 4, 4, 4)
        projection = (patches * self.embed(features)[:, :, None, None, None]).sum(1)
        return self.score(patches).squeeze(1) + projection
