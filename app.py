"""Recon3D Space: one photo of furniture -> a 3D model from a cGAN and a VAE, side by side, and an
AR tab that stands the model in a photo of your room.

This file only wires Gradio components to the `recon` library: every computation (cropping,
models, meshes, previews, AR) lives there and is tested there. Inputs are validated here, at the
edge, and every user mistake ends in a `gr.Error` that says what to do.

API (gradio_client): `/reconstruct` (photo file -> cGAN .glb, VAE .glb, ...), `/place` (scene
photo, corners JSON, mesh file -> composite PNG of the scene's size, ...), `/interpolate`,
`/find_reference`, `/random_furniture` (seed -> .glb of a VAE prior sample, info text).
Run: `python app.py` (honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT).
"""

# On ZeroGPU `spaces` must be imported before torch initialises CUDA.
import spaces  # isort: skip

import faulthandler
import functools
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np

from recon import ar, heap, preview
from recon.colors import COLOR_MODES, color_mesh
from recon.errors import EmptyGridError, ReconError
from recon.exports import export_reconstruction, reconstruction_sidecar
from recon.images import RIVAL_DOUBT, load_image
from recon.mesh import load_mesh
from recon.pipeline import FINDER_MODEL, Reconstruction, get_reconstructor
from recon.viewpoint import describe_viewpoint

logger = logging.getLogger("recon.app")

heap.tune_heap()  # flat server memory under load (see recon/heap.py)

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
WEIGHTS = ROOT / "recon" / "weights"
MODEL_LABELS = {"cgan": "cGAN", "vae": "VAE"}
DOWNLOAD_FORMATS = ("glb", "usdz", "ply", "stl", "obj", "json", "mat", "npy")
MESH_RESOLUTIONS = (32, 64, 128)
MAX_SAMPLES = 8
MAX_WALK_STEPS = 12
PLANE_SIZES_M = {"A4": (0.210, 0.297), "Letter": (0.2159, 0.2794)}  # width x height, metres
SHEET_ASPECTS = {"A4": ar.A4_ASPECT, "Letter": ar.LETTER_ASPECT}  # what "Find the sheet" looks for
REQUEST_TIME_LIMIT_S = 120  # a request still running after this is cut off (the queue stays free)
SCRATCH_MAX_AGE_S = 3600  # our result folders older than this are deleted on the next request
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


class PhotoUpload(gr.Image):
    """A gr.Image upload (drag and drop, paste, click) that hands our code the raw file path.

    Gradio's own preprocessing opens the file with PIL and fails with a generic message on a bad
    file; we open it ourselves with recon.images.load_image, which says what is wrong.
    """

    is_template = True  # rendered by the frontend as a plain "image" component

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Image.get_component_class_id()  # the frontend loads gr.Image's code for it

    def preprocess(self, payload):
        if payload is None or (payload.url or "").startswith("data:") or payload.path is None:
            return super().preprocess(payload)
        return str(payload.path)


def _finite_payload(label, payload):
    """A slider or number value from the browser or the API as a finite float, else a gr.Error.

    Gradio's own check compares the raw value with the bounds, which fails with a generic
    message on NaN or text sent through the API.
    """
    if payload is None:
        return None
    try:
        number = float(payload)
    except (TypeError, ValueError):
        raise gr.Error(f"{label} must be a number, got {payload!r}.") from None
    if not math.isfinite(number):
        raise gr.Error(f"{label} must be a finite number, got {payload!r}.")
    return number


class FiniteSlider(gr.Slider):
    """gr.Slider that answers NaN, infinities and text with a clear gr.Error."""

    is_template = True

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Slider.get_component_class_id()  # the frontend loads gr.Slider's code for it

    def preprocess(self, payload):
        return super().preprocess(_finite_payload(self.label, payload))


class FiniteNumber(gr.Number):
    """gr.Number that answers NaN, infinities and text with a clear gr.Error."""

    is_template = True

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Number.get_component_class_id()  # the frontend loads gr.Number's code for it

    def preprocess(self, payload):
        return super().preprocess(_finite_payload(self.label, payload))


def _user_errors(function):
    """Turn the library's typed errors (and bad values) into a gr.Error with their message."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except (ReconError, ValueError) as error:
            raise gr.Error(str(error), print_exception=False) from error
        finally:
            heap.release_free_memory()  # hand this request's freed buffers back to the system

    return wrapper


def _open_photo(path: str | None, what: str = "photo"):
    if not path:
        raise gr.Error(f"Please upload a {what} first (drag it onto the box, paste it, or pick an example).")
    return load_image(path)


def _number(value, name: str, low: float, high: float) -> float:
    """A finite number within [low, high], else a gr.Error naming the setting."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise gr.Error(f"{name} must be between {low:g} and {high:g}, got {value!r}.")
    return number


def _scratch_dir() -> Path:
    """A fresh folder for one request's files; folders older than an hour are removed."""
    root = Path(os.environ.get("GRADIO_TEMP_DIR", tempfile.gettempdir())) / "recon3d"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > SCRATCH_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another worker removed it first
    return Path(tempfile.mkdtemp(dir=root))


# ---------------------------------------------------------------------------------------------
# Reconstruct tab


def object_words(category, azimuth_deg, elevation_deg) -> str:
    """"chair, seen from 35° right of front, 20° above" from what the model predicts; the parts
    it does not predict (None) are left out, "" when there is nothing."""
    parts = [category] if category else []
    if azimuth_deg is not None and elevation_deg is not None:
        parts.append(describe_viewpoint(azimuth_deg, elevation_deg))
    return ", ".join(parts)


