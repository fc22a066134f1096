"""recon.segmentation: the photo's colours settle the mask head's edges."""
import numpy as np
import pytest
import scipy.ndimage

from recon.segmentation import refine_by_colour


def iou(found, truth):
    return (found & truth).sum() / (found | truth).sum()


def chair_photo(height=240, width=360, seed=0):
    """A brown chair-like piece (seat, back, two thin legs) on a grey-green noisy floor."""
    rng = np.random.default_rng(seed)
    rgb = (np.array([120, 135, 110]) + rng.normal(0, 12, (height, width, 3))).clip(0, 255)
    truth = np.zeros((height, width), bool)
    truth[60:90, 120:240] = True      # back
    truth[90:130, 120:240] = True     # seat
    truth[130:200, 124:130] = True    # thin legs, 6 pixels wide
    truth[130:200, 230:236] = True
    rgb[truth] = np.array([150, 80, 40]) + rng.normal(0, 8, (truth.sum(), 3))
    return rgb.round().astype(np.uint8), truth


def test_colours_trim_a_spilled_mask_and_recover_a_missed_leg():
    """The head's probabilities spill 3 pixels onto the floor and are unsure of one leg (0.3):
    GrabCut on the photo's colours gives back the piece nearly exactly."""
    rgb, truth = chair_photo()
    spilled = scipy.ndimage.binary_dilation(truth, iterations=3)
    probabilities = scipy.ndimage.gaussian_filter(spilled.astype(np.float32), 2)
    probabilities[scipy.ndimage.binary_erosion(truth, iterations=5)] = 0.97
    leg = np.zeros_like(truth)
    leg[130:200, 226:240] = True
    probabilities[leg] = 0.3
    before = probabilities >= 0.5
    found = refine_by_colour(rgb, probabilities)
    assert found.shape == truth.shape and found.dtype == bool
    assert iou(before, truth) < 0.85
    assert iou(found, truth) > 0.93, iou(found, truth)
    assert found[140:190, 231:235].mean() > 0.8, "the leg the head was unsure of"


def test_a_large_photo_is_cut_at_working_size_and_returned_at_its_own():
    rgb, truth = chair_photo(seed=1)
    big_rgb = np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1)
    big_truth = np.repeat(np.repeat(truth, 4, axis=0), 4, axis=1)
    probabilities = scipy.ndimage.gaussian_filter(
        scipy.ndimage.binary_dilation(big_truth, iterations=12).astype(np.float32), 8)
    probabilities[scipy.ndimage.binary_erosion(big_truth, iterations=20)] = 1.0
    found = refine_by_colour(big_rgb, probabilities)
    assert found.shape == big_truth.shape
    assert iou(found, big_truth) > 0.9 > iou(probabilities >= 0.5, big_truth)


@pytest.mark.parametrize("peak", [0.6, 1.0])
def test_without_sure_object_or_sure_background_the_head_decides(peak):
    """No pixel above 0.9 (nothing sure to learn the object's colours from), or the head's map
    sure everywhere it is above 0.1: the mask is the head's own at 0.5."""
    rgb, truth = chair_photo()
    if peak < 0.9:
        probabilities = np.where(truth, peak, 0.0).astype(np.float32)
    else:
        probabilities = np.full(truth.shape, 0.3, np.float32)  # nothing certainly background
        probabilities[truth] = 1.0
    found = refine_by_colour(rgb, probabilities)
    np.testing.assert_array_equal(found, probabilities >= 0.5)


def test_one_photo_always_gets_one_mask():
    """GrabCut's colour models start from OpenCV's global generator; whatever else drew from it in
    between, the same photo and probabilities give the same mask (the app's and the evaluation's
    results repeat). A shipped photo with a rough box of probabilities, where unseeded runs differ."""
    from pathlib import Path

    import cv2
    from PIL import Image

    photo = Path(__file__).resolve().parents[1] / "examples" / "furniture" / "chair-room.jpg"
    rgb = np.asarray(Image.open(photo).convert("RGB").resize((256, 256)))
    probabilities = np.zeros((256, 256), np.float32)
    probabilities[60:200, 80:180], probabilities[90:170, 100:160] = 0.7, 0.95
    probabilities += np.random.default_rng(0).uniform(0, 0.2, probabilities.shape).astype(np.float32)
    first = refine_by_colour(rgb, probabilities)
    cv2.randu(np.zeros((64, 64), np.float32), 0, 1)  # someone else draws from OpenCV's generator
    assert np.array_equal(first, refine_by_colour(rgb, probabilities))
    assert np.array_equal(first, refine_by_colour(rgb, probabilities))
