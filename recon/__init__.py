"""Recon3D: one photo of a piece of furniture -> a voxel grid and a mesh (cGAN and VAE).

    from recon import Reconstructor
    result = Reconstructor("vae").reconstruct("chair.jpg")
    result.mesh.export("chair.glb")

Heavy modules (torch, the models) load on first use, so `import recon` stays fast.
"""

from recon.errors import (DegenerateCornersError, EmptyGridError, InvalidGridError,
                          InvalidImageError, InvalidMeshError, ReconError,
                          ReferenceNotFoundError, WeightsError)

__all__ = [
    "Reconstructor", "Reconstruction", "get_reconstructor", "ReconError", "InvalidImageError",
    "InvalidGridError", "EmptyGridError", "InvalidMeshError", "WeightsError",
    "DegenerateCornersError", "ReferenceNotFoundError",
]


def __getattr__(name):
    if name in ("Reconstructor", "Reconstruction", "get_reconstructor"):
        from recon import pipeline
        return getattr(pipeline, name)
    raise AttributeError(f"module 'recon' has no attribute {name!r}")
