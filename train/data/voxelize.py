"""Solid voxelisation of (possibly non-watertight) meshes in the canonical cube.

The mesh is taken as it is, in the canonical cube [-0.5, 0.5]^3 (see ``recon.voxels`` for the
frame); parts outside the cube are clipped. A voxel is solid when its centre is inside the shape.

How "inside" is decided, robustly for real catalogue meshes (overlapping parts, open boxes,
single-sided planes, flipped parts):

1. Rays along each axis pass through every line of voxel centres. Each triangle crossing a line
   adds +1 (entering: normal against the ray) or -1 (leaving) before the next centre, so a cumulative
   sum along the line gives the winding number counted from the front (``w_front``) and from the back
   (``w_back = w_front - total``). A centre is inside along that axis when both agree and are
   non-zero (``w_front * w_back > 0``): overlapping closed parts add up instead of cancelling (as
   parity would), a flipped closed part counts too, and a lone open sheet (which makes one of the two
   counts zero) does not fill the half-space behind it.
2. The three axes vote; two of three make a voxel solid. A box missing one face is still filled: the
   two axes whose rays cross closed walls outvote the one whose rays leak through the opening.
3. Thin parts (a tabletop modelled as one plane, a sheet thinner than a voxel) contain no voxel
   centre. Dense surface samples mark the voxels the surface passes through; those more than one
   voxel (26-neighbourhood) away from the solid are added, so thin parts stay one voxel thick
   while thick closed parts keep their exact centre-inside boundary.
4. Cavities are filled: those enclosed on all sides, and those whose shell has gaps narrower than
   about ``2 * seal`` voxels (a wardrobe's carcass behind sliding doors, a drawer unit): the shell is
   dilated by ``seal`` voxels, the cavities it then encloses are found, and they are grown back by
   ``seal`` voxels. Open gaps (between chair slats, between shelves open at the front) are kept,
   because after dilation they still reach the outside.

For a closed, consistently oriented mesh steps 1-2 are exact (the voxels whose centres lie inside),
which the tests check on a cube and an L-shape. Lines are offset by a tiny irrational amount so that
no line passes exactly through a shared edge or vertex (which would count a crossing twice or never).
"""

import numpy as np
import scipy.ndimage
import trimesh

# Offsets of the ray lines from the voxel centres, in cube units: far below a voxel (1/128 = 0.0078)
# and irrational-looking, so that a line hits a shared triangle edge only by a measure-zero accident.
_LINE_OFFSET = (1.2345e-7, 2.7183e-7)
# Candidate (triangle, line) pairs processed at once; bounds memory to a few hundred MB.
_CHUNK = 2_000_000
# For the ray along axis a, the two transverse axes (u, v) in the cyclic order that makes the 2D cross
# product in (u, v) equal the a-component of the face normal.
_TRANSVERSE = {0: (1, 2), 1: (2, 0), 2: (0, 1)}


def _centres(resolution: int) -> np.ndarray:
    return (np.arange(resolution) + 0.5) / resolution - 0.5


