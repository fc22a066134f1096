"""Building blocks shared by the cGAN generator and the VAE, so both have the same capacity.

Shapes (B = batch, S = image side, F = feature_dim, Z = decoder input size, D = resolution):

    ImageEncoder:  (B, 3, S, S) pixels in [-1, 1]  ->  (B, F) features
    VoxelDecoder:  (B, Z) code                    ->  (B, D, D, D) occupancy logits

Both halve/double the spatial size with 4-wide stride-2 (transposed) convolutions, the standard
DCGAN/3D-GAN stage, between the input and a 4-pixel (4-voxel) bottleneck.
"""

import math

import torch
from torch import Tensor, nn

BOTTLENECK = 4  # spatial side (pixels or voxels) at the narrow end of encoder and decoder

# Model card written by save_pretrained for both generator-side classes; train/publish may
# replace it with a full card (training data, metrics, limits).
MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# Recon3D model

Single photo of a piece of furniture -> 3D occupancy grid (float32 probabilities, shape (D, D, D)).
Load it with `recon.hub.load_model(kind, "<this folder or repo id>")`; the grid convention
(axes, canonical frame) is documented in `recon/voxels.py`.

- Code: {{ repo_url | default("[More Information Needed]", true) }}
"""


def mirror_averaged(predict, images: Tensor, generator: torch.Generator | None = None,
                    mirror: bool = True) -> Tensor:
    """`predict(images, generator)` -> (B, D, D, D) probabilities, averaged with the prediction for
    the photos flipped left-right (when `mirror`).

    Grids live in the object's canonical frame (recon.voxels: i along +X, the viewer's right), so a
    photo flipped left-right shows the object mirrored across X = 0, seen from the mirrored
    viewpoint: its prediction flipped back along i is a second estimate of the same grid, whatever
    the camera's azimuth. Both passes use the same latent draw when a generator is given.
    """
    if not mirror:
        return predict(images, generator)
    twin = None
    if generator is not None:
        twin = torch.Generator(device=generator.device)
        twin.set_state(generator.get_state())
    direct = predict(images, generator)
    mirrored = predict(torch.flip(images, dims=[3]), twin)
    return (direct + torch.flip(mirrored, dims=[1])) / 2


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups of at least 4 channels (batch-size independent, unlike BatchNorm)."""
    return nn.GroupNorm(max(1, min(8, channels // 4)), channels)


def stage_count(size: int) -> int:
    """Number of stride-2 stages between `size` and BOTTLENECK; raises ValueError if not a power of 2."""
    stages = math.log2(size / BOTTLENECK)
    if size < BOTTLENECK or stages != int(stages):
        raise ValueError(f"size must be {BOTTLENECK} times a power of 2, got {size}")
    return int(stages)


class ImageEncoder(nn.Module):
    """2D conv stack: (B, 3, S, S) -> (B, feature_dim).

    Channels double from `base_channels` at each stride-2 stage (capped at 16 * base_channels) until
    the image is 4x4, then one linear layer. `normalize=False` drops GroupNorm (the discriminator
    uses spectral norm instead).
    """

    def __init__(self, image_size: int = 128, base_channels: int = 16, feature_dim: int = 128,
                 normalize: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for stage in range(stage_count(image_size)):
            out_channels = base_channels * min(2 ** stage, 16)
            layers.append(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1))
            if normalize:
                layers.append(group_norm(out_channels))
            layers.append(nn.LeakyReLU(0.2))
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(in_channels * BOTTLENECK**2, feature_dim)

    def forward(self, images: Tensor) -> Tensor:
        x = self.convs(images)  # (B, C, 4, 4)
        return self.linear(x.flatten(1))  # (B, F)


class VoxelDecoder(nn.Module):
    """Linear + 3D transposed conv stack: (B, input_dim) -> (B, D, D, D) logits.

    Channels start at 8 * base_channels on the 4^3 grid and halve at each stride-2 stage
    (32^3: 128 -> 64 -> 32 -> 16 with base 16; 64^3 adds a stage of 8).
    """

    def __init__(self, input_dim: int, resolution: int = 32, base_channels: int = 16):
        super().__init__()
        self.start_channels = channels = base_channels * 8
        self.linear = nn.Linear(input_dim, channels * BOTTLENECK**3)
        layers: list[nn.Module] = [group_norm(channels), nn.LeakyReLU(0.2)]
        for _ in range(stage_count(resolution)):
            out_channels = max(channels // 2, 4)
            layers += [nn.ConvTranspose3d(channels, out_channels, 4, stride=2, padding=1),
                       group_norm(out_channels), nn.LeakyReLU(0.2)]
            channels = out_channels
        # A 1x1x1 head: spatial mixing is done by the stages; a 3x3x3 Conv3d here costs ~25 ms per
        # 32^3 grid on CPU (slow kernel path) against ~0.1 ms for this.
        layers.append(nn.Conv3d(channels, 1, 1))
        self.convs = nn.Sequential(*layers)

    def forward(self, code: Tensor) -> Tensor:
        x = self.linear(code).view(-1, self.start_channels, BOTTLENECK, BOTTLENECK, BOTTLENECK)
        # channels-last picks torch's fast CPU 3D-conv kernels: a 64^3 training step ran ~10x faster.
        x = x.contiguous(memory_format=torch.channels_last_3d)  # (B, C, 4, 4, 4)
        return self.convs(x).squeeze(1)  # (B, 1, D, D, D) -> (B, D, D, D)
