"""Composites of a cutout over backgrounds (train/data/composite.py) on hand-made cutouts: a red
block as the object, a green sheet as the other furniture."""

import numpy as np
import pytest

from train.data.backgrounds import plain_background
from train.data.composite import MAX_OCCLUSION, Cutout, compose

SIZE = 64


def red_block() -> Cutout:
    """A red 32 x 48 block in a 64 x 64 cutout, with an anti-aliased (half-covered) left edge."""
    colour = np.zeros((SIZE, SIZE, 3), np.uint8)
    colour[...] = (200, 20, 20)
    coverage = np.zeros((SIZE, SIZE), np.uint8)
    coverage[8:56, 16:48] = 255
    coverage[8:56, 15] = 128
    return Cutout(colour, coverage)


def green_sheet() -> Cutout:
    """Other furniture: green, covering its whole cutout."""
    colour = np.zeros((SIZE, SIZE, 3), np.uint8)
    colour[...] = (20, 200, 20)
    return Cutout(colour, np.full((SIZE, SIZE), 255, np.uint8))


def object_pixels() -> np.ndarray:
    return red_block().coverage >= 128


def test_compose_repeats_per_seed():
    first = compose(red_block(), np.random.default_rng(5), distractor=green_sheet)
    again = compose(red_block(), np.random.default_rng(5), distractor=green_sheet)
    other = compose(red_block(), np.random.default_rng(6), distractor=green_sheet)
    assert np.array_equal(first.rgb, again.rgb) and np.array_equal(first.mask, again.mask)
    assert first.kind == again.kind
    assert first.rgb.shape == (SIZE, SIZE, 3) and first.rgb.dtype == np.uint8 and first.mask.dtype == bool
    assert not np.array_equal(first.rgb, other.rgb)


def occluded_composites(count: int = 3):
    """The first seeds whose composite has furniture in front hiding at least 5 % of the object."""
    found = []
    for seed in range(200):
        composite = compose(red_block(), np.random.default_rng(seed), distractor=green_sheet, kind="plain")
        if composite.mask.sum() < 0.95 * object_pixels().sum():
            found.append(composite)
            if len(found) == count:
                break
    assert found, "no seed put the distractor in front of the object"
    return found


def test_the_mask_is_the_visible_part_of_the_object():
    whole = object_pixels()
    for composite in occluded_composites():
        assert not (composite.mask & ~whole).any()  # never outside the object's coverage
        hidden = whole & ~composite.mask
        assert hidden.sum() <= (MAX_OCCLUSION + 0.05) * whole.sum()
        # hidden pixels show the green furniture in front, visible ones the red object (on average:
        # blur and the furniture's soft edge mix a band of a few pixels)
        red, green = (composite.rgb[..., channel].astype(float) for channel in (0, 1))
        assert green[hidden].mean() > red[hidden].mean() + 50
        assert red[composite.mask].mean() > green[composite.mask].mean() + 50


def test_without_a_distractor_the_mask_is_the_whole_object():
    for seed in range(5):
        composite = compose(red_block(), np.random.default_rng(seed), kind="room", clutter=False)
        assert np.array_equal(composite.mask, object_pixels())


def test_white_background_stays_white_around_the_object():
    calls = []

    def distractor():
        calls.append(1)
        return green_sheet()

    for seed in range(4):
        composite = compose(red_block(), np.random.default_rng(seed), distractor=distractor, kind="white",
                            effects=False)
        assert composite.kind == "white"
        outside = composite.rgb[red_block().coverage == 0]
        assert outside.min() >= 250 and np.ptp(outside) == 0  # one white, no shadow, no clutter
        assert np.array_equal(composite.mask, object_pixels())
    assert not calls  # a white product shot has no other furniture in it


def test_frame_shrinks_the_object_into_the_picture():
    whole = object_pixels().sum()
    for seed in range(6):
        composite = compose(red_block(), np.random.default_rng(seed), kind="plain", frame=True, effects=False)
        assert composite.framed
        share = composite.mask.sum() / whole
        assert 0.3**2 * 0.8 < share < 0.9**2 * 1.1  # scaled by 0.3-0.9 per side
        rgb = composite.rgb[composite.mask].astype(int)
        assert np.mean(rgb[:, 0] > rgb[:, 1]) > 0.9  # the mask still marks the red object
    assert not compose(red_block(), np.random.default_rng(0), kind="plain").framed