def ar_defaults(details: dict) -> tuple[float, float]:
    """(object width in metres, rotation in degrees) for the AR tab from a JSON sidecar: the real
    width, and the turn that shows the object as the photo did (a camera at azimuth a sees the
    object turned by -a; rotation 0 faces the rectangle's bottom edge)."""
    width = float(np.clip(details["size_m"][0], 0.05, 5.0))
    azimuth = details.get("azimuth_deg")
    rotation = 0.0 if azimuth is None else (-float(azimuth) + 180.0) % 360.0 - 180.0
    return round(width, 2), 5.0 * round(rotation / 5.0)


def _prepare_for_both(image, box=None, point=None):
    """One photo -> the crop both models see, the object found once by the finder model's mask head
    (recon.pipeline.FINDER_MODEL; an alpha channel, a box or a point as the user gave them)."""
    clock = time.perf_counter()
    prepared = get_reconstructor(FINDER_MODEL).prepare(image, box=box, point=point)
    logger.info("object found by the %s's head in %.2f s", MODEL_LABELS[FINDER_MODEL], time.perf_counter() - clock)
    return prepared


def _run_model(kind, prepared, level, resolution, smoothing, seed, samples, folder, colors="photo"):
    """One model on one prepared photo -> (files by format or {}, info markdown, sidecar)."""
    clock = time.perf_counter()
    reconstructor = get_reconstructor(kind)
    (reading,) = reconstructor.describe([prepared])
    grids = reconstructor.predict([prepared] * samples, seed=seed)
    grids = [preview.upsample_probabilities(grid, resolution) for grid in grids]
    agreement = None
    if samples > 1:
        grid, agreement = preview.sample_agreement(grids, level)
    else:
        grid = grids[0]
    label = MODEL_LABELS[kind]
    try:
        mesh = reconstructor.to_mesh(grid, level=level, smoothing=smoothing)
    except EmptyGridError:
        gr.Warning(f"{label}: no voxel reached the iso level {level:g}; lower it in Options.")
        mesh = None
    result = Reconstruction(kind, grid, mesh, prepared, seed, {}, reading.category, reading.category_scores,
                            reading.azimuth_deg, reading.elevation_deg)
    if mesh is not None and agreement is not None:
        mesh = preview.color_by_agreement(mesh, agreement)  # several samples: show where they differ
    elif mesh is not None:
        mesh = color_mesh(mesh, prepared, result.azimuth_deg, result.elevation_deg, colors)
    details = reconstruction_sidecar(result, mesh)
    files = export_reconstruction(grid, mesh, folder, kind, DOWNLOAD_FORMATS, level=level, details=details)
    seconds = time.perf_counter() - clock
    voxels = int((grid >= level).sum())
    lines = [f"**{label}** · {seconds:.2f} s · {voxels:,} voxels at {resolution}³ "
             f"(model {reconstructor.resolution}³) · {reconstructor.device.type}"]
    words = object_words(result.category, result.azimuth_deg, result.elevation_deg)
    if words:
        lines.insert(0, f"**{words}**")
    deterministic = "z = 0, its most likely shape" if kind == "cgan" else "mean latent"
    lines.append(f"seed {seed}" if seed is not None else f"{deterministic} (deterministic)")
    if agreement is not None:
        unsure = float((agreement[grid >= level] < 0.5).mean()) if voxels else 0.0
        lines[-1] += f" · {samples} samples, {unsure:.0%} of the shape unsure (red)"
    return files, "  \n".join(lines), details


@spaces.GPU(duration=60)
@_user_errors
def reconstruct(photo, level=0.5, resolution=64, smoothing="taubin", seed=0, samples=1,
                vae_mode="mean", colors="photo", box="auto", cgan_mode="sampled", progress=gr.Progress()):
    """Photo file -> cGAN .glb, VAE .glb, model input preview, two info texts, two download lists,
    and the two JSON sidecars by model label (for the AR tab's defaults). box: "auto" (the models
    find the object), JSON [x0, y0, x1, y1] in the photo's pixels (the crop the user drew) or JSON
    [x, y] (a point the user clicked on the object: the models keep the piece under it).
    cgan_mode: "sampled" (z drawn with the seed, `samples` draws) or "zero" (z = 0, the cGAN's most
    likely shape, one grid; seed and samples then apply to nothing but a sampled VAE)."""
    level = _number(level, "Iso level", 0.05, 0.95)
    resolution = int(_number(resolution, "Mesh resolution", 32, 128))
    if resolution not in MESH_RESOLUTIONS:
        raise gr.Error(f"Mesh resolution must be one of {MESH_RESOLUTIONS}, got {resolution}.")
    if smoothing not in ("taubin", "laplacian", "none", None):
        raise gr.Error(f"Smoothing must be taubin, laplacian or none, got {smoothing!r}.")
    seed = int(_number(seed, "Seed", 0, 2**31 - 1))
    samples = int(_number(samples, "Number of samples", 1, MAX_SAMPLES))
    if vae_mode not in ("mean", "sampled"):
        raise gr.Error(f"VAE mode must be 'mean' or 'sampled', got {vae_mode!r}.")
    if cgan_mode not in ("sampled", "zero"):
        raise gr.Error(f"cGAN mode must be 'sampled' or 'zero', got {cgan_mode!r}.")
    if colors not in COLOR_MODES:
        raise gr.Error(f"Colours must be {' or '.join(COLOR_MODES)}, got {colors!r}.")
    smoothing = None if smoothing in ("none", None) else smoothing

    progress(0.05, desc="Reading the photo")
    image = _open_photo(photo)
    crop_box, point = _crop_prompt(box, image.size)
    folder = _scratch_dir()
    progress(0.1, desc="Finding the object")
    prepared = _prepare_for_both(image, crop_box, point)
    progress(0.3, desc="Running the cGAN")
    cgan_seed, cgan_samples = (seed, samples) if cgan_mode == "sampled" else (None, 1)
    cgan_files, cgan_info, cgan_details = _run_model("cgan", prepared, level, resolution, smoothing,
                                                     cgan_seed, cgan_samples, folder, colors)
    progress(0.65, desc="Running the VAE")
    vae_seed = seed if vae_mode == "sampled" else None
    vae_files, vae_info, vae_details = _run_model("vae", prepared, level, resolution, smoothing, vae_seed, 1,
                                                  folder, colors)
    progress(1.0, desc="Done")
    doubt = _finder_doubt(prepared)
    if doubt:
        cgan_info, vae_info = f"{cgan_info}  \n{doubt}", f"{vae_info}  \n{doubt}"
    return (_path(cgan_files.get("glb")), _path(vae_files.get("glb")),
            preview.model_input_preview(prepared), cgan_info, vae_info,
            [str(p) for p in cgan_files.values()], [str(p) for p in vae_files.values()],
            {"cGAN": cgan_details, "VAE": vae_details})


