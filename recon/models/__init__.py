"""The two reconstruction models ("cgan" and "vae"), their shared building blocks, and the voxel
classifier behind the Fréchet voxel distance."""

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from recon.models.vae import VoxelVAE
from recon.models.voxel_classifier import VoxelClassifier

__all__ = ["CGANDiscriminator", "CGANGenerator", "VoxelClassifier", "VoxelVAE"]
