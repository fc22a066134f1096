from collections import Counter

import numpy as np
import pytest

from train.piece_bootstrap import interval, mean_over_categories, piece_resamples, ratio_draws

# 3 chairs (views 4, 4, 2) and 1 desk (3 views), photos interleaved as a test set lists them
PIECES = ["c1"] * 4 + ["d1"] * 3 + ["c2"] * 4 + ["c3"] * 2
CATEGORIES = ["chair"] * 4 + ["desk"] * 3 + ["chair"] * 6


def test_resamples_draw_whole_pieces_within_each_category_and_depend_only_on_the_seed():
    draws = piece_resamples(PIECES, CATEGORIES, draws=50, seed=3)
    assert len(draws) == 50
    for indices in draws:
        drawn = Counter(PIECES[i] for i in indices)
        views = Counter(PIECES)
        # every drawn piece brings all its views (twice when drawn twice); the desk always comes
        assert all(count % views[piece] == 0 for piece, count in drawn.items())
        assert drawn["d1"] == 3
        assert sum(count // views[piece] for piece, count in drawn.items() if piece != "d1") == 3
    assert all(np.array_equal(a, b) for a, b in zip(draws, piece_resamples(PIECES, CATEGORIES, 50, seed=3)))
    assert not all(np.array_equal(a, b) for a, b in zip(draws, piece_resamples(PIECES, CATEGORIES, 50, seed=4)))
    assert len({tuple(sorted(d)) for d in draws}) > 5  # they do differ
    with pytest.raises(ValueError):
        piece_resamples(PIECES, CATEGORIES[:-1])


def test_interval_spans_what_other_pieces_could_give():
    # one category, two pieces: every photo of a scores 0.2, of b 0.6. A draw is {a, a}, {a, b} or
    # {b, b}: means 0.2, 0.4, 0.6, so the 90 % interval runs from 0.2 to 0.6
    pieces, categories = ["a"] * 3 + ["b"] * 3, ["chair"] * 6
    values = [0.2] * 3 + [0.6] * 3
    means = [mean_over_categories(values, categories, r) for r in piece_resamples(pieces, categories, 400, seed=0)]
    assert set(np.round(means, 6)) == {0.2, 0.4, 0.6}
    assert interval(means) == pytest.approx((0.2, 0.6))


def test_ratio_of_a_model_twice_as_good_as_the_baseline_on_every_photo_is_exactly_two():
    rng = np.random.default_rng(0)
    baseline = rng.uniform(0.1, 0.4, len(PIECES))
    draws = ratio_draws(2 * baseline, baseline, CATEGORIES, piece_resamples(PIECES, CATEGORIES, 30))
    assert np.allclose(draws, 2.0)
    # mean over categories: the desk weighs as much as the three chairs together
    assert mean_over_categories([1.0] * 4 + [0.0] * 3 + [1.0] * 6, CATEGORIES, np.arange(13)) == 0.5