def _finder_doubt(prepared) -> str:
    """A line asking for a click when the models' finder hesitated between two pieces, else ""."""
    if prepared.rival < RIVAL_DOUBT:
        return ""
    return (f"⚠ Another piece in the photo looked almost as likely to be the object ({prepared.rival:.0%} as "
            "likely): if this is the wrong one, click on the piece you mean in the picker and Reconstruct again.")


def _path(path):
    return None if path is None else str(path)


def _crop_prompt(text, image_size) -> tuple[tuple[float, float, float, float] | None, tuple[float, float] | None]:
    """The user's correction of the crop -> (box, point), photo pixels: 'auto' or '' -> (None,
    None), the models find the object; '[x0, y0, x1, y1]' -> a box inside the photo; '[x, y]' -> a
    point on the object (the piece under it is kept). Anything else: gr.Error."""
    if (text or "").strip().lower() in ("", "auto"):
        return None, None
    try:
        values = np.asarray(json.loads(text), dtype=np.float64)
    except (TypeError, ValueError, RecursionError):
        raise gr.Error("The crop box must be JSON like [x0, y0, x1, y1] (a box) or [x, y] (a point on the object) "
                       "in the photo's pixels, or empty to let the models find the object.") from None
    width, height = image_size
    if values.shape == (2,) and np.isfinite(values).all():
        x, y = values
        if not (0 <= x < width and 0 <= y < height):
            raise gr.Error(f"The point [{x:g}, {y:g}] lies outside the {width}x{height} photo; click on the object, "
                           "or Clear the box.")
        return None, (float(x), float(y))
    if values.shape != (4,) or not np.isfinite(values).all():
        raise gr.Error("The crop box needs four finite numbers [x0, y0, x1, y1] (or two, [x, y], for a point on "
                       "the object); click on the object, or on two opposite corners of it.")
    x0, x1 = sorted(values[[0, 2]])
    y0, y1 = sorted(values[[1, 3]])
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise gr.Error(f"The crop box must cover part of the {width}x{height} photo, at least 4 pixels each "
                       "way; click two opposite corners of the object, or Clear the box.")
    return (float(x0), float(y0), float(x1), float(y1)), None


@_user_errors
def show_box_picker(photo):
    """A new photo: show it for drawing a crop box, with no box yet."""
    if not photo:
        return None, [], "auto"
    return load_image(photo).convert("RGB"), [], "auto"


@_user_errors
def add_box_corner(photo, points, event: gr.SelectData):
    """A click on the photo: the first is a point on the object (the models keep the piece under
    it), a second makes the box between the two (a third starts over)."""
    if not photo:
        raise gr.Error("Upload a photo first, then click on the object, or on two opposite corners of it.")
    points = ([] if len(points) >= 2 else points) + [[float(event.index[0]), float(event.index[1])]]
    image = load_image(photo).convert("RGB")
    box = json.dumps([round(points[0][0], 1), round(points[0][1], 1)])
    if len(points) == 2:
        (ax, ay), (bx, by) = points
        box = json.dumps([round(min(ax, bx), 1), round(min(ay, by), 1), round(max(ax, bx), 1), round(max(ay, by), 1)])
    return preview.draw_box(image, points), points, box


@spaces.GPU(duration=60)
@_user_errors
def interpolate(first, second, steps=8, level=0.5, progress=gr.Progress()):
    """Two photos -> looping GIF (turntable while the VAE walks from one latent to the other), strip PNG."""
    steps = int(_number(steps, "Steps", 2, MAX_WALK_STEPS))
    level = _number(level, "Iso level", 0.05, 0.95)
    progress(0.05, desc="Reading the photos")
    images = _open_photo(first, "first photo"), _open_photo(second, "second photo")
    vae = get_reconstructor("vae")
    progress(0.2, desc="Walking the VAE latent space")
    grids = preview.vae_latent_walk(vae.network, vae.prepare(images[0]), vae.prepare(images[1]), steps)
    meshes = []
    for grid in grids:
        try:
            meshes.append(vae.to_mesh(grid, level=level))
        except EmptyGridError:
            continue  # an empty step is simply left out of the animation
    if not meshes:
        raise gr.Error(f"No step of the walk reached the iso level {level:g}; lower it.")
    progress(0.5, desc="Rendering the animation")
    folder = _scratch_dir()
    frames = preview.turntable_frames(meshes, frames=max(16, 2 * len(meshes)), size=224)
    gif = preview.save_gif(frames, folder / "latent-walk.gif", bounce=True)
    strip = preview.strip_image([preview.render_view(mesh, 160) for mesh in meshes])
    strip.save(folder / "latent-walk.png")
    return str(gif), str(folder / "latent-walk.png")