def _inside_along_axis(triangles: np.ndarray, resolution: int, axis: int) -> np.ndarray:
    """Winding test along one axis. triangles (T, 3, 3) -> bool (D, D, D) indexed (x, y, z)."""
    u_axis, v_axis = _TRANSVERSE[axis]
    step = 1.0 / resolution
    u0 = -0.5 + 0.5 * step + _LINE_OFFSET[0]
    v0 = -0.5 + 0.5 * step + _LINE_OFFSET[1]
    pu, pv, pa = triangles[:, :, u_axis], triangles[:, :, v_axis], triangles[:, :, axis]  # (T, 3)
    area = (pu[:, 1] - pu[:, 0]) * (pv[:, 2] - pv[:, 0]) - (pv[:, 1] - pv[:, 0]) * (pu[:, 2] - pu[:, 0])
    i_lo = np.clip(np.ceil((pu.min(1) - u0) / step), 0, resolution).astype(np.int64)
    i_hi = np.clip(np.floor((pu.max(1) - u0) / step), -1, resolution - 1).astype(np.int64)
    j_lo = np.clip(np.ceil((pv.min(1) - v0) / step), 0, resolution).astype(np.int64)
    j_hi = np.clip(np.floor((pv.max(1) - v0) / step), -1, resolution - 1).astype(np.int64)
    n_i = np.maximum(i_hi - i_lo + 1, 0)
    n_j = np.maximum(j_hi - j_lo + 1, 0)
    # faces parallel to the ray never cross it
    counts = np.where(np.abs(area) > 1e-18, n_i * n_j, 0)

    crossings = np.zeros((resolution, resolution, resolution + 1), dtype=np.int32)
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        # a chunk of whole triangles whose candidate lines fit the budget (at least one triangle)
        stop = max(int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _CHUNK)), start + 1)
        _add_crossings(crossings, slice(start, stop), counts, i_lo, j_lo, n_j, pu, pv, pa, area,
                       u0, v0, step, resolution)
        start = stop
    front = np.cumsum(crossings[:, :, :resolution], axis=2)  # winding counted from -inf
    back = front - crossings.sum(axis=2, keepdims=True)  # winding counted from +inf
    inside = front * back > 0  # (u, v, a)
    return np.transpose(inside, np.argsort((u_axis, v_axis, axis)))


