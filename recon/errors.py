"""Typed errors of the recon library.

Every error a user can cause (a bad file, bad clicks, missing weights) is one of these, with a
message that says what was wrong and what to do. Callers (the app, the command line) show the
message as it is; they never need the stack trace.
"""


class ReconError(Exception):
    """Base class of every error the library raises on purpose."""


class InvalidImageError(ReconError, ValueError):
    """The input is not a usable image (unreadable, truncated, too large, empty...)."""


class InvalidGridError(ReconError, ValueError):
    """A voxel grid has the wrong shape, dtype or values."""


class EmptyGridError(ReconError, ValueError):
    """No voxel reaches the iso level, so there is no surface to extract."""


class InvalidMeshError(ReconError, ValueError):
    """A mesh file is unreadable, empty or too large."""


class WeightsError(ReconError, OSError):
    """Model weights are missing, truncated, unsafe or do not fit the model's config."""


def weights_mismatch(missing: list[str], unexpected: list[str], wrong_shape: list[str]) -> str:
    """What a WeightsError says about a state dict that does not fit: the first three names of
    each kind of problem ("" when there is none)."""
    return "; ".join(f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
                     for label, items in [("missing", missing), ("unexpected", unexpected),
                                          ("wrong shape", wrong_shape)] if items)


class DegenerateCornersError(ReconError, ValueError):
    """Four clicked corners do not describe a usable rectangle on a plane."""


class ReferenceNotFoundError(ReconError, ValueError):
    """A reference picture could not be found in the scene photo."""