@spaces.GPU(duration=30)
@_user_errors
def random_furniture(seed=0, level=0.5):
    """Seed -> .glb of the shape the VAE decodes from z ~ N(0, I) drawn with that seed, info text."""
    seed = int(_number(seed, "Seed", 0, 2**31 - 1))
    level = _number(level, "Iso level", 0.05, 0.95)
    clock = time.perf_counter()
    try:
        shape = get_reconstructor("vae").random_furniture(seed, level=level)
    except EmptyGridError:
        raise gr.Error(f"The VAE's shape for seed {seed} has no voxel at iso level {level:g}: "
                       "try another seed or lower the level in Options.") from None
    files = export_reconstruction(shape.grid, shape.mesh, _scratch_dir(), f"vae-random-{seed}", ("glb",), level=level)
    voxels = int((shape.grid >= level).sum())
    info = (f"**VAE prior sample** · seed {seed} · {voxels:,} voxels at {len(shape.grid)}³ · "
            f"{time.perf_counter() - clock:.2f} s")
    return str(files["glb"]), info


# ---------------------------------------------------------------------------------------------
# AR tab


def _corners_from_json(text, image_size) -> np.ndarray:
    """'[[x, y], ...]' (TL, TR, BR, BL, image pixels) -> (4, 2) float array, else gr.Error."""
    try:
        corners = np.asarray(json.loads(text or ""), dtype=np.float64)
    except (TypeError, ValueError, RecursionError):  # RecursionError: absurdly nested brackets
        raise gr.Error('Corners must be JSON like [[x, y], [x, y], [x, y], [x, y]] '
                       '(top-left, top-right, bottom-right, bottom-left, in image pixels).') from None
    if corners.shape != (4, 2):
        raise gr.Error(f"Need exactly four corners [x, y] (TL, TR, BR, BL); got shape {list(corners.shape)}. "
                       "Click all four corners of the rectangle.")
    if not np.isfinite(corners).all():
        raise gr.Error("Corners must be finite numbers.")
    width, height = image_size
    if (corners < 0).any() or (corners[:, 0] > width).any() or (corners[:, 1] > height).any():
        raise gr.Error(f"Every corner must lie inside the photo (0..{width} x 0..{height} pixels).")
    return corners


def _plane_size(size_name, custom_width_cm, custom_height_cm):
    if size_name in PLANE_SIZES_M:
        return PLANE_SIZES_M[size_name]
    if size_name == "Custom":
        return (_number(custom_width_cm, "Custom width (cm)", 1, 10_000) / 100,
                _number(custom_height_cm, "Custom height (cm)", 1, 10_000) / 100)
    if size_name in ("Unknown", None):
        return None
    raise gr.Error(f"Real size must be A4, Letter, Custom or Unknown, got {size_name!r}.")


@spaces.GPU(duration=30)
@_user_errors
def place(scene, corners, mesh_file, size_name="A4", custom_width_cm=50.0, custom_height_cm=50.0,
          width_m=0.5, rotation_deg=0.0, position_u=0.5, position_v=0.5):
    """Scene photo, corners JSON, mesh file -> composite PNG (scene's size), [PNG, camera JSON]."""
    image = _open_photo(scene, "room photo")
    corners = _corners_from_json(corners, image.size)
    if not mesh_file:
        raise gr.Error("No mesh to place: reconstruct a photo first (Reconstruct tab) or upload a .glb/.obj.")
    if Path(mesh_file).suffix.lower() not in (".glb", ".obj"):
        raise gr.Error(f"The mesh must be a .glb or .obj file, got {Path(mesh_file).name!r}.")
    plane_size = _plane_size(size_name, custom_width_cm, custom_height_cm)
    width = _number(width_m, "Object width", 0.01, 100)
    rotation = _number(rotation_deg, "Rotation", -360, 360)
    position = (_number(position_u, "Position across", -2, 3), _number(position_v, "Position along", -2, 3))
    mesh = load_mesh(mesh_file)
    camera = ar.camera_from_corners(corners, image.size, plane_size=plane_size)
    plane_width, plane_height = camera.plane_size  # plane units: metres, or rectangle widths
    composite = ar.place(image, mesh, camera, scale=width, rotation_deg=rotation,
                         position=(position[0] * plane_width, position[1] * plane_height))
    folder = _scratch_dir()
    composite_path = folder / "composite.png"
    composite.save(composite_path)
    camera_path = folder / "camera.json"
    camera_path.write_text(json.dumps(ar.camera_to_json(camera), indent=2))
    return str(composite_path), [str(composite_path), str(camera_path)]


@_user_errors
def find_reference(scene, reference):
    """Scene photo + picture of the flat object -> corners JSON (TL, TR, BR, BL) and the marked scene."""
    scene_image = _open_photo(scene, "room photo")
    reference_image = _open_photo(reference, "reference picture")
    H = ar.homography_from_reference(reference_image, scene_image)
    corners = np.asarray(ar.corners_from_homography(H, reference_image.size)).round(1).tolist()
    return json.dumps(corners), corners, preview.draw_corners(scene_image, corners)


