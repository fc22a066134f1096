"""Voxel grids: the one convention every part of Recon3D shares.

A prediction is a float32 array ``V`` of shape (D, D, D), D in {32, 64, 128}, holding occupancy
probabilities in [0, 1]; a voxel is occupied when ``V >= 0.5`` unless a caller picks another
level. ``V[i, j, k]``:

- ``i`` runs along +X, to the right of a viewer who faces the object's front;
- ``j`` runs along +Y, up;
- ``k`` runs along +Z, out of the object's front, toward that viewer (azimuth 0).

::

          +Y (j, up)
           |
           |   back (-Z)
           |  /
           | /
           +--------- +X (i, viewer's right)
          /
         /
      +Z (k, front -> viewer)

Canonical frame: the object stands upright and faces +Z, its axis-aligned bounding box is centred
in the grid and its longest side spans the whole grid. The grid fills the cube [-0.5, 0.5]^3; the
centre of voxel index ``i`` sits at ``(i + 0.5) / D - 0.5`` (see ``index_to_position``). glTF uses
the same axes (+Y up, +Z front), so meshes export without rotation.
"""

from pathlib import Path

import numpy as np
import scipy.io

from recon.errors import EmptyGridError, InvalidGridError

RESOLUTIONS = (32, 64, 128)
DEFAULT_LEVEL = 0.5


