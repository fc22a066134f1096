"""The two reconstruction models ("cgan" and "vae") and their shared building blocks."""

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from recon.models.vae import VoxelVAE

__all__ = ["CGANDiscriminator", "CGANGenerator", "VoxelVAE"]