@_user_errors
def find_sheet(scene, paper="A4"):
    """Scene photo + "A4"/"Letter" -> corners JSON (TL, TR, BR, BL), corners list, marked scene.

    Nothing found: a warning and no corners ("" and []), whatever was clicked before, so the
    answer depends on this photo alone (API sessions keep their state between calls).
    """
    image = _open_photo(scene, "room photo")
    if paper not in SHEET_ASPECTS:
        raise gr.Error(f"Find the sheet looks for an A4 or Letter sheet: set the real size to A4 or Letter "
                       f"(got {paper!r}), or click the corners of other rectangles.")
    found = ar.find_sheet(np.asarray(image.convert("RGB")), SHEET_ASPECTS[paper])
    if found is None:
        gr.Warning(f"No {paper} sheet found in this photo: lay a plain white sheet flat where it is seen "
                   "whole, against a darker floor, or click its four corners.")
    points = [] if found is None else found.round(1).tolist()
    marked, points, corners_json = _corner_outputs(scene, points)
    return corners_json, points, marked


@_user_errors
def show_scene(scene):
    """A new room photo: forget the clicks, show it ready for clicking."""
    if not scene:
        return None, [], ""
    return load_image(scene).convert("RGB"), [], ""


@_user_errors
def add_corner(scene, points, event: gr.SelectData):
    """A click on the photo adds the next corner (evt.index is [x, y] in the photo's pixels)."""
    if not scene:
        raise gr.Error("Upload a room photo first, then click the four corners on it.")
    if len(points) >= 4:
        gr.Info("Four corners are set: press Undo or Reset to change them.")
        return gr.skip(), points, gr.skip()
    points = points + [[float(event.index[0]), float(event.index[1])]]
    return _corner_outputs(scene, points)


@_user_errors
def undo_corner(scene, points):
    return _corner_outputs(scene, points[:-1]) if scene else (None, [], "")


@_user_errors
def reset_corners(scene):
    return _corner_outputs(scene, []) if scene else (None, [], "")


def _corner_outputs(scene, points):
    marked = preview.draw_corners(load_image(scene), points)
    return marked, points, json.dumps(points) if len(points) == 4 else ""


def pick_mesh(choice, cgan_mesh, vae_mesh, details=None):
    """The Reconstruct tab's mesh for the chosen model, with its real width and the rotation it had
    in the photo as the AR defaults (uploads, and sliders without a reconstruction, stay as they are)."""
    chosen = {"cGAN": cgan_mesh, "VAE": vae_mesh}.get(choice)
    if not chosen:
        return gr.skip(), gr.skip(), gr.skip()
    found = (details or {}).get(choice)
    if not found:
        return chosen, gr.skip(), gr.skip()
    width, rotation = ar_defaults(found)
    return chosen, width, rotation


