"""Images in: safe loading and the one crop/resize used by both training and inference.

``load_image`` turns any common file Pillow reads into an upright RGB or RGBA picture, refusing
bombs, truncated files and non-images with a message a user can act on. ``prepare_image`` finds
the object (mask argument, else alpha, else an estimate from the border colour), crops a square
around it and resizes it to the model's input.
"""

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.ndimage
from PIL import Image, ImageOps, UnidentifiedImageError

from recon.errors import InvalidImageError

logger = logging.getLogger(__name__)

MAX_PIXELS = 40_000_000  # decompression-bomb guard, checked on the header before decoding
IMAGE_SIZE = 128  # model input side, pixels
FLAT_RANGE = 8  # a photo whose channel values span no more than this has no object to find
MIN_SIDE = 8  # pixels; smaller images hold no recognisable object
CROP_MARGIN = 0.1  # added on each side of the object's box, as a fraction of its longest side
MASK_MIN_CONTRAST = 30  # colour distance (0-255 scale) below which a pixel looks like background
MASK_WORK_SIDE = 512  # the border-colour mask is estimated on a thumbnail this large
JITTER_SHIFT = 0.08  # training: crop centre moves up to this fraction of the box side
JITTER_SCALE = 0.1  # training: crop side scales by up to +-10%


@dataclass(frozen=True)
class PreparedImage:
    """What the model sees for one photo.

    pixels: float32 (3, S, S) in [-1, 1] (rgb / 127.5 - 1); crop: RGB PIL image S x S, the same
    pixels for display; mask: bool (S, S), the object in the crop; bbox: (x0, y0, x1, y1) of the
    object in the source image's pixels (x1, y1 exclusive); crop_box: (left, top, side) of the
    square crop in the source image's pixels (it may reach outside the image); rival: how likely
    the runner-up piece the object finder saw is the object, as a share of the kept piece's
    (rival_share; 0 when an alpha channel, a mask, a box or a click said what the object is).
    """

    pixels: np.ndarray
    crop: Image.Image
    mask: np.ndarray
    bbox: tuple[int, int, int, int]
    crop_box: tuple[int, int, int] = (0, 0, 0)
    rival: float = 0.0