def _add_crossings(crossings, chunk, counts, i_lo, j_lo, n_j, pu, pv, pa, area, u0, v0, step, resolution):
    """Adds the signed crossings of the triangles in ``chunk`` into ``crossings`` (D, D, D+1)."""
    tri = np.repeat(np.arange(chunk.start, chunk.stop), counts[chunk])
    if tri.size == 0:
        return
    first = np.cumsum(counts[chunk]) - counts[chunk]
    offset = np.arange(tri.size) - np.repeat(first, counts[chunk])
    i = i_lo[tri] + offset // n_j[tri]
    j = j_lo[tri] + offset % n_j[tri]
    qu, qv = u0 + i * step, v0 + j * step
    a, b, c = (pu[tri, 0], pv[tri, 0]), (pu[tri, 1], pv[tri, 1]), (pu[tri, 2], pv[tri, 2])
    # barycentric weights as signed sub-areas (each has the sign of `area` when the line is inside)
    w0 = (b[0] - qu) * (c[1] - qv) - (b[1] - qv) * (c[0] - qu)
    w1 = (c[0] - qu) * (a[1] - qv) - (c[1] - qv) * (a[0] - qu)
    w2 = (a[0] - qu) * (b[1] - qv) - (a[1] - qv) * (b[0] - qu)
    sign = np.sign(area[tri])
    hit = (w0 * sign >= 0) & (w1 * sign >= 0) & (w2 * sign >= 0)
    t = (w0 * pa[tri, 0] + w1 * pa[tri, 1] + w2 * pa[tri, 2]) / area[tri]
    # index of the first centre after the crossing; D means after every centre
    k = np.clip(np.ceil((t - (-0.5 + 0.5 * step)) / step), 0, resolution).astype(np.int64)
    # entering the solid (normal against +axis, area < 0) counts +1
    np.add.at(crossings, (i[hit], j[hit], k[hit]), -sign[hit].astype(np.int32))


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-item counts (N,) -> (item index, position 0..count-1) of every expanded element."""
    item = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(item.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return item, position


def surface_voxels(triangles: np.ndarray, resolution: int) -> np.ndarray:
    """Voxels the surface passes through. triangles (T, 3, 3) in the canonical cube -> bool (D, D, D).

    Each triangle is sampled on a lattice spanned by its two shortest edges (steps of at most half a
    voxel, so slivers cost points in proportion to their area, not to their longest edge squared),
    and its longest edge at half-voxel steps; every point of the triangle lies within half a voxel
    of a sample.
    """
    grid = np.zeros((resolution,) * 3, dtype=bool)
    half = 0.5 / resolution
    for chunk in np.array_split(triangles, max(1, len(triangles) // 20_000)):
        lengths = np.linalg.norm(np.roll(chunk, -1, axis=1) - np.roll(chunk, 1, axis=1), axis=2)  # opposite each vertex
        apex = lengths.argmax(axis=1)  # the vertex opposite the longest edge
        rows = np.arange(len(chunk))
        origin = chunk[rows, apex]
        side_a = chunk[rows, (apex + 1) % 3] - origin
        side_b = chunk[rows, (apex + 2) % 3] - origin
        steps_a = np.maximum(np.ceil(np.linalg.norm(side_a, axis=1) / half), 1).astype(np.int64)
        steps_b = np.maximum(np.ceil(np.linalg.norm(side_b, axis=1) / half), 1).astype(np.int64)
        item, position = _expand((steps_a + 1) * (steps_b + 1))
        s = (position // (steps_b[item] + 1)) / steps_a[item]
        t = (position % (steps_b[item] + 1)) / steps_b[item]
        keep = s + t <= 1 + 1e-9
        item, s, t = item[keep], s[keep, None], t[keep, None]
        lattice = origin[item] + s * side_a[item] + t * side_b[item]
        steps_c = np.maximum(np.ceil(lengths[rows, apex] / half), 1).astype(np.int64)
        edge_item, edge_position = _expand(steps_c + 1)
        u = (edge_position / steps_c[edge_item])[:, None]
        edge = origin[edge_item] + side_a[edge_item] + u * (side_b[edge_item] - side_a[edge_item])
        index = np.floor((np.concatenate([lattice, edge]) + 0.5) * resolution).astype(np.int64)
        index = index[np.all((index >= 0) & (index < resolution), axis=1)]
        grid[index[:, 0], index[:, 1], index[:, 2]] = True
    return grid


def fill_cavities(solid: np.ndarray, seal: int) -> np.ndarray:
    """Adds the cavities of ``solid`` (bool (D, D, D)) enclosed once its shell is dilated by ``seal``
    voxels (26-neighbourhood, so axis-aligned concave corners stay exact); returns a new grid."""
    cube = np.ones((3, 3, 3), dtype=bool)
    shell = scipy.ndimage.binary_dilation(solid, structure=cube, iterations=seal) if seal else solid
    cavities = scipy.ndimage.binary_fill_holes(shell) & ~shell
    if seal and cavities.any():
        cavities = scipy.ndimage.binary_dilation(cavities, structure=cube, iterations=seal)
    return solid | cavities


def voxelize_mesh(mesh: trimesh.Trimesh, resolution: int = 128, seal: int = 2) -> np.ndarray:
    """Solid voxels of a mesh already in the canonical cube [-0.5, 0.5]^3.

    mesh: any triangle mesh (need not be watertight, oriented or a single part).
    seal: widest gap (in voxels, on each side) a cavity's shell may have and still be filled.
    Returns bool (D, D, D), ``V[i, j, k]`` with i along +X, j along +Y, k along +Z. Coarser grids
    come from any-pooling this one (``recon.voxels.resample``).
    Raises ValueError for a mesh without faces.
    """
    triangles = np.asarray(mesh.triangles, dtype=np.float64)
    if len(triangles) == 0:
        raise ValueError("cannot voxelise a mesh without faces")
    votes = sum(_inside_along_axis(triangles, resolution, axis).astype(np.uint8) for axis in range(3))
    solid = votes >= 2
    near_solid = scipy.ndimage.binary_dilation(solid, structure=np.ones((3, 3, 3), dtype=bool))
    solid |= surface_voxels(triangles, resolution) & ~near_solid
    return fill_cavities(solid, seal)


def fill_ratio(grid: np.ndarray) -> float:
    """Fraction of the grid's voxels that are solid (0..1)."""
    return float(np.count_nonzero(grid)) / grid.size
