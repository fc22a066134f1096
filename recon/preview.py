"""Pictures of a reconstruction for people: what the model saw, where samples disagree, and
small animations (a turntable, or a VAE latent walk between two photos).

Everything here works on numpy arrays, `trimesh.Trimesh` and PIL images in the conventions of
recon.voxels (canonical cube [-0.5, 0.5]^3, Y up, front toward +Z). The VAE latent walk is the
only place torch appears, and only to call the model's own `encode`/`decode`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.ndimage
import torch
import trimesh
from PIL import Image, ImageDraw

from recon.models.blocks import mirror_averaged
from recon.render import render_mesh
from recon.voxels import RESOLUTIONS, as_grid, resample

if TYPE_CHECKING:
    from recon.images import PreparedImage

AGREE_COLOR = np.array([205.0, 210.0, 220.0])  # all samples agree: calm light grey-blue
UNSURE_COLOR = np.array([225.0, 60.0, 40.0])  # samples split half and half: red
BACKGROUND = (255, 255, 255)
VIEW_EXTENT = 1.3  # canonical units spanned by the picture's side (the cube's diagonal fits when turning)


def model_input_preview(prepared: PreparedImage) -> Image.Image:
    """The crop the model sees next to the same crop with its object mask outlined and tinted.

    Returns an RGB image (2S, S): left the crop, right the crop with the background dimmed and the
    mask in a blue tint, so a user can see when the object was cut badly.
    """
    crop = np.asarray(prepared.crop.convert("RGB"), dtype=np.float32)
    mask = np.asarray(prepared.mask, dtype=bool)
    tinted = np.where(mask[..., None], 0.6 * crop + 0.4 * np.array([40.0, 110.0, 230.0]), 0.35 * crop + 0.65 * 255)
    edge = mask & ~scipy.ndimage.binary_erosion(mask, iterations=1)
    tinted[edge] = (20, 60, 200)
    side = crop.shape[0]
    both = Image.new("RGB", (2 * side, side), BACKGROUND)
    both.paste(prepared.crop.convert("RGB"), (0, 0))
    both.paste(Image.fromarray(tinted.round().astype(np.uint8)), (side, 0))
    return both


def draw_box(image: Image.Image, points: list) -> Image.Image:
    """The photo with the points clicked so far ([x, y]: one is a point on the object, two are
    opposite corners of the crop box, drawn between them), in a width that stays visible on large
    photos."""
    from PIL import ImageDraw

    marked = image.convert("RGB").copy()
    draw = ImageDraw.Draw(marked)
    width = max(2, round(max(marked.size) / 300))
    for x, y in points:
        draw.ellipse([x - 3 * width, y - 3 * width, x + 3 * width, y + 3 * width], outline=(20, 60, 200), width=width)
    if len(points) == 2:
        (ax, ay), (bx, by) = points
        draw.rectangle([min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)], outline=(20, 60, 200), width=width)
    return marked


def upsample_probabilities(grid: np.ndarray, resolution: int) -> np.ndarray:
    """The grid at another resolution (one of recon.voxels.RESOLUTIONS), float32 (R, R, R).

    Upsampling interpolates the probabilities trilinearly, so the iso-surface at a finer
    resolution is smoother rather than blockier; downsampling is recon.voxels.resample (max-pool).
    Raises ValueError for a resolution outside RESOLUTIONS, InvalidGridError for a bad grid.
    """
    grid = as_grid(grid)
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution {resolution} is not one of {RESOLUTIONS}")
    side = grid.shape[0]
    if resolution <= side:
        return resample(grid, resolution)
    fine = scipy.ndimage.zoom(grid, resolution / side, order=1, mode="nearest", grid_mode=True)
    return np.clip(fine, 0.0, 1.0).astype(np.float32)


def sample_agreement(grids: list[np.ndarray], level: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Summarise several samples of one photo: (mean probability, agreement), each (D, D, D) float32.

    agreement = |2 * votes - 1| where votes is the fraction of samples occupied at `level`:
    1 where every sample agrees (all full or all empty), 0 where they split half and half.
    Raises ValueError for no grids or grids of different shapes.
    """
    if not grids:
        raise ValueError("no samples to summarise")
    stack = np.stack([as_grid(g) for g in grids])
    votes = (stack >= level).mean(axis=0)
    return stack.mean(axis=0).astype(np.float32), np.abs(2.0 * votes - 1.0).astype(np.float32)


def color_by_agreement(mesh: trimesh.Trimesh, agreement: np.ndarray) -> trimesh.Trimesh:
    """A copy of `mesh` with vertex colours from `agreement` (D, D, D) in [0, 1]: grey-blue where
    samples agree, red where they disagree. Vertices are in canonical cube coordinates."""
    side = agreement.shape[0]
    # Samples flip at the surface itself, so read the agreement one voxel inside it (along the
    # outward normal, backward): there it says whether this part exists in every sample.
    inside = mesh.vertices - mesh.vertex_normals / side
    coordinates = ((inside + 0.5) * side - 0.5).T  # canonical -> voxel index space
    t = 1.0 - np.clip(scipy.ndimage.map_coordinates(agreement, coordinates, order=1, mode="nearest"), 0, 1)
    rgb = (1 - t[:, None]) * AGREE_COLOR + t[:, None] * UNSURE_COLOR
    colored = mesh.copy()
    colored.visual = trimesh.visual.ColorVisuals(
        colored, vertex_colors=np.concatenate([rgb, np.full((len(t), 1), 255.0)], axis=1).round().astype(np.uint8))
    return colored


