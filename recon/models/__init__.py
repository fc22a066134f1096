"""The two reconstruction models ("cgan" and "vae"), their shared building blocks, an
ImageNet-pretrained EfficientNet-Lite0 image encoder, and the voxel classifier behind the
Fréchet voxel distance."""

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from recon.models.efficientnet import EfficientNetLite0, load_pretrained_lite0
from recon.models.vae import VoxelVAE
from recon.models.voxel_classifier import VoxelClassifier

__all__ = ["CGANDiscriminator", "CGANGenerator", "EfficientNetLite0", "VoxelClassifier", "VoxelVAE",
           "load_pretrained_lite0"]