def _check_cubic(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3 or len(set(array.shape)) != 1 or array.shape[0] == 0:
        raise InvalidGridError(f"a voxel grid must be a non-empty cube (D, D, D), got shape {array.shape}")
    return array


def as_grid(array) -> np.ndarray:
    """Validate a voxel grid and return it as float32 (D, D, D).

    Accepts bool, integer or float arrays. Raises InvalidGridError when the shape is not a cube
    with D in RESOLUTIONS, or when values are not finite or outside [0, 1].
    """
    array = _check_cubic(array)
    if array.shape[0] not in RESOLUTIONS:
        raise InvalidGridError(f"grid side {array.shape[0]} is not one of {RESOLUTIONS}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InvalidGridError(f"a voxel grid must be numeric or boolean, got dtype {array.dtype}")
    grid = array.astype(np.float32)
    if not np.isfinite(grid).all():
        raise InvalidGridError("the voxel grid contains NaN or infinite values")
    if grid.size and (grid.min() < 0 or grid.max() > 1):
        raise InvalidGridError(
            f"voxel values must be probabilities in [0, 1], got [{grid.min():g}, {grid.max():g}]"
        )
    return grid


def threshold(grid: np.ndarray, level: float = DEFAULT_LEVEL) -> np.ndarray:
    """Occupied voxels: bool (D, D, D), True where ``grid >= level``."""
    return np.asarray(grid) >= level


def resample(grid: np.ndarray, resolution: int) -> np.ndarray:
    """Change a grid's side to ``resolution``; float32 (R, R, R).

    Downsampling max-pools each block of fine voxels (any-pooling for 0/1 grids), so a leg one
    voxel thin survives. Upsampling repeats voxels (nearest). The two sides must divide one
    another; raises InvalidGridError otherwise.
    """
    grid = _check_cubic(grid).astype(np.float32)
    side = grid.shape[0]
    if resolution == side:
        return grid.copy()
    if resolution < side:
        if side % resolution:
            raise InvalidGridError(f"cannot downsample {side} to {resolution}: not a divisor")
        f = side // resolution
        blocks = grid.reshape(resolution, f, resolution, f, resolution, f)
        return blocks.max(axis=(1, 3, 5))
    if resolution % side:
        raise InvalidGridError(f"cannot upsample {side} to {resolution}: not a multiple")
    f = resolution // side
    return grid.repeat(f, axis=0).repeat(f, axis=1).repeat(f, axis=2)


def normalize_to_canonical(grid: np.ndarray, level: float = DEFAULT_LEVEL) -> np.ndarray:
    """Recentre and rescale a grid so the occupied bounding box is centred and its longest side
    spans the grid. Same shape and dtype family as the input (values sampled nearest).

    Raises EmptyGridError when no voxel reaches ``level``.
    """
    grid = _check_cubic(grid)
    side = grid.shape[0]
    occupied = np.argwhere(grid >= level)
    if len(occupied) == 0:
        raise EmptyGridError(f"no voxel reaches level {level}: nothing to normalise")
    low, high = occupied.min(axis=0), occupied.max(axis=0) + 1  # box [low, high) in voxel units
    centre = (low + high) / 2.0
    extent = float((high - low).max())
    # Output voxel centre o + 0.5 maps back into the source box; extent <= side, so this only
    # enlarges and nearest sampling cannot drop a thin part.
    offsets = (np.arange(side) + 0.5 - side / 2.0) * extent / side
    axes = [np.floor(centre[a] + offsets).astype(int) for a in range(3)]
    inside = [(ax >= 0) & (ax < side) for ax in axes]
    clipped = [np.clip(ax, 0, side - 1) for ax in axes]
    result = grid[np.ix_(*clipped)].copy()
    keep = inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :]
    result[~keep] = 0
    return result


def index_to_position(ijk, resolution: int) -> np.ndarray:
    """Voxel indices (..., 3) -> centres in the canonical cube [-0.5, 0.5]^3, float64 (..., 3)."""
    return (np.asarray(ijk, dtype=np.float64) + 0.5) / resolution - 0.5


def save_npy(path, grid: np.ndarray) -> Path:
    """Write the probability grid as float32 .npy; returns the path."""
    path = Path(path)
    np.save(path, as_grid(grid))
    return path


def load_npy(path) -> np.ndarray:
    """Read a grid written by ``save_npy`` (no pickle). Raises InvalidGridError."""
    try:
        array = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InvalidGridError(f"cannot read voxel grid {path}: {error}") from error
    return as_grid(array)


def save_mat(path, grid: np.ndarray, level: float = DEFAULT_LEVEL) -> Path:
    """Write key ``voxel`` as uint8 0/1 in this module's convention; returns the path."""
    path = Path(path)
    occupied = threshold(as_grid(grid), level).astype(np.uint8)
    scipy.io.savemat(path, {"voxel": occupied}, do_compression=True)
    return path


def _read_mat_voxel(path) -> np.ndarray:
    try:
        contents = scipy.io.loadmat(Path(path))
    except (OSError, ValueError, NotImplementedError) as error:
        raise InvalidGridError(f"cannot read .mat file {path}: {error}") from error
    if "voxel" not in contents:
        keys = sorted(k for k in contents if not k.startswith("__"))
        raise InvalidGridError(f"{path} has no 'voxel' variable (it has {keys})")
    return _check_cubic(contents["voxel"])


def load_mat(path) -> np.ndarray:
    """Read a .mat written by ``save_mat`` (our convention) as float32 (D, D, D)."""
    return as_grid(_read_mat_voxel(path) > 0)


# Pix3D's voxel.mat axes, per the dataset's README (github.com/xingyuansun/pix3d, "voxel:
# +x leftward, +y outward, +z upward, in canonical view"; "model: +x leftward, +y upward, +z
# inward"). Mesh R-CNN's Pix3D loader (facebookresearch/meshrcnn, shape utils read_voxel)
# agrees: it rotates loadmat's array by np.rot90(k=3, axes=(1, 2)) to reach model.obj's frame,
# i.e. model (x, y, z) = voxel (a, c, D-1-b). scipy.io.loadmat keeps MATLAB's index order, so
# voxel[a, b, c] has a = Pix3D x (viewer's left), b = out toward the viewer, c = up.
# Assumption: Pix3D's "canonical view" looks at the object's front (README's camera sits at
# model -z looking +z), so our X = -a, our Y = c, our Z = b: a 180 degree turn about Y between
# model.obj and our frame, which keeps handedness.
PIX3D_AXES = (0, 2, 1)  # our (i, j, k) take Pix3D's axes (a, c, b)
PIX3D_FLIPS = (True, False, False)  # after the permutation: our i runs against Pix3D's a


def pix3d_to_canonical(voxel: np.ndarray) -> np.ndarray:
    """Pix3D voxel array (D, D, D), nonzero = occupied -> bool (D, D, D) in our convention,
    normalised to the canonical frame. Raises InvalidGridError / EmptyGridError."""
    occupied = _check_cubic(voxel) > 0
    ours = occupied.transpose(PIX3D_AXES)
    for axis, flip in enumerate(PIX3D_FLIPS):
        if flip:
            ours = np.flip(ours, axis=axis)
    return normalize_to_canonical(np.ascontiguousarray(ours))


def load_pix3d_voxel(path) -> np.ndarray:
    """Read Pix3D's ``voxel.mat`` -> bool (D, D, D) in our canonical frame."""
    return pix3d_to_canonical(_read_mat_voxel(path))