def interpolate_latents(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """`steps` (>= 2) evenly spaced points from `start` to `end` (both ends included): (steps, Z)."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    weights = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - weights) * np.asarray(start, dtype=np.float32) + weights * np.asarray(end, dtype=np.float32)


def vae_latent_walk(vae: torch.nn.Module, first: PreparedImage, second: PreparedImage,
                    steps: int = 8) -> list[np.ndarray]:
    """Occupancy grids (D, D, D) float32 decoded along the straight line between the two photos'
    mean latents: the first grid is photo one's reconstruction, the last photo two's.

    As `VoxelVAE.reconstruct` does, each step pools (recon.models.blocks.mirror_averaged) two walks:
    between the photos' latents and between the left-right mirrored photos' latents (that grid
    flipped back along X).
    vae: a recon.models.vae.VoxelVAE (anything with encode(images) -> (mu, logvar) and
    decode(z) -> logits). Raises ValueError when steps < 2.
    """
    device = next(vae.parameters()).device
    pixels = torch.from_numpy(np.stack([first.pixels, second.pixels])).to(device)

    def walk(images: torch.Tensor, generator) -> torch.Tensor:  # (2, 3, S, S) -> (steps, D, D, D) logits
        mu, _ = vae.encode(images)
        latents = interpolate_latents(mu[0].float().cpu().numpy(), mu[1].float().cpu().numpy(), steps)
        return vae.decode(torch.from_numpy(latents).to(device=device, dtype=mu.dtype))

    with torch.inference_mode():
        return list(mirror_averaged(walk, pixels).float().cpu().numpy())


def render_view(mesh: trimesh.Trimesh, size: int = 256, azimuth_deg: float = 30.0,
                elevation_deg: float = 20.0) -> Image.Image:
    """A shaded RGB picture (size x size, white background) of a canonical-frame mesh.

    The viewer faces the object's front (azimuth 0) from `elevation_deg` above, far away (a long
    lens, so it looks nearly orthographic); positive azimuth turns the object to show its right
    side. Vertex colours are used when present (recon.render.render_mesh).
    """
    yaw = trimesh.transformations.rotation_matrix(np.radians(-azimuth_deg), [0, 1, 0])[:3, :3]
    pitch = trimesh.transformations.rotation_matrix(np.radians(elevation_deg), [1, 0, 0])[:3, :3]
    turn = pitch @ yaw  # object frame -> viewer frame (x right, y up, z toward the viewer)
    to_camera = np.diag([1.0, -1.0, -1.0])  # viewer frame -> OpenCV camera (y down, z forward)
    distance = 8.0
    focal = size * distance / VIEW_EXTENT
    K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
    light = turn.T @ (np.array([-0.4, 0.6, 0.7]) / np.linalg.norm([-0.4, 0.6, 0.7]))  # from upper left
    rendering = render_mesh(mesh, K, to_camera @ turn, np.array([0.0, 0.0, distance]), (size, size),
                            light_direction=light)
    alpha = rendering.alpha[..., None]
    pixels = 255 * rendering.colour * alpha + np.array(BACKGROUND) * (1 - alpha)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


def turntable_frames(meshes: list[trimesh.Trimesh], frames: int = 24, size: int = 256,
                     elevation_deg: float = 20.0, turns: float = 1.0) -> list[Image.Image]:
    """`frames` pictures turning `turns` times around the object(s).

    With one mesh it is a turntable; with several (a latent walk) frame i shows mesh
    round(i * (len - 1) / (frames - 1)), so the shape morphs while it turns.
    Raises ValueError for no meshes or frames < 1.
    """
    if not meshes or frames < 1:
        raise ValueError("need at least one mesh and one frame")
    pictures = []
    for index in range(frames):
        mesh = meshes[round(index * (len(meshes) - 1) / max(frames - 1, 1))]
        azimuth = 360.0 * turns * index / frames
        pictures.append(render_view(mesh, size, azimuth, elevation_deg))
    return pictures


def save_gif(frames: list[Image.Image], path: str | Path, frame_ms: int = 90,
             bounce: bool = False) -> Path:
    """Write an endlessly looping GIF; bounce=True plays forward then backward (a walk A->B->A)."""
    if bounce:
        frames = frames + frames[-2:0:-1]
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                   optimize=True, disposal=1)
    return path


def strip_image(pictures: list[Image.Image], labels: list[str] | None = None) -> Image.Image:
    """The pictures side by side on one row (all must have one size), optional caption per picture."""
    width, height = pictures[0].size
    strip = Image.new("RGB", (width * len(pictures), height), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    for index, picture in enumerate(pictures):
        strip.paste(picture, (index * width, 0))
        if labels:
            draw.text((index * width + 4, height - 14), labels[index], fill=(60, 60, 60))
    return strip


CORNER_NAMES = ("TL", "TR", "BR", "BL")


def draw_corners(image: Image.Image, corners: list[tuple[float, float]]) -> Image.Image:
    """An RGB copy of `image` with the clicked corners (pixels, at most four, in the order
    top-left, top-right, bottom-right, bottom-left) drawn as numbered dots, joined once complete."""
    marked = image.convert("RGB")
    draw = ImageDraw.Draw(marked)
    radius = max(4, round(max(marked.size) / 120))
    points = [(float(x), float(y)) for x, y in corners[:4]]
    if len(points) >= 2:
        draw.line(points + ([points[0]] if len(points) == 4 else []), fill=(255, 200, 0), width=max(2, radius // 2))
    for name, (x, y) in zip(CORNER_NAMES, points):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(230, 40, 40), outline=(255, 255, 255))
        draw.text((x + radius + 2, y - radius - 2), name, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    return marked
