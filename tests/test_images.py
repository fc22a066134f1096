import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from recon.errors import InvalidImageError
from recon.images import (IMAGE_SIZE, MAX_PIXELS, estimate_mask, frame_image, load_image, mask_from_frame,
                          prepare_image)


def encode(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def scene_rgb(width=80, height=60):
    """White photo with a red block whose left half is darker: left/right and up/down differ."""
    rgb = np.full((height, width, 3), 255, dtype=np.uint8)
    rgb[20:50, 30:60] = (200, 30, 30)
    rgb[20:50, 30:45] = (120, 10, 10)
    return rgb


def png_header_only(width, height):
    """A tiny PNG whose header claims width x height; its data would never decode."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("mode", "fmt", "expected"),
    [
        ("L", "PNG", "RGB"),
        ("1", "PNG", "RGB"),
        ("P", "GIF", "RGB"),
        ("CMYK", "JPEG", "RGB"),
        ("RGB", "WEBP", "RGB"),
        ("RGB", "BMP", "RGB"),
        ("RGB", "TIFF", "RGB"),
        ("LA", "PNG", "RGBA"),
        ("RGBA", "PNG", "RGBA"),
    ],
)
def test_modes_and_formats_convert(mode, fmt, expected):
    image = Image.fromarray(scene_rgb()).convert(mode)
    if expected == "RGBA":
        image.putalpha(Image.fromarray((scene_rgb()[..., 0] < 250).astype(np.uint8) * 255))
    loaded = load_image(encode(image, fmt))
    assert loaded.mode == expected and loaded.size == (80, 60)


def test_sixteen_bit_and_float_grayscale_scale_to_8_bit(tmp_path):
    values = np.linspace(0, 65535, 80 * 60).reshape(60, 80).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    loaded = np.asarray(load_image(path))
    assert loaded[0, 0, 0] == 0 and loaded[-1, -1, 0] == 255 and loaded[30, 40, 0] in range(120, 136)
    floats = Image.fromarray(np.full((20, 20), 0.5, dtype=np.float32))
    assert np.asarray(load_image(floats))[0, 0, 0] in (127, 128)
    ints = Image.fromarray(np.full((20, 20), 65535, dtype=np.int32))
    assert np.asarray(load_image(ints))[0, 0, 0] == 255


def test_palette_with_transparency_becomes_rgba():
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    palette.paste(1, (5, 5, 15, 15))
    loaded = load_image(encode(palette, "PNG", transparency=0))
    assert loaded.mode == "RGBA"
    alpha = np.asarray(loaded.getchannel("A"))
    assert alpha[0, 0] == 0 and alpha[10, 10] == 255


def test_opaque_alpha_is_dropped():
    assert load_image(encode(Image.fromarray(scene_rgb()).convert("RGBA"), "PNG")).mode == "RGB"


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert load_image(data).getpixel((8, 8))[0] > 200


@pytest.mark.parametrize(("orientation", "dark_corner"), [(6, (59, 0)), (8, (0, 79))])
def test_exif_orientation_is_applied(orientation, dark_corner):
    # Stored 80 x 60 with a dark top-left corner; the viewer turns it upright to 60 x 80.
    rgb = np.full((60, 80, 3), 255, dtype=np.uint8)
    rgb[:10, :10] = 0
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = load_image(encode(Image.fromarray(rgb), "JPEG", exif=exif, quality=95))
    assert loaded.size == (60, 80)
    assert max(loaded.getpixel(dark_corner)) < 60  # 6: rotated clockwise; 8: counter-clockwise
    assert min(loaded.getpixel((30, 40))) > 200


def test_truncated_files_raise(tmp_path):
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    for fmt in ("PNG", "JPEG"):
        data = encode(photo, fmt)
        path = tmp_path / f"cut.{fmt.lower()}"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InvalidImageError, match="truncated or corrupt"):
            load_image(path)


def test_not_an_image_empty_missing(tmp_path):
    (tmp_path / "notes.png").write_text("this is text, renamed")
    with pytest.raises(InvalidImageError, match="not an image"):
        load_image(tmp_path / "notes.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InvalidImageError, match="empty"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(InvalidImageError, match="not found"):
        load_image(tmp_path / "missing.jpg")


def test_decompression_bomb_refused_from_header():
    data = png_header_only(10_000, 10_000)
    assert len(data) < 200 and 10_000 * 10_000 > MAX_PIXELS
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(data)
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(png_header_only(50_000, 50_000))  # past Pillow's own bomb limit too


def test_tiny_images_refused():
    for size in ((1, 1), (7, 100)):
        with pytest.raises(InvalidImageError, match="too small"):
            load_image(encode(Image.new("RGB", size), "PNG"))


def test_prepare_uses_alpha_as_mask():
    rgba = np.zeros((60, 80, 4), dtype=np.uint8)
    rgba[..., :3] = 90  # grey background that the alpha hides
    rgba[10:50, 20:40] = (30, 120, 200, 255)
    prepared = prepare_image(Image.fromarray(rgba))
    assert prepared.bbox == (20, 10, 40, 50)
    assert prepared.pixels.shape == (3, IMAGE_SIZE, IMAGE_SIZE) and prepared.pixels.dtype == np.float32
    assert prepared.pixels.min() >= -1 and prepared.pixels.max() <= 1
    crop = np.asarray(prepared.crop)
    assert tuple(crop[0, 0]) == (255, 255, 255)  # outside the object is white
    assert tuple(crop[64, 64]) == (30, 120, 200)
    # Object 40 px tall with 10% margins: 48 px square -> rows 0.1 * 40 / 48 * 128 ~ 11 px blank.
    rows = np.flatnonzero(prepared.mask.any(axis=1))
    assert abs(rows[0] - 11) <= 1 and abs(rows[-1] - 116) <= 1
    assert np.allclose(prepared.pixels, np.asarray(prepared.crop, np.float32).transpose(2, 0, 1) / 127.5 - 1)


def test_prepare_fully_transparent_raises():
    with pytest.raises(InvalidImageError, match="fully transparent"):
        prepare_image(Image.new("RGBA", (40, 40), (255, 0, 0, 0)))


def test_prepare_estimates_mask_from_border_and_keeps_orientation():
    prepared = prepare_image(Image.fromarray(scene_rgb()))
    assert prepared.bbox == (30, 20, 60, 50)
    crop = np.asarray(prepared.crop).astype(int)
    assert crop[64, 30, 0] < crop[64, 100, 0]  # darker half still on the left


def test_estimate_mask_keeps_largest_piece_and_falls_back():
    rgb = scene_rgb()
    rgb[2:4, 2:4] = 0  # a speck of dust
    mask = estimate_mask(rgb)
    assert mask[30, 40] and not mask[3, 3] and mask.sum() == 30 * 30
    noise = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    assert estimate_mask(noise).all()  # busy picture: whole image
    assert estimate_mask(np.full((60, 80, 3), 128, np.uint8)).all()  # blank picture: whole image


def test_prepare_mask_and_bbox_arguments_and_keep_background():
    rgb = scene_rgb()
    mask = np.zeros((60, 80), dtype=bool)
    mask[20:50, 45:60] = True  # only the right half
    prepared = prepare_image(Image.fromarray(rgb), mask=mask, background="keep", size=64)
    assert prepared.bbox == (45, 20, 60, 50) and prepared.crop.size == (64, 64)
    assert tuple(np.asarray(prepared.crop)[32, 5]) != (255, 255, 255)  # kept dark half shows
    boxed = prepare_image(Image.fromarray(rgb), bbox=(0, 0, 80, 60))
    assert boxed.bbox == (0, 0, 80, 60)
    with pytest.raises(InvalidImageError, match="mask is empty"):
        prepare_image(Image.fromarray(rgb), mask=np.zeros((60, 80), dtype=bool))


def test_jitter_is_seeded_and_moves_the_crop():
    image = Image.fromarray(scene_rgb())
    first = prepare_image(image, jitter=np.random.default_rng(4)).pixels
    again = prepare_image(image, jitter=np.random.default_rng(4)).pixels
    plain = prepare_image(image).pixels
    assert np.array_equal(first, again) and not np.array_equal(first, plain)


# ---------------------------------------------------------------- whole-photo framing (the object-finding pass)


def test_frame_image_letterboxes_the_whole_photo():
    framed = frame_image(Image.fromarray(scene_rgb(width=80, height=40)), size=64)
    assert framed.pixels.shape == (3, 64, 64) and framed.pixels.dtype == np.float32
    assert framed.scale == pytest.approx(64 / 80) and framed.offset == (0, 16) and framed.image_size == (80, 40)
    rgb = np.round((framed.pixels.transpose(1, 2, 0) + 1) * 127.5).astype(int)
    mean = scene_rgb(width=80, height=40).reshape(-1, 3).mean(axis=0)
    assert np.abs(rgb[:16] - mean).max() <= 1 and np.abs(rgb[48:] - mean).max() <= 1  # padding: the mean colour
    assert np.abs(rgb[40, 42] - (200, 30, 30)).max() <= 10  # photo pixel (52, 30), the block, at scale 0.8
    tall = frame_image(Image.fromarray(scene_rgb(width=30, height=60)), size=64)
    assert tall.offset == (16, 0) and tall.scale == pytest.approx(64 / 60)


def test_a_mask_found_in_the_frame_maps_back_onto_the_photo():
    truth = np.zeros((40, 80), bool)
    truth[10:30, 20:50] = True
    photo = np.where(truth[..., None], 200, 60).repeat(3, axis=2).astype(np.uint8)
    framed = frame_image(Image.fromarray(photo), size=64)
    left, top = framed.offset
    probabilities = np.zeros((64, 64), np.float32)
    probabilities[top + 8:top + 24, left + 16:left + 40] = 0.9  # the block, in frame pixels (x 0.8)
    probabilities[top + 2, left + 2] = 0.8  # a speck elsewhere: dropped, only the likeliest piece stays
    found = mask_from_frame(probabilities, framed)
    assert found.shape == (40, 80) and found.dtype == bool
    assert (found & truth).sum() / (found | truth).sum() > 0.9
    assert not found[:5, :10].any()
    assert not mask_from_frame(np.zeros((64, 64), np.float32), framed).any()


def test_likeliest_piece_keeps_one_region_above_the_level():
    from recon.images import likeliest_piece

    probabilities = np.zeros((20, 30), np.float32)
    probabilities[2:6, 2:6] = 0.9  # 16 pixels in a corner
    probabilities[8:16, 10:20] = 0.7  # 80 pixels at the centre: kept
    probabilities[0, 29] = 0.3  # below the level, outside the piece: cleared too
    kept = likeliest_piece(probabilities)
    assert kept.dtype == np.float32
    assert (kept[2:6, 2:6] == 0).all() and (kept[8:16, 10:20] == 0.7).all() and kept[0, 29] == 0
    single = np.zeros((5, 5), np.float32)
    single[1:3, 1:3] = 0.8
    assert np.array_equal(likeliest_piece(single), single)


def test_likeliest_piece_prefers_the_centred_piece_unless_the_other_is_far_larger():
    """A neighbour at the photo's edge as large as the centred piece loses to it; one ten times
    its mass still wins; with no centre weighting (a huge spread) mass alone decides."""
    from recon.images import likeliest_piece

    probabilities = np.zeros((100, 100), np.float32)
    probabilities[40:60, 40:60] = 0.8  # centred, 400 pixels
    probabilities[40:60, 0:25] = 0.8  # at the left edge, 500 pixels
    assert (likeliest_piece(probabilities)[40:60, 40:60] > 0).all()
    assert (likeliest_piece(probabilities, spread=1e3)[40:60, 0:25] > 0).all()
    probabilities[0:100, 0:30] = 0.8  # the edge piece now 3,000 pixels
    probabilities[45:55, 45:55], probabilities[40:60, 40:60] = 0.8, 0.0
    kept = likeliest_piece(probabilities)
    assert (kept[:, 0:30] > 0).all() and not kept[45:55, 45:55].any()


def test_the_rival_share_says_how_close_the_runner_up_piece_came():
    """One piece or none: no doubt (0); two like pieces placed alike: about 1; a small piece at the
    edge beside a large centred one: far below RIVAL_DOUBT; piece_scores labels every piece."""
    from recon.images import RIVAL_DOUBT, piece_scores, rival_share

    probabilities = np.zeros((100, 100), np.float32)
    assert rival_share(probabilities) == 0.0 and len(piece_scores(probabilities)[1]) == 0
    probabilities[40:60, 40:60] = 0.8
    assert rival_share(probabilities) == 0.0
    probabilities[40:60, 5:15] = 0.8  # 200 pixels at the left edge against 400 at the centre
    labels, scores = piece_scores(probabilities)
    assert labels.max() == 2 and len(scores) == 2 and labels[50, 50] > 0 and labels[50, 10] > 0
    assert 0 < rival_share(probabilities) < RIVAL_DOUBT / 2
    twins = np.zeros((100, 100), np.float32)
    twins[40:60, 20:40] = 0.8
    twins[40:60, 60:80] = 0.8  # mirror images about the centre
    assert rival_share(twins) == pytest.approx(1.0, abs=0.05)
    assert rival_share(twins, level=0.9) == 0.0  # nothing above the level


def test_a_found_mask_narrowed_to_a_users_box():
    from recon.errors import InvalidImageError
    from recon.images import bbox_from_mask, mask_in_box

    found = np.zeros((40, 60), bool)
    found[5:15, 5:15] = True  # another thing, outside the box
    found[20:30, 30:50] = True  # the object, partly inside
    narrowed = mask_in_box(found, (35, 18, 60, 40))
    assert bbox_from_mask(narrowed) == (35, 20, 50, 30) and narrowed.sum() == 10 * 15
    assert mask_in_box(found, (0, 32, 20, 40)).sum() == 20 * 8  # nothing found in it: the box itself
    assert mask_in_box(found, (-10, -5, 3.4, 2.6)).sum() == 3 * 3  # rounded, clipped to the photo
    with pytest.raises(InvalidImageError, match="outside the 60x40 photo"):
        mask_in_box(found, (70, 0, 90, 10))


def test_piece_at_keeps_the_clicked_piece_or_the_nearest_one():
    from recon.images import piece_at

    mask = np.zeros((40, 60), bool)
    mask[5:15, 5:15] = True  # left piece
    mask[10:35, 30:55] = True  # right piece, larger
    left, right = np.zeros_like(mask), np.zeros_like(mask)
    left[5:15, 5:15], right[10:35, 30:55] = True, True
    assert np.array_equal(piece_at(mask, (9.5, 9.5)), left)
    assert np.array_equal(piece_at(mask, (40.0, 20.0)), right)
    assert np.array_equal(piece_at(mask, (17.0, 10.0)), left)  # beside the left piece: 3 px from it
    assert np.array_equal(piece_at(mask, (27.0, 30.0)), right)  # beside the right one
    assert np.array_equal(piece_at(left, (50.0, 30.0)), left)  # one piece: kept wherever the click
    assert not piece_at(np.zeros_like(mask), (3.0, 3.0)).any()
    for point in [(60.0, 5.0), (-1.0, 5.0), (5.0, 40.0)]:
        with pytest.raises(InvalidImageError, match="outside"):
            piece_at(mask, point)


def test_kept_piece_keeps_the_clicked_piece_or_else_the_likeliest():
    """The map keeps its values on one piece only: the clicked one (even the smaller, off-centre
    piece), or without a click the likeliest (here the large centred one)."""
    from recon.images import kept_piece

    probabilities = np.zeros((40, 40), np.float32)
    probabilities[2:8, 2:8] = 0.9  # small, in a corner
    probabilities[12:30, 12:30] = 0.7  # large, centred
    clicked = kept_piece(probabilities, (4.0, 4.0))
    assert clicked.dtype == np.float32
    assert (clicked[2:8, 2:8] == 0.9).all() and not clicked[12:30, 12:30].any()
    likeliest = kept_piece(probabilities)
    assert (likeliest[12:30, 12:30] == 0.7).all() and not likeliest[2:8, 2:8].any()
