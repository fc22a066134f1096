"""Conditional GAN: a generator maps (photo, noise z) to a voxel grid; a discriminator judges
(grid, photo) pairs.

Shapes: images (B, 3, S, S) in [-1, 1]; z (B, latent_dim); logits and probabilities (B, D, D, D).
"""

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from recon.models.blocks import (BOTTLENECK, MODEL_CARD_TEMPLATE, ImageEncoder, VoxelDecoder, mirror_averaged,
                                 stage_count)


class CGANGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="recon3d",
    pipeline_tag="image-to-3d",
    tags=["recon3d", "cgan", "voxels", "3d-reconstruction", "furniture"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Photo + noise -> occupancy logits. The constructor arguments are the saved config."""

    def __init__(self, image_size: int = 128, resolution: int = 32, latent_dim: int = 32,
                 feature_dim: int = 128, base_channels: int = 16):
        super().__init__()
        self.image_size = image_size
        self.resolution = resolution
        self.latent_dim = latent_dim
        self.encoder = ImageEncoder(image_size, base_channels, feature_dim)
        self.decoder = VoxelDecoder(feature_dim + latent_dim, resolution, base_channels)

    def forward(self, images: Tensor, z: Tensor) -> Tensor:
        """(B, 3, S, S) images and (B, latent_dim) noise -> (B, D, D, D) logits."""
        features = self.encoder(images)  # (B, F)
        return self.decoder(torch.cat([features, z], dim=1))

    def sample_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """(batch, latent_dim) noise: N(0, I) drawn from `generator`, or zeros (the mode) when None."""
        device = next(self.parameters()).device
        if generator is None:
            return torch.zeros(batch, self.latent_dim, device=device)
        return torch.randn(batch, self.latent_dim, generator=generator, device=generator.device).to(device)

    @torch.inference_mode()
    def reconstruct(self, images: Tensor, generator: torch.Generator | None = None, mirror: bool = True) -> Tensor:
        """(B, 3, S, S) images -> (B, D, D, D) occupancy probabilities; z = 0 unless a generator is
        given; averaged with the left-right mirrored photo's prediction unless `mirror` is False."""
        return mirror_averaged(lambda x, g: torch.sigmoid(self(x, self.sample_noise(x.shape[0], g))),
                               images, generator, mirror)


class VoxelEncoder(nn.Module):
    """3D conv stack for the discriminator: (B, D, D, D) probabilities -> (B, feature_dim)."""

    def __init__(self, resolution: int = 32, base_channels: int = 16, feature_dim: int = 128):
        super().__init__()
        stages = stage_count(resolution)
        layers: list[nn.Module] = []
        in_channels = 1
        # Mirror of VoxelDecoder: the widest layer (8 * base) sits on the 4^3 grid.
        for stage in range(stages):
            out_channels = max(base_channels * 8 // 2 ** (stages - 1 - stage), 4)
            layers += [nn.Conv3d(in_channels, out_channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(in_channels * BOTTLENECK**3, feature_dim)

    def forward(self, voxels: Tensor) -> Tensor:
        x = voxels.unsqueeze(1).contiguous(memory_format=torch.channels_last_3d)  # as VoxelDecoder: fast path
        x = self.convs(x)  # (B, 1, D, D, D) -> (B, C, 4, 4, 4)
        return self.linear(x.flatten(1))  # (B, F)


class CGANDiscriminator(nn.Module):
    """(grid, photo) -> (B,) realness score (a logit; no sigmoid). Spectral norm on every layer."""

    def __init__(self, image_size: int = 128, resolution: int = 32, feature_dim: int = 128,
                 base_channels: int = 16):
        super().__init__()
        self.voxel_encoder = VoxelEncoder(resolution, base_channels, feature_dim)
        self.image_encoder = ImageEncoder(image_size, base_channels, feature_dim, normalize=False)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(2 * feature_dim, feature_dim),
                                  nn.LeakyReLU(0.2), nn.Linear(feature_dim, 1))
        for module in list(self.modules()):
            if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                spectral_norm(module)

    def forward(self, voxels: Tensor, images: Tensor) -> Tensor:
        """(B, D, D, D) probabilities and (B, 3, S, S) images -> (B,) scores."""
        features = torch.cat([self.voxel_encoder(voxels), self.image_encoder(images)], dim=1)  # (B, 2F)
        return self.head(features).squeeze(1)
