"""Variational autoencoder: photo -> Gaussian latent (mu, logvar) -> voxel grid.

Shapes: images (B, 3, S, S) in [-1, 1]; mu, logvar, z (B, latent_dim); logits (B, D, D, D).
"""

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from recon.models.blocks import (MODEL_CARD_TEMPLATE, ObjectHeads, build_image_encoder, VoxelDecoder, describe_averaged,
                                 mirror_averaged)


class VoxelVAE(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="recon3d",
    pipeline_tag="image-to-3d",
    tags=["recon3d", "vae", "voxels", "3d-reconstruction", "furniture"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Photo -> latent Gaussian -> occupancy logits, plus the object heads (category, camera,
    mask) on the image features. The constructor arguments are the saved config."""

    def __init__(self, image_size: int = 128, resolution: int = 32, latent_dim: int = 128,
                 feature_dim: int = 256, base_channels: int = 16, decoder_channels: int = 12,
                 backbone: str = "resnet", frozen_stages: int = 0, mask_head: str = "lateral"):
        super().__init__()
        self.image_size = image_size
        self.resolution = resolution
        self.latent_dim = latent_dim
        self.encoder = build_image_encoder(backbone, image_size, base_channels, feature_dim, frozen_stages)
        self.heads = ObjectHeads(feature_dim, self.encoder.widths, mask_head)
        self.activation = nn.LeakyReLU(0.2)
        self.mu = nn.Linear(feature_dim, latent_dim)
        self.logvar = nn.Linear(feature_dim, latent_dim)
        self.decoder = VoxelDecoder(latent_dim, resolution, decoder_channels)

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, S, S) images -> (mu, logvar), each (B, latent_dim)."""
        features = self.activation(self.encoder(images))  # (B, F)
        return self.mu(features), self.logvar(features)

    def forward_all(self, images: Tensor, generator: torch.Generator | None = None):
        """Training pass -> (logits (B, D, D, D), mu, logvar, head logits dict)."""
        features, maps = self.encoder.pyramid(images)
        hidden = self.activation(features)
        mu, logvar = self.mu(hidden), self.logvar(hidden)
        logits = self.decode(self.sample(mu, logvar, generator))
        return logits, mu, logvar, self.heads(features, maps)

    def describe(self, images: Tensor, mirror: bool = True) -> dict[str, Tensor]:
        """Category probabilities, azimuth / elevation (degrees) and mask probabilities (B, S, S)
        of (B, 3, S, S) images (recon.models.blocks.describe_averaged)."""
        return describe_averaged(self.encoder, self.heads, images, mirror)

    def decode(self, z: Tensor) -> Tensor:
        """(B, latent_dim) latent -> (B, D, D, D) logits."""
        return self.decoder(z)

    @staticmethod
    def sample(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised sample mu + sigma * eps, eps ~ N(0, I) drawn from `generator`."""
        device = mu.device if generator is None else generator.device
        eps = torch.randn(mu.shape, generator=generator, device=device)
        return mu + torch.exp(0.5 * logvar) * eps.to(mu.device)

    def forward(self, images: Tensor, generator: torch.Generator | None = None, all_outputs: bool = False):
        """(B, 3, S, S) images -> (logits (B, D, D, D), mu, logvar); z is always sampled (training).
        all_outputs: also the object heads' logits (a fourth item, recon.models.blocks.ObjectHeads)."""
        if all_outputs:
            return self.forward_all(images, generator)
        mu, logvar = self.encode(images)
        return self.decode(self.sample(mu, logvar, generator)), mu, logvar

    @torch.inference_mode()
    def reconstruct(self, images: Tensor, generator: torch.Generator | None = None, mirror: bool = True) -> Tensor:
        """(B, 3, S, S) images -> (B, D, D, D) probabilities: decode(mu), or a sample when a generator
        is given; pooled (log-odds) with the left-right mirrored photo's prediction unless `mirror` is False."""

        def predict(x: Tensor, g: torch.Generator | None) -> Tensor:
            mu, logvar = self.encode(x)
            return self.decode(mu if g is None else self.sample(mu, logvar, g))

        return mirror_averaged(predict, images, generator, mirror)

    @torch.inference_mode()
    def generate(self, count: int, generator: torch.Generator) -> Tensor:
        """The VAE as a generator: (count, D, D, D) probabilities decoded from z ~ N(0, I), the prior,
        drawn from `generator` (no photo involved)."""
        device = next(self.parameters()).device
        z = torch.randn(count, self.latent_dim, generator=generator, device=generator.device).to(device)
        return torch.sigmoid(self.decode(z))