def _read_bytes(source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "the uploaded image"
    path = Path(source)
    if not path.is_file():
        raise InvalidImageError(f"image file not found: {path}")
    return path.read_bytes(), path.name


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise InvalidImageError(
            f"{name} is too large: {width}x{height} = {width * height:,} pixels, the limit is "
            f"{MAX_PIXELS:,}; downscale it first"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"{name} is too small: {width}x{height} pixels; each side needs at least {MIN_SIDE}"
        )


def _high_bit_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer or float grayscale -> 8-bit "L"."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        # Float images are usually [0, 1]; otherwise treat them like integer data.
        scale = 255.0 if values.max(initial=0) <= 1.0 else 255.0 / 65535.0
    else:
        scale = 255.0 / 65535.0 if values.max(initial=0) > 255 else 1.0
    return Image.fromarray(np.clip(values * scale, 0, 255).round().astype(np.uint8))


def _to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> "RGBA" when some pixel is see-through, else "RGB"."""
    if image.mode.startswith("I") or image.mode == "F":
        image = _high_bit_to_8bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image if image.mode == "RGB" else image.convert("RGB")
    rgba = image.convert("RGBA")
    # An alpha channel that hides nothing carries no mask: use the border-colour estimate instead.
    if rgba.getchannel("A").getextrema()[0] == 255:
        return rgba.convert("RGB")
    return rgba


def load_image(source: str | Path | bytes | Image.Image) -> Image.Image:
    """Open an image safely -> PIL image in mode "RGB" or "RGBA" (RGBA only when alpha is used).

    EXIF orientation is applied; 16-bit, float, palette, LA, CMYK and grayscale images are
    converted; an animation gives its first frame. Raises InvalidImageError when the input is
    missing, empty, not an image, truncated, larger than MAX_PIXELS or smaller than MIN_SIDE.
    """
    if isinstance(source, Image.Image):
        data, name = b"", "the image"
    else:
        data, name = _read_bytes(source)
        if not data:
            raise InvalidImageError(f"{name} is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = source if isinstance(source, Image.Image) else Image.open(io.BytesIO(data))
            _check_size(*image.size, name)  # header only: nothing decoded yet
            image.seek(0)  # first frame of an animation
            image.load()
        except InvalidImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise InvalidImageError(f"{name} is too large to decode safely: {error}") from error
        except UnidentifiedImageError as error:
            raise InvalidImageError(
                f"{name} is not an image Pillow can read; use a PNG, JPEG, WebP, BMP, GIF or TIFF file"
            ) from error
        except (OSError, SyntaxError, EOFError, ValueError) as error:
            # Pillow reports truncated or corrupt data with these; LOAD_TRUNCATED_IMAGES stays
            # False so a half-decoded picture never gets through.
            raise InvalidImageError(
                f"{name} is truncated or corrupt ({error}); re-export or re-download it"
            ) from error
    image = ImageOps.exif_transpose(image)
    _check_size(*image.size, name)
    return _to_rgb_or_rgba(image)


def estimate_mask(rgb: np.ndarray) -> np.ndarray:
    """Guess the object in a photo without alpha: bool (H, W) from an RGB uint8 (H, W, 3) array.

    Pixels that differ from the border's median colour are the object; small specks are
    opened away, holes filled and only the largest piece kept. When the estimate is empty or
    covers almost everything (a busy background), the whole image is returned.
    """
    height, width = rgb.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / MASK_WORK_SIDE)))
    small = rgb[::step, ::step].astype(np.int16)
    border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    background = np.median(border, axis=0)
    distance = np.abs(small - background).max(axis=2)
    border_spread = np.abs(border - background).max(axis=1)
    # Noisy or gradient borders raise the bar, so their texture is not taken for the object.
    level = max(MASK_MIN_CONTRAST, 2.0 * float(np.percentile(border_spread, 90)))
    mask = distance > level
    square = np.ones((3, 3), dtype=bool)  # keeps an object's corners, unlike the default cross
    mask = scipy.ndimage.binary_opening(mask, structure=square)
    mask = scipy.ndimage.binary_closing(mask, structure=square, iterations=2)
    mask = scipy.ndimage.binary_fill_holes(mask)
    labels, count = scipy.ndimage.label(mask)
    if count > 1:
        sizes = np.bincount(labels.ravel())[1:]
        mask = labels == (np.argmax(sizes) + 1)
    coverage = mask.mean()
    if coverage < 0.002 or coverage > 0.95:
        logger.info("object mask estimate unusable (coverage %.3f); using the whole image", coverage)
        return np.ones((height, width), dtype=bool)
    if step > 1:
        mask = mask.repeat(step, axis=0).repeat(step, axis=1)[:height, :width]
    return mask


@dataclass(frozen=True)
class FramedImage:
    """A whole photo letterboxed into the model's square input (the pass that finds the object).

    pixels: float32 (3, S, S) in [-1, 1]; scale: input pixels per photo pixel; offset: (x, y) input
    pixel where the photo's corner lands; image_size: the photo's (width, height).
    """

    pixels: np.ndarray
    scale: float
    offset: tuple[float, float]
    image_size: tuple[int, int]


def frame_image(image: Image.Image, size: int = IMAGE_SIZE) -> FramedImage:
    """The whole photo, its longer side resized to ``size`` and centred on a square padded with
    its mean colour (so the padding reads as neither object nor a strong edge)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(rgb.resize((new_w, new_h), Image.Resampling.BILINEAR))
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = resized.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    canvas[top:top + new_h, left:left + new_w] = resized
    pixels = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    return FramedImage(np.ascontiguousarray(pixels), scale, (left, top), (width, height))


# A photographer centres the piece they photograph; a neighbour in view stands to one side. The
# found pieces are weighed by a Gaussian of their centre's distance from the photo's centre, in
# fractions of its sides (chosen on a validation set, training shapes over MATE's photographs).
# A learned ranking did no better (nineteenth session): a softmax over the pieces of the VAE head's
# whole-photo maps, fitted on 2,100 composites of training shapes over the training photographs,
# on the pieces' log mass, centre distance, photo sides touched, mean probability, fill, area and
# border share, kept the right piece no more often than this prior (validation seeds 11 / 7:
# 89-91 % / 88-89 % of photos with a choice, against 90 % / 89 %); where it misses, the pieces'
# shapes and places do not say which one was meant (train.evaluate.decoy_in_view).
CENTRE_SPREAD = 0.25


def piece_scores(probabilities: np.ndarray, level: float = 0.5,
                 spread: float = CENTRE_SPREAD) -> tuple[np.ndarray, np.ndarray]:
    """The connected pieces of a probability map, float (h, w), above `level` and how likely each
    is the object -> (labels int (h, w), 0 outside every piece; scores float (count,), piece k + 1
    at k): its probability mass times exp(-d^2 / (2 spread^2)), d its probability-weighted
    centre's distance from the map's centre (x / w and y / h)."""
    probabilities = np.asarray(probabilities, np.float32)
    labels, count = scipy.ndimage.label(probabilities >= level)
    if count == 0:
        return labels, np.zeros(0)
    index = np.arange(1, count + 1)
    mass = scipy.ndimage.sum_labels(probabilities, labels, index)
    height, width = probabilities.shape
    centres = np.asarray(scipy.ndimage.center_of_mass(probabilities, labels, index)) / (height, width)
    return labels, mass * centre_weight(centres, spread)


def centre_weight(centres: np.ndarray, spread: float = CENTRE_SPREAD) -> np.ndarray:
    """The finder's centre prior: exp(-d^2 / (2 spread^2)) for centres (..., 2) given as (y / h,
    x / w) fractions of the photo, d their distance from its centre (piece_scores)."""
    distance2 = ((np.asarray(centres, np.float64) - 0.5) ** 2).sum(axis=-1)
    return np.exp(-distance2 / (2 * spread ** 2))


def likeliest_piece(probabilities: np.ndarray, level: float = 0.5, spread: float = CENTRE_SPREAD) -> np.ndarray:
    """A probability map, float (h, w), with everything outside its likeliest piece above `level`
    set to 0, values below `level` included (float32; unchanged when there is one piece or none).
    The likeliest piece has the highest piece_scores (most mass, near the centre)."""
    probabilities = np.asarray(probabilities, np.float32)
    labels, scores = piece_scores(probabilities, level, spread)
    if len(scores) > 1:
        probabilities = np.where(labels == 1 + int(np.argmax(scores)), probabilities, 0.0).astype(np.float32)
    return probabilities


# The finder's doubt: another piece of the map scoring at least this share of the kept one's
# (piece_scores) means it may have kept the wrong one, and the app asks for a click. Chosen on the
# validation set (training shapes over MATE's photographs, both heads together; 250 photos, seed
# 11): at 0.3, 13 % of the photos are flagged and 61 % of those are failures (mask IoU < 0.6),
# against 12 % of the others; confirmed on 150 fresh ones (seed 7): 17 % flagged, 40 % against 7 %.
# With the VAE's retrained head alone (the app's finder since; seed 11): 10 % flagged, 58 % against 13 %.
RIVAL_DOUBT = 0.3


def rival_share(probabilities: np.ndarray, level: float = 0.5, spread: float = CENTRE_SPREAD) -> float:
    """How likely the runner-up piece of a probability map, float (h, w), is the object, as a share
    of the likeliest one's (piece_scores) in [0, 1]: 0 with one piece or none, near 1 when two
    pieces are about as likely (compare with RIVAL_DOUBT)."""
    scores = np.sort(piece_scores(probabilities, level, spread)[1])
    if len(scores) < 2 or scores[-1] <= 0:
        return 0.0
    return float(scores[-2] / scores[-1])


def piece_at(mask: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    """The connected piece of a bool mask (H, W) that holds `point` (x, y), pixels of the mask,
    or the piece nearest to it when the point falls on none: a user's click on the object.
    An empty mask comes back empty. Raises InvalidImageError when the point lies outside."""
    mask = np.asarray(mask, bool)
    height, width = mask.shape
    x, y = (float(v) for v in point)
    if not (0 <= x < width and 0 <= y < height):
        raise InvalidImageError(f"the point ({x:g}, {y:g}) lies outside the {width}x{height} photo")
    labels, count = scipy.ndimage.label(mask)
    if count <= 1:
        return mask
    label = labels[int(y), int(x)]
    if label == 0:
        # the nearest object pixel's piece: a click just beside a thin leg still picks its chair
        rows, cols = np.nonzero(labels)
        nearest = np.argmin((rows + 0.5 - y) ** 2 + (cols + 0.5 - x) ** 2)
        label = labels[rows[nearest], cols[nearest]]
    return labels == label


def clear_of_crop_edges(piece: np.ndarray, crop_box: tuple[int, int, int], band: int = 2) -> bool:
    """Whether a piece, bool (H, W) photo pixels, stays more than `band` pixels inside a square crop
    (left, top, side) wherever that square's edge lies inside the photo (the photo's own border does
    not count: an object may reach it). False for an empty piece."""
    rows, cols = np.nonzero(piece)
    if not len(rows):
        return False
    height, width = piece.shape
    left, top, side = crop_box
    right, bottom = left + side - 1, top + side - 1
    return not ((left > 0 and cols.min() <= left + band) or (top > 0 and rows.min() <= top + band)
                or (right < width - 1 and cols.max() >= right - band)
                or (bottom < height - 1 and rows.max() >= bottom - band))


def kept_piece(probabilities: np.ndarray, point: tuple[float, float] | None = None,
               level: float = 0.5) -> np.ndarray:
    """A probability map, float (h, w), with everything outside one piece above `level` set to 0:
    the piece under `point` (x, y), pixels of the map, a user's click (piece_at), or without one
    the likeliest piece (likeliest_piece). float32."""
    if point is None:
        return likeliest_piece(probabilities, level)
    probabilities = np.asarray(probabilities, np.float32)
    return np.where(piece_at(probabilities >= level, point), probabilities, 0.0).astype(np.float32)


def mask_from_frame(probabilities: np.ndarray, framed: FramedImage, level: float = 0.5,
                    point: tuple[float, float] | None = None) -> np.ndarray:
    """A mask predicted on a framed photo, float (S, S) -> bool (H, W) in the photo's pixels:
    the likeliest piece above ``level`` is kept (on the small map, where it is cheap), or the one
    under ``point`` (x, y), photo pixels, a user's click (piece_at); then the map is cut to the
    photo's area and resized to the photo (empty when nothing is above level)."""
    width, height = framed.image_size
    left, top = framed.offset
    if point is not None:
        side = np.shape(probabilities)[1]
        point = tuple(min(v * framed.scale + o, side - 1e-3) for v, o in zip(point, (left, top)))
    probabilities = kept_piece(probabilities, point, level)
    region = (left, top, left + width * framed.scale, top + height * framed.scale)
    resized = Image.fromarray(probabilities, mode="F").resize((width, height), Image.Resampling.BILINEAR,
                                                              box=region)
    return np.asarray(resized) >= level


def bbox_from_mask(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The extent of a non-empty bool mask (H, W): (x0, y0, x1, y1), ends exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def mask_in_box(mask: np.ndarray, box: tuple) -> np.ndarray:
    """A found object mask bool (H, W) narrowed to a user's box (x0, y0, x1, y1), photo pixels,
    ends exclusive: its part inside the box, or the whole box when nothing of it is there.
    Raises InvalidImageError when the box lies outside the photo."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    inside = np.zeros(mask.shape, bool)
    inside[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    if not inside.any():
        raise InvalidImageError(f"the box {tuple(box)} lies outside the {mask.shape[1]}x{mask.shape[0]} photo")
    narrowed = np.asarray(mask, bool) & inside
    return narrowed if narrowed.any() else inside


def _crop_square(array: np.ndarray, box: tuple[int, int, int, int], fill) -> np.ndarray:
    """array[y0:y1, x0:x1] where the box may leave the image; outside is ``fill``."""
    x0, y0, x1, y1 = box
    height, width = array.shape[:2]
    inner = array[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pad = [(max(-y0, 0), max(y1 - height, 0)), (max(-x0, 0), max(x1 - width, 0))]
    pad += [(0, 0)] * (array.ndim - 2)
    return np.pad(inner, pad, constant_values=fill)


def prepare_image(
    image: Image.Image,
    size: int = IMAGE_SIZE,
    mask: np.ndarray | None = None,
    bbox: tuple | None = None,
    background: str = "white",
    jitter: np.random.Generator | None = None,
) -> PreparedImage:
    """Crop the object into a white-padded square and resize it to ``size`` (training and app).

    Mask: the ``mask`` argument (bool (H, W)), else the RGBA alpha (>= 128), else
    ``estimate_mask``. bbox (x0, y0, x1, y1), exclusive ends: the argument, else the mask's box.
    The square has side = longest box side * (1 + 2 * CROP_MARGIN), centred on the box.
    background "white" paints pixels outside the mask white; "keep" leaves them. ``jitter``
    (training only) shifts and scales the square at random. Raises InvalidImageError when the
    object is empty (fully transparent image, empty mask or bbox).
    """
    if background not in ("white", "keep"):
        raise ValueError(f"background must be 'white' or 'keep', got {background!r}")
    if image.mode not in ("RGB", "RGBA"):
        image = _to_rgb_or_rgba(image)
    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (height, width):
            raise InvalidImageError(f"the mask is {mask.shape[::-1]} but the image is {width}x{height}")
        if not mask.any():
            raise InvalidImageError("the object mask is empty: mark at least one pixel of the object")
    elif image.mode == "RGBA":
        mask = np.asarray(image.getchannel("A")) >= 128
        if not mask.any():
            raise InvalidImageError(
                "the image is fully transparent: its alpha channel hides every pixel; "
                "use a picture where the object is opaque, or remove the alpha channel"
            )
    else:
        if np.ptp(rgb) <= FLAT_RANGE:
            raise InvalidImageError(
                "the photo is one flat colour, so there is no object to reconstruct: "
                "use a photo that shows the piece of furniture"
            )
        mask = estimate_mask(rgb)
    if bbox is None:
        bbox = bbox_from_mask(mask)
    x0, y0, x1, y1 = (int(round(v)) for v in bbox)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        raise InvalidImageError(f"the object box {tuple(bbox)} is empty inside the {width}x{height} image")
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * (1 + 2 * CROP_MARGIN)
    if jitter is not None:
        centre_x += jitter.uniform(-JITTER_SHIFT, JITTER_SHIFT) * side
        centre_y += jitter.uniform(-JITTER_SHIFT, JITTER_SHIFT) * side
        side *= jitter.uniform(1 - JITTER_SCALE, 1 + JITTER_SCALE)
    side = max(int(round(side)), 1)
    left, top = int(round(centre_x - side / 2)), int(round(centre_y - side / 2))
    box = (left, top, left + side, top + side)
    if background == "white":
        rgb = np.where(mask[..., None], rgb, np.uint8(255))
    crop_rgb = _crop_square(rgb, box, fill=255)
    crop_mask = _crop_square(mask.astype(np.uint8) * 255, box, fill=0)
    crop = Image.fromarray(crop_rgb).resize((size, size), Image.Resampling.LANCZOS)
    mask_image = Image.fromarray(crop_mask).resize((size, size), Image.Resampling.BILINEAR)
    pixels = (np.asarray(crop, dtype=np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    return PreparedImage(
        pixels=np.ascontiguousarray(pixels),
        crop=crop,
        mask=np.asarray(mask_image) >= 128,
        bbox=(x0, y0, x1, y1),
        crop_box=(left, top, side),
    )


def probabilities_from_crop(probabilities: np.ndarray, prepared: PreparedImage,
                            image_size: tuple[int, int]) -> np.ndarray:
    """A mask predicted on a prepared crop, float (S, S) -> float32 (H, W) in the photo's pixels
    (image_size (W, H)); outside the crop 0."""
    width, height = image_size
    left, top, side = prepared.crop_box
    inside = (max(left, 0), max(top, 0), min(left + side, width), min(top + side, height))
    placed = np.zeros((height, width), np.float32)
    if inside[2] <= inside[0] or inside[3] <= inside[1] or side <= 0:
        return placed
    size = probabilities.shape[0]
    region = tuple((v - o) * size / side for v, o in zip(inside, (left, top, left, top)))
    resized = Image.fromarray(np.asarray(probabilities, np.float32), mode="F").resize(
        (inside[2] - inside[0], inside[3] - inside[1]), Image.Resampling.BILINEAR, box=region)
    placed[inside[1]:inside[3], inside[0]:inside[2]] = np.asarray(resized)
    return placed