def randomize_seed():
    return int(np.random.default_rng().integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------------------------
# About tab


def _model_card(kind: str) -> str:
    card = WEIGHTS / kind / "README.md"
    if not card.is_file():
        return f"*No model card found for the {MODEL_LABELS[kind]} (expected {card.relative_to(ROOT)}).*"
    text = card.read_text(encoding="utf-8")
    if text.startswith("---"):  # drop the Hub front matter, keep the readable card
        text = text.split("---", 2)[-1]
    # Its images are relative to the card's folder, which the page cannot reach: the curves are
    # shown in the gallery instead. Its long credits table is summed up under Credits.
    text = "\n".join(line for line in text.splitlines() if not line.startswith("!["))
    head, found, rest = text.partition("## Training data credits")
    if found:
        text = head + "## Training data credits\nSee *Credits* below.\n\n" + rest[rest.find("\n## ") + 1:]
    return text.strip()


def _credits_rows() -> list[dict]:
    """The rows of the credits table (recon/weights/cgan/CREDITS.md): Model, Category, Author, Licence, Library."""
    path = WEIGHTS / "cgan" / "CREDITS.md"
    if not path.is_file():
        return []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    if len(lines) < 2:
        return []
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def _credits_summary() -> str:
    """One bullet per model library: its licence, how many models, and their authors."""
    libraries: dict[tuple[str, str], list[str]] = {}
    for row in _credits_rows():
        key = (row.get("Library", "?").removesuffix(".sh3f"), row.get("Licence", "?"))
        libraries.setdefault(key, []).append(row.get("Author", "?"))
    lines = [DATA_CREDITS]
    for (library, licence), authors in sorted(libraries.items(), key=lambda item: -len(item[1])):
        names = ", ".join(sorted(set(authors), key=str.lower))
        lines.append(f"- **{library}** ({licence}): {len(authors)} models by {names}")
    return "\n".join(lines)


def _credits_table() -> str:
    path = WEIGHTS / "cgan" / "CREDITS.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _training_curves() -> list[str]:
    return sorted(str(p) for p in WEIGHTS.glob("*/*.png"))


def _evaluation_sections() -> tuple[str, str]:
    """EVALUATION.md as (the targets table and where each model wins, how it was measured with the
    full results and ablations): the About tab shows the first and folds the second away."""
    for candidate in (WEIGHTS / "EVALUATION.md", WEIGHTS / "evaluation.md"):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            summary, marker, details = text.partition("\n## How it was measured")
            return summary, (marker + details).lstrip("\n")
    return "*The evaluation table appears here once `python -m train.evaluate` has written it.*", ""


DATA_CREDITS = """Trained on procedurally generated furniture (beds, bookcases, chairs, desks, sofas, tables,
wardrobes; no third-party assets) and on 110 Sweet Home 3D furniture models, all rendered in Pix3D's
layout on plain and room backgrounds. The Sweet Home 3D models, by library:
"""

ABOUT = """
### How it works
The VAE first looks at the whole photo and finds the object, with the mask head on its image
encoder (an alpha channel, a box you draw or a click on it wins); the photo is cropped around it,
one crop for both models (shown under the upload), and fed to two generators trained alike: a
**conditional GAN** (image + random latent -> voxels, judged by a 3D patch discriminator that
sees the photo's features; its latent modulates every decoder stage, so each seed is another
plausible shape; the command line without a seed and the evaluation use the latent at zero, its
most likely shape) and a **VAE** (image -> latent Gaussian -> voxels). Both share the
encoder design (EfficientNet-Lite0, ImageNet-pretrained, fine-tuned) and its heads: the object
mask, its category and the camera's viewpoint. Each predicts a grid of occupancy probabilities;
the mesh is its iso-surface, coloured from the photo (what the camera saw; hidden sides from the
mirrored side) and, in the .usdz download, scaled to a typical real size for its kind.

### Limitations
- One object per photo; in a cluttered room the mask head may pick the wrong piece or cut it:
  check the mask shown after reconstructing (the app says when it hesitated between two pieces);
  click the object or draw a box if needed.
- Low resolution (the models predict a coarse grid; finer meshes are interpolated, not new detail).
- Categories outside the seven trained ones give a guess shaped like one of them.
- The AR tab assumes a flat rectangle on the floor and a pinhole camera; lens distortion,
  a tilted sheet or wrong corner order skew the placement. No real lighting estimation.
"""


# ---------------------------------------------------------------------------------------------
# Layout


def _examples(kind: str) -> list[str]:
    return sorted(str(p) for p in (EXAMPLES / kind).glob("*.*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


START_PHOTO = EXAMPLES / "furniture" / "chair-plain.jpg"  # shown already reconstructed when the page opens


def _fingerprint(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _examples_cache_folder() -> Path:
    """Gradio's cached example results, in a folder named after the weights and the code that
    made them: after a retrain or a code change the examples are recomputed, never shown stale
    (Gradio itself reuses `.gradio/cached_examples` as long as the folder exists)."""
    sources = [*WEIGHTS.glob("*/model.safetensors"), *WEIGHTS.glob("*/config.json"),
               Path(__file__).resolve(), *(ROOT / "recon").rglob("*.py")]
    return ROOT / ".gradio" / "cached_examples" / _fingerprint(sources)


os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(_examples_cache_folder()))

THEME = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
CSS = ".viewer-info {min-height: 3.5em}"

with gr.Blocks(title="Recon3D: furniture photo to 3D", delete_cache=(1800, 3600)) as demo:
    gr.Markdown("# Recon3D\nOne photo of a piece of furniture -> a 3D model from two generative "
                "models side by side. Then stand it in a photo of your room (AR tab).")
    with gr.Tab("Reconstruct"):
        with gr.Row():
            with gr.Column(scale=1):
                photo = PhotoUpload(type="filepath", label="Photo of one piece of furniture", sources=["upload", "clipboard"],
                                    height=300, elem_id="photo")
                run_button = gr.Button("Reconstruct with both models", variant="primary")
                model_input = gr.Image(label="What the models see: crop | the object mask they found",
                                       interactive=False, height=160, format="png", elem_id="model-input")
                with gr.Accordion("Wrong object or crop? Click on it, or draw a box", open=False):
                    box_picker = gr.Image(label="Click on the object (one click picks it), or on two opposite "
                                          "corners (a box)", interactive=False, height=260, elem_id="box-picker")
                    with gr.Row():
                        box = gr.Textbox("auto", label="Point [x, y] or box [x0, y0, x1, y1], photo pixels "
                                         "(auto: the models find the object)", elem_id="crop-box", scale=3)
                        clear_box = gr.Button("Clear box", size="sm", scale=1)
                box_points = gr.State([])
                with gr.Accordion("Options", open=False):
                    level = FiniteSlider(0.05, 0.95, value=0.5, step=0.05, label="Iso level (occupancy threshold)")
                    resolution = gr.Radio(list(MESH_RESOLUTIONS), value=64, label="Mesh resolution (voxels per side; "
                                          "finer than the model's grid is interpolated)")
                    smoothing = gr.Radio(["taubin", "laplacian", "none"], value="taubin", label="Smoothing")
                    with gr.Row():
                        seed = FiniteNumber(value=0, precision=0, minimum=0, label="cGAN seed")
                        dice = gr.Button("Random seed", size="sm")
                    samples = FiniteSlider(1, MAX_SAMPLES, value=1, step=1, label="cGAN samples (more than 1: "
                                        "the mesh of their mean, red where the samples disagree)")
                    cgan_mode = gr.Radio(["sampled", "zero"], value="sampled", label="cGAN latent: sampled "
                                         "(uses the seed and samples) or zero (its most likely shape)")
                    vae_mode = gr.Radio(["mean", "sampled"], value="mean", label="VAE latent: mean "
                                        "(deterministic) or sampled (uses the seed)")
                    colors = gr.Radio(list(COLOR_MODES), value="photo", label="Colours: from the photo, "
                                      "or plain (the model's confidence, pale = unsure)")
            with gr.Column(scale=2):
                with gr.Row():
                    with gr.Column():
                        cgan_view = gr.Model3D(label="cGAN", height=380, elem_id="cgan-view", clear_color=(0.95, 0.95, 0.96, 1.0),
                                               display_mode="solid")
                        cgan_info = gr.Markdown(elem_classes="viewer-info")
                        cgan_files = gr.File(label="cGAN downloads (.glb .usdz for iPhone AR, .ply .stl .obj "
                                             ".json .mat .npy)", file_count="multiple")
                    with gr.Column():
                        vae_view = gr.Model3D(label="VAE", height=380, elem_id="vae-view", clear_color=(0.95, 0.95, 0.96, 1.0),
                                              display_mode="solid")
                        vae_info = gr.Markdown(elem_classes="viewer-info")
                        vae_files = gr.File(label="VAE downloads (.glb .usdz for iPhone AR, .ply .stl .obj "
                                            ".json .mat .npy)", file_count="multiple")
        mesh_details = gr.State({})  # JSON sidecars by model label: the AR tab's size and rotation
        reconstruct_outputs = [cgan_view, vae_view, model_input, cgan_info, vae_info, cgan_files, vae_files,
                               mesh_details]
        # A new page opens on the start photo's cached results: the viewers and their 3D engine are
        # ready before the first click.
        gr.Examples(_examples("furniture"), inputs=photo, outputs=reconstruct_outputs, fn=reconstruct,
                    cache_examples=True, cache_mode="eager", examples_per_page=12,
                    preload=_examples("furniture").index(str(START_PHOTO)),
                    label="Examples (click one: results were computed at start-up)")
        with gr.Accordion("VAE latent walk: morph one photo's shape into another's", open=False):
            with gr.Row():
                walk_first = PhotoUpload(type="filepath", label="First photo", sources=["upload", "clipboard"], height=200)
                walk_second = PhotoUpload(type="filepath", label="Second photo", sources=["upload", "clipboard"], height=200)
                with gr.Column():
                    walk_steps = FiniteSlider(2, MAX_WALK_STEPS, value=8, step=1, label="Steps")
                    walk_button = gr.Button("Interpolate")
            with gr.Row():
                walk_gif = gr.Image(label="Turntable while morphing (GIF)", interactive=False, height=260)
                walk_strip = gr.Image(label="The steps, first to second", interactive=False, height=260)
        with gr.Accordion("VAE as a generator: random furniture from its prior, no photo", open=False):
            with gr.Row():
                with gr.Column(scale=1):
                    random_seed = FiniteNumber(value=0, precision=0, minimum=0, label="Seed of z ~ N(0, I) "
                                               "(the button draws a new one; Enter reuses this one)")
                    random_button = gr.Button("Random furniture")
                    random_info = gr.Markdown(elem_classes="viewer-info")
                with gr.Column(scale=2):
                    random_view = gr.Model3D(label="VAE sample", height=320, elem_id="random-view",
                                             clear_color=(0.95, 0.95, 0.96, 1.0), display_mode="solid")

    with gr.Tab("AR: place it in your room"):
        gr.Markdown("1. Upload a photo of your room with a flat rectangle on the floor (a sheet of paper, a "
                    "poster, a rug).  \n2. Click its four corners **in this order: top-left, top-right, "
                    "bottom-right, bottom-left** as you see them, or press *Find the sheet* for a plain A4 or Letter "
                    "sheet (or give a picture of the rectangle and press *Find it*).  \n"
                    "3. Choose its real size, the mesh, adjust, and render.")
        corner_points = gr.State([])
        with gr.Row():
            with gr.Column(scale=1):
                scene = PhotoUpload(type="filepath", label="Room photo (upload, camera or paste)",
                                    sources=["upload", "webcam", "clipboard"], height=220, elem_id="scene")
                with gr.Row():
                    sheet_button = gr.Button("Find the sheet", size="sm", variant="secondary")
                    undo_button = gr.Button("Undo last corner", size="sm")
                    reset_button = gr.Button("Reset corners", size="sm")
                corners_text = gr.Textbox(label="Corners [[x, y], ...] TL, TR, BR, BL (pixels)", max_lines=2,
                                          elem_id="corners")
                with gr.Accordion("Or find a reference picture in the photo", open=False):
                    reference = PhotoUpload(type="filepath", label="Picture of the flat object (poster, sheet)", height=160)
                    find_button = gr.Button("Find it", size="sm")
                plane = gr.Radio(["A4", "Letter", "Custom", "Unknown"], value="A4", label="Real size of the rectangle")
                with gr.Row():
                    custom_width = FiniteNumber(value=50.0, label="Custom width (cm)", minimum=1)
                    custom_height = FiniteNumber(value=50.0, label="Custom height (cm)", minimum=1)
                mesh_choice = gr.Radio(["cGAN", "VAE", "Uploaded file"], value="cGAN", label="Mesh to place")
                mesh_file = gr.File(label="Mesh (.glb / .obj): from the Reconstruct tab, or upload your own",
                                    file_types=[".glb", ".obj"], type="filepath")
                width_m = FiniteSlider(0.05, 5.0, value=0.5, step=0.05,
                                    label="Object width in metres (in rectangle widths when the size is unknown)")
                rotation = FiniteSlider(-180, 180, value=0, step=5, label="Rotation about the vertical (degrees)")
                with gr.Row():
                    position_u = FiniteSlider(-1, 2, value=0.5, step=0.05, label="Position across (rectangle widths)")
                    position_v = FiniteSlider(-1, 2, value=0.5, step=0.05, label="Position along (rectangle heights)")
                place_button = gr.Button("Render", variant="primary")
            with gr.Column(scale=2):
                scene_canvas = gr.Image(label="Click the corners here", interactive=False, format="jpeg",
                                        elem_id="scene-canvas")
                composite = gr.Image(label="Your room with the model", interactive=False, format="png",
                                     elem_id="composite")
                ar_files = gr.File(label="Downloads: composite PNG, camera JSON", file_count="multiple")
        gr.Examples([[path] for path in _examples("scenes") if "reference" not in Path(path).stem], inputs=scene,
                    label="Example room photos (room.jpg: its poster is examples/scenes/room-reference.png; "
                          "room-sheet.jpg: a plain A4 sheet for Find the sheet)")

    with gr.Tab("About"):
        # What a visitor comes for first: how well the models do, with pictures; details fold away.
        summary, details = _evaluation_sections()
        gr.Markdown("## Evaluation\n" + summary, elem_id="evaluation")
        if details:
            with gr.Accordion("How it was measured: protocol, every figure, ablations", open=False):
                gr.Markdown(details)
        if (WEIGHTS / "comparison.png").is_file():
            gr.Image(str(WEIGHTS / "comparison.png"), label="The same photos: cGAN samples | VAE samples",
                     interactive=False, show_label=True)
        if _training_curves():
            gr.Gallery(_training_curves(), label="Training curves", columns=2, height=240)
        gr.Markdown(ABOUT)
        with gr.Accordion("Model cards", open=False):
            with gr.Row():
                with gr.Column():
                    gr.Markdown("## cGAN\n" + _model_card("cgan"))
                with gr.Column():
                    gr.Markdown("## VAE\n" + _model_card("vae"))
        with gr.Accordion("Credits", open=False):
            gr.Markdown(_credits_summary())
            with gr.Accordion("Every model, its author and licence", open=False):
                gr.Markdown(_credits_table())

    # Events. Public API: /reconstruct, /place, /interpolate, /find_reference, /find_sheet,
    # /random_furniture; the rest is UI only.
    photo.change(show_box_picker, photo, [box_picker, box_points, box], api_visibility="private")
    box_picker.select(add_box_corner, [photo, box_points], [box_picker, box_points, box], api_visibility="private")
    clear_box.click(show_box_picker, photo, [box_picker, box_points, box], api_visibility="private")
    run_button.click(reconstruct, [photo, level, resolution, smoothing, seed, samples, vae_mode, colors, box,
                                   cgan_mode],
                     reconstruct_outputs, api_name="reconstruct", concurrency_limit=2,
                     time_limit=REQUEST_TIME_LIMIT_S).then(
        pick_mesh, [mesh_choice, cgan_view, vae_view, mesh_details], [mesh_file, width_m, rotation],
        api_visibility="private")
    dice.click(randomize_seed, None, seed, api_visibility="private")
    walk_button.click(interpolate, [walk_first, walk_second, walk_steps, level], [walk_gif, walk_strip],
                      api_name="interpolate", concurrency_limit=1,
                      time_limit=REQUEST_TIME_LIMIT_S)
    random_button.click(randomize_seed, None, random_seed, api_visibility="private").then(
        random_furniture, [random_seed, level], [random_view, random_info], api_name="random_furniture",
        concurrency_limit=2, time_limit=REQUEST_TIME_LIMIT_S)
    random_seed.submit(random_furniture, [random_seed, level], [random_view, random_info],
                       api_visibility="private", concurrency_limit=2, time_limit=REQUEST_TIME_LIMIT_S)
    scene.change(show_scene, scene, [scene_canvas, corner_points, corners_text], api_visibility="private")
    scene_canvas.select(add_corner, [scene, corner_points], [scene_canvas, corner_points, corners_text],
                        api_visibility="private")
    undo_button.click(undo_corner, [scene, corner_points], [scene_canvas, corner_points, corners_text],
                      api_visibility="private")
    reset_button.click(reset_corners, scene, [scene_canvas, corner_points, corners_text], api_visibility="private")
    find_button.click(find_reference, [scene, reference], [corners_text, corner_points, scene_canvas],
                      api_name="find_reference", time_limit=REQUEST_TIME_LIMIT_S)
    sheet_button.click(find_sheet, [scene, plane], [corners_text, corner_points, scene_canvas],
                       api_name="find_sheet", time_limit=REQUEST_TIME_LIMIT_S)
    mesh_choice.change(pick_mesh, [mesh_choice, cgan_view, vae_view, mesh_details], [mesh_file, width_m, rotation],
                       api_visibility="private")
    place_button.click(place, [scene, corners_text, mesh_file, plane, custom_width, custom_height, width_m,
                               rotation, position_u, position_v], [composite, ar_files], api_name="place",
                       concurrency_limit=2, time_limit=REQUEST_TIME_LIMIT_S)

demo.queue(max_size=32, default_concurrency_limit=2)
heap.freeze_long_lived()  # cheap garbage collections after each request (see recon/heap.py)

# Theme and CSS belong to launch() in Gradio 6; tests launch with the same options.
LAUNCH_OPTIONS = dict(theme=THEME, css=CSS, ssr_mode=False, max_file_size="20mb")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    # `kill -USR1 <pid>` writes every thread's Python stack to stderr, even when one of them holds the
    # GIL and the server answers nothing (the load test does this before it gives up on a stuck queue).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    demo.launch(**LAUNCH_OPTIONS)  # Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT itself