@pytest.mark.parametrize("kind", ["plain", "white"])
def test_without_effects_pixels_are_exactly_alpha_composited(kind):
    cutout = red_block()
    composite = compose(cutout, np.random.default_rng(9), kind=kind, effects=False)
    # the background is the only draw: replay it from the same seed
    replay = np.random.default_rng(9)
    if kind == "plain":
        background = plain_background(SIZE, SIZE, replay).astype(np.float32)
    else:
        background = np.full((SIZE, SIZE, 3), 255 - replay.integers(0, 6), np.float32)
    alpha = (cutout.coverage.astype(np.float32) / 255)[..., None]
    expected = np.clip(cutout.colour.astype(np.float32) * alpha + background * (1 - alpha), 0, 255).round()
    assert np.array_equal(composite.rgb, expected.astype(np.uint8))
    edge = composite.rgb[20, 15].astype(int)  # the half-covered column mixes object and background
    assert np.abs(edge - (np.array([200, 20, 20]) + background[20, 15]) / 2).max() <= 1


def test_clutter_shapes_are_soft_silhouettes_that_repeat_per_seed():
    from train.data.composite import clutter_shape

    shapes = [clutter_shape(np.random.default_rng(seed), 96, 128) for seed in range(30)]
    assert all(s.shape == (96, 128) and s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1 for s in shapes)
    covered = [float((s > 0.5).mean()) for s in shapes]
    assert sum(c > 0.005 for c in covered) >= 25  # nearly always something in view
    assert max(covered) < 0.8  # a thing in the room, never the whole frame
    assert np.array_equal(shapes[3], clutter_shape(np.random.default_rng(3), 96, 128))


def _edge_energy(rgb: np.ndarray, outside: np.ndarray) -> float:
    import cv2

    grey = cv2.GaussianBlur(rgb.astype(np.float32).mean(axis=2), (0, 0), 1.5)
    return float(np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))[outside].mean())


def test_clutter_puts_things_in_view_but_never_in_the_mask():
    whole = object_pixels()
    outside = ~(np.roll(whole, 3, 1) | np.roll(whole, -3, 1)
                                                             | np.roll(whole, 3, 0) | np.roll(whole, -3, 0) | whole)
    energy = {True: 0.0, False: 0.0}
    hidden = 0
    for seed in range(40):
        for clutter in (True, False):
            composite = compose(red_block(), np.random.default_rng(seed), kind="plain", clutter=clutter)
            assert not (composite.mask & ~whole).any()
            energy[clutter] += _edge_energy(composite.rgb, outside)
            if composite.mask.sum() < whole.sum():  # no distractor: only clutter in front can hide it
                assert clutter
                assert composite.mask.sum() >= (1 - MAX_OCCLUSION) * whole.sum() - 1
                hidden += 1
    assert energy[True] > 1.5 * energy[False]  # outlines of things, on a smooth plain backdrop
    assert hidden >= 1


def test_other_furniture_is_recorded_where_it_shows():
    """Composite.others: the visible pixels of each other piece, never the object's, showing its colour."""
    shown = 0
    for seed in range(30):
        composite = compose(red_block(), np.random.default_rng(seed), distractor=green_sheet, kind="plain",
                            clutter=False)
        red, green = (composite.rgb[..., channel].astype(float) for channel in (0, 1))
        for other in composite.others:
            assert other.shape == composite.mask.shape and other.dtype == bool and other.any()
            assert not (other & composite.mask).any()
            assert green[other].mean() > red[other].mean() + 50
            shown += 1
        # green that the background cannot explain lies inside the recorded pieces
        plain = plain_background(SIZE, SIZE, np.random.default_rng(seed)).astype(float)
        if plain[..., 1].max() < 120:
            greenish = (green > red + 100) & (green > 150)
            union = np.any(composite.others, axis=0) if composite.others else np.zeros_like(composite.mask)
            assert greenish[~union].sum() <= 0.05 * max(greenish.sum(), 1) + 4
    assert shown >= 5
    assert compose(red_block(), np.random.default_rng(0), kind="plain").others == ()
