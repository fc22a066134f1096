"""The two reconstruction models ("cgan" and "vae"), their shared building blocks, and an
ImageNet-pretrained EfficientNet-Lite0 image encoder."""

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from recon.models.efficientnet import EfficientNetLite0, load_pretrained_lite0
from recon.models.vae import VoxelVAE

__all__ = ["CGANDiscriminator", "CGANGenerator", "EfficientNetLite0", "VoxelVAE", "load_pretrained_lite0"]
