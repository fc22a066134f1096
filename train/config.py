"""Training settings: one frozen dataclass, overridable from the command line, saved beside the weights.

Every field is a `--name value` flag of `python -m train.cgan` / `python -m train.vae`; `--data`
may be repeated to train on several roots (e.g. real Pix3D plus a generated set), `--betas`
takes two numbers, booleans take true/false.
"""

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path

MODEL_KINDS = ("cgan", "vae")


@dataclass(frozen=True)
class TrainConfig:
    # what to train, on what, where to write
    model: str = "cgan"  # "cgan" or "vae"
    data: tuple[str, ...] = ()  # roots in Pix3D's layout (pix3d.json, img/, mask/, model/)
    # which models of `data` train: "train" (the split of train.data.pix3d.split_of) or "all"
    train_split: str = "train"
    # held-out roots scored during training (all their models); empty: the "test" split of data
    eval_data: tuple[str, ...] = ()
    out: str = "runs/model"  # weights, configs, metrics, curve, checkpoint and TensorBoard logs
    resume: bool = True  # continue from <out>/checkpoint when one is there
    # cutout renders get backgrounds at load time (train.data.composite) from this folder
    # (train.data.photo_backgrounds) and its `background_sources`; "" keeps them on black
    backgrounds: str = ""
    background_sources: tuple[str, ...] = ("wallpapers", "textures")
    # non-furniture cut-outs standing around the object in composites, as background: renders of
    # catalogue pieces (python -m train.data.clutter_pieces) or cut-out pictures (the train/ half of
    # python -m train.data.photo_cutouts); "" leaves them out
    clutter_pieces: str = ""
    frame_fraction: float = 0.25  # share of composites showing the whole frame (the object-finding pass)
    max_minutes: float = 0.0  # stop (checkpoint and export) after this much training time; 0: no limit
    # start a new run (no checkpoint in `out`) from exported weights (a folder of config.json +
    # model.safetensors, e.g. the committed fp16 recon/weights/cgan); "" starts from scratch/ImageNet.
    # Only the model the folder holds is filled: a cGAN's discriminator starts fresh.
    init_weights: str = ""
    # model (these become the model's config.json)
    resolution: int = 32  # voxel grid side D: 32 or 64
    image_size: int = 128  # input image side S in pixels
    latent_dim: int = 64
    feature_dim: int = 256
    base_channels: int = 16  # image encoder width ("resnet" backbone)
    decoder_channels: int = 12  # voxel decoder width
    backbone: str = "resnet"  # "resnet" (from scratch) or "efficientnet-lite0" (ImageNet-pretrained)
    frozen_stages: int = 0  # efficientnet-lite0: stem and first stages kept fixed
    mask_head: str = "lateral"  # recon.models.blocks.MaskHead design: "lateral" or "fpn"
    pretrained: bool = True  # efficientnet-lite0: start from the ImageNet weights
    # top-level parts of the generator / VAE that train (e.g. decoder); the others keep their weights
    # and run in eval mode (a fine-tune of one part). Empty: everything trains (frozen_stages aside)
    train_only: tuple[str, ...] = ()
    # optimisation
    batch_size: int = 32  # per process; under torchrun the global batch is this times the world size
    steps: int = 2000
    lr: float = 2e-4  # generator / VAE
    lr_discriminator: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # learning rates are multiplied by lr_decay_factor from step lr_decay_step on (0: never), so
    # a long run ends with a finer phase; resuming past that step applies it too
    lr_decay_step: int = 0
    lr_decay_factor: float = 0.25
    grad_clip: float = 1.0  # max global gradient norm per optimizer; 0 disables
    # losses, shared: reconstruction = bce_weight * BCE + dice_weight * (1 - Dice), both per voxel
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    # + l1_weight * mean |p - y| (pix2pix's L1): its minimiser is the median, 0 or 1 for a binary
    # target, so unlike BCE (whose minimiser is the probability) it does not reward soft grids
    l1_weight: float = 0.0
    # object heads on the shared encoder: mask (BCE + Dice), category (cross-entropy), camera
    # (azimuth bins: cross-entropy against a circular Gaussian label; elevation: smooth L1)
    mask_weight: float = 1.0
    category_weight: float = 0.3
    view_weight: float = 0.3
    # cGAN: generator loss = reconstruction + adversarial_weight * hinge + diversity term; 0: the
    # discriminator neither runs nor learns (a regressor's step, e.g. the image encoder alone)
    adversarial_weight: float = 0.05
    # discriminator regularisers: R1 penalty on real grids every r1_every steps (lazy), and
    # Gaussian instance noise on both real and generated grids fading from instance_noise to 0
    r1_weight: float = 1.0
    r1_every: int = 4
    instance_noise: float = 0.1
    instance_noise_steps: int = 2000
    # diversity-sensitive term (Yang et al., ICLR 2019): -min(|G(x,z1) - G(x,z2)| / |z1 - z2|, cap),
    # so z keeps changing the output instead of being ignored under the reconstruction loss
    diversity_weight: float = 0.5
    diversity_cap: float = 0.05
    # cGAN: weight of the reconstruction loss on one more draw per image at z = 0, the mode output
    # inference returns (0: none, the mode is only ever trained through the random draws). The
    # adversarial and diversity terms see the random draws alone, so the samples may move towards
    # realistic shapes while the mode keeps to the shape that scores best on average
    mode_weight: float = 0.0
    # cGAN: z also modulates every decoder stage (recon.models.cgan.NoiseModulation), a part of the
    # model named "noise" that is zero at z = 0; with --train_only noise the mode output keeps its
    # bytes while the adversarial game shapes the samples
    noise_modulation: bool = False
    # VAE: reconstruction + beta * warm-up * KL, with KL summed over latent dims and divided by
    # D^3 so that beta = 1 with bce_weight = 1 and dice_weight = 0 is the ELBO per voxel
    kl_beta: float = 1.0
    kl_warmup_steps: int = 500  # KL weight rises linearly from 0 to kl_beta over these steps
    # reproducibility, logging, hardware
    seed: int = 0
    log_every: int = 25  # steps between scalar logs (metrics.jsonl, TensorBoard, curve)
    eval_every: int = 250  # steps between held-out IoU / sample-diversity checks
    checkpoint_every: int = 500  # steps between resumable checkpoints (always one at the end)
    diversity_samples: int = 4  # samples per image for the diversity metric
    jitter: bool = True  # random crop jitter of training images
    background: str = "keep"  # "keep" the rendered room / photo background, or paint it "white"
    num_workers: int = 2  # DataLoader worker processes per training process
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: cuda:LOCAL_RANK)
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)

    def __post_init__(self):
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model must be one of {MODEL_KINDS}, got {self.model!r}")
        if self.resolution not in (32, 64):
            raise ValueError(f"resolution must be 32 or 64, got {self.resolution}")
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError("steps must be >= 0 and batch_size >= 1")
        if self.train_split not in ("train", "all"):
            raise ValueError(f"train_split must be 'train' or 'all', got {self.train_split!r}")

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        values = json.loads(Path(path).read_text())
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser(defaults: TrainConfig) -> argparse.ArgumentParser:
    """One `--field value` flag per TrainConfig field, typed from its annotation."""
    parser = argparse.ArgumentParser(description=f"Train the Recon3D {defaults.model} model.")
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        flag, hint, default = f"--{field.name}", hints[field.name], getattr(defaults, field.name)
        if hint is bool:
            parser.add_argument(flag, type=_parse_bool, default=default, metavar="true|false")
        elif typing.get_origin(hint) is tuple and typing.get_args(hint)[-1] is Ellipsis:
            parser.add_argument(flag, action="append", type=typing.get_args(hint)[0], default=None,
                                help="repeatable")
        elif typing.get_origin(hint) is tuple:
            parser.add_argument(flag, nargs=len(typing.get_args(hint)), type=typing.get_args(hint)[0],
                                default=default)
        else:
            parser.add_argument(flag, type=hint, default=default)
    return parser


def config_from_args(argv: list[str] | None = None, **defaults) -> TrainConfig:
    """Parse command-line flags over TrainConfig(**defaults); raises SystemExit on a bad flag."""
    base = TrainConfig(**defaults)
    args = vars(build_parser(base).parse_args(argv))
    for key, value in args.items():
        if value is None:  # a repeatable flag not given keeps its default
            args[key] = getattr(base, key)
    try:
        return TrainConfig(**{key: tuple(value) if isinstance(value, list) else value
                              for key, value in args.items()})
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
