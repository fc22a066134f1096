"""recon.ar.find_sheet: a sheet of paper found without clicks, at exactly known corners.

Every photo is made here (tests/sheets.py): a procedural plank floor, a sheet drawn by its exact
homography with shading, an edge shadow, blur, noise and JPEG, and the corners that drawing used.
"""

import numpy as np
import pytest

from recon.ar import A4_ASPECT, LETTER_ASPECT, camera_from_corners, find_sheet
from recon.ar.sheet import _label_corners
from tests import sheets

SIZE = (960, 720)


def photo_with_sheet(seed, aspect=A4_ASPECT, look=sheets.SheetLook()):
    rng = np.random.default_rng(seed)
    floor = sheets.wood_floor(rng, SIZE)
    corners = sheets.sheet_corners(rng, SIZE, aspect, look)
    return sheets.draw_sheet(floor, corners, rng, look), corners


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a4_sheet_found_within_a_pixel(seed):
    photo, corners = photo_with_sheet(seed)
    found = find_sheet(photo)
    assert found is not None
    assert found.shape == (4, 2) and found.dtype == np.float64
    assert sheets.corner_error(found, corners) < 1.0


def test_corners_read_as_an_a4_sheet_the_right_way_round():
    photo, _ = photo_with_sheet(3)
    found = find_sheet(photo)
    # TL -> TR is a short side: the rectangle recovered with its width as 1 is sqrt(2) long.
    camera = camera_from_corners(found, SIZE)
    assert camera.plane_size[1] == pytest.approx(A4_ASPECT, rel=0.06)


def test_letter_sheet_found_as_letter():
    photo, corners = photo_with_sheet(4, LETTER_ASPECT)
    found = find_sheet(photo, aspect=LETTER_ASPECT)
    assert found is not None
    assert sheets.corner_error(found, corners) < 1.0


@pytest.mark.parametrize("seed", [5, 6])
def test_turned_steeply_tilted_small_sheet_over_planks(seed):
    look = sheets.SheetLook(tilt_deg=(60.0, 70.0), long_side_px=(70.0, 110.0), noise_sigma=(4.0, 4.0),
                            jpeg_quality=(70, 70))
    photo, corners = photo_with_sheet(seed, look=look)
    found = find_sheet(photo)
    assert found is not None
    assert sheets.corner_error(found, corners) < 1.5


@pytest.mark.parametrize("aspect", [1.0, 2.0])
def test_rectangle_of_another_shape_is_mostly_no_a4_sheet(aspect):
    """Only perspective tells a rectangle's shape (a far, small one could be any rectangle), so
    the poses here are close and wide-angle; most must be refused as A4, all found as themselves."""
    look = sheets.SheetLook(tilt_deg=(60.0, 70.0), long_side_px=(260.0, 300.0), focal=(0.6, 0.7))
    refused = 0
    for seed in range(8):
        photo, corners = photo_with_sheet(seed, aspect, look)
        found = find_sheet(photo, aspect=aspect)
        assert found is not None and sheets.corner_error(found, corners, square=aspect == 1.0) < 1.0
        refused += find_sheet(photo) is None
    assert refused >= 5


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_empty_floor_has_no_sheet(seed):
    rng = np.random.default_rng(seed)
    assert find_sheet(sheets.plain_photo(sheets.wood_floor(rng, SIZE), rng)) is None


@pytest.mark.parametrize("bad", [np.zeros((50, 50), np.uint8), np.zeros((50, 50, 3), np.float32),
                                 np.zeros((50, 50, 4), np.uint8)])
def test_not_an_rgb_image_is_refused(bad):
    with pytest.raises(ValueError, match="RGB"):
        find_sheet(bad)


def test_aspect_below_one_is_refused():
    with pytest.raises(ValueError, match="long side"):
        find_sheet(np.zeros((50, 50, 3), np.uint8), aspect=0.7)


def photo_with_sheet_against_white(seed, look=sheets.SheetLook(paper=(0.9, 0.9))):
    """A sheet whose top side lies along a region as white as the paper (a white board beyond
    that side's line): that side keeps only the faint step of the paper's shading and shadow."""
    rng = np.random.default_rng(seed)
    floor = sheets.wood_floor(rng, SIZE)
    corners = sheets.sheet_corners(rng, SIZE, A4_ASPECT, look)
    start, end = corners[0], corners[1]
    normal = np.array([end[1] - start[1], start[0] - end[0]])
    if normal @ (corners[2:].mean(0) - start) > 0:
        normal = -normal  # away from the sheet
    ys, xs = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    floor[(xs - start[0]) * normal[0] + (ys - start[1]) * normal[1] > 0] = round(0.9 * 255)
    return sheets.draw_sheet(floor, corners, rng, look), corners


@pytest.mark.parametrize("seed", [16, 24, 26])
def test_sheet_with_one_side_against_an_equally_white_region(seed):
    """One side's edge is faint and partly missing; the other three are clear (on these seeds;
    on others the side is gone altogether and nothing is found)."""
    photo, corners = photo_with_sheet_against_white(seed)
    found = find_sheet(photo)
    assert found is not None
    assert sheets.corner_error(found, corners) < 3.0


@pytest.mark.parametrize("seed", [274, 357])
def test_far_sheet_that_fits_either_way_round_is_read_with_a_focal_inside_the_range(seed):
    """Corners 0.3 px off that a rectangle of A4's aspect fits both ways round; the wrong way
    fits a little closer, but only with a focal at the end of the range."""
    rng = np.random.default_rng(seed)
    corners = sheets.sheet_corners(rng, SIZE, A4_ASPECT)
    noisy = corners + rng.normal(0.0, 0.3, corners.shape)
    labelled = _label_corners(noisy, SIZE, A4_ASPECT)
    assert labelled is not None
    assert sheets.corner_error(labelled, corners) < 2.0


@pytest.mark.parametrize("seed", [0, 16])
def test_quick_screens_drop_only_candidates_the_full_fit_rejects(seed):
    """_edges_may_fit is the first pass of the edge fit, vectorised: every candidate it drops
    fails _refined_quad too, it drops most of them, and neither screen drops the sheet."""
    from recon.ar import sheet

    photo, corners = photo_with_sheet_against_white(seed) if seed == 16 else photo_with_sheet(seed)
    search = sheet._search(photo)
    may_fit = sheet._edges_may_fit(search.corners, search.smooth)
    assert not (search.worth & ~may_fit).any()  # worth is both screens
    refined = [sheet._refined_quad(quad, photo, search.whiteness, search.smooth, search.photo_median)
               for quad in search.corners]
    assert all(found is None for found, keep in zip(refined, may_fit) if not keep)
    assert (~may_fit).sum() >= len(search.corners) // 2
    near = [i for i, found in enumerate(refined)
            if found is not None and sheets.corner_error(found[0], corners, square=True) < 3.0]
    assert near and all(search.worth[i] for i in near)
