"""How far the evaluation's figures could move with other test pieces: bootstrap intervals.

The unseen library has few pieces (14; one desk), each seen in many views, so the photos of one
piece are not independent evidence: the resampling unit is the piece. Each draw takes, within
every category, as many pieces as it has, with replacement, and brings all their photos (twice for
a piece drawn twice); categories keep their weight in the mean over categories. The draws depend
only on the photos' piece and category lists and a seed, so runs in separate processes (one per
model) draw the same resamples and can be compared draw by draw: a difference between two models
is judged on paired draws, which is far tighter than two separate intervals. One model's FVD
interval lies mostly above its value: a resample that repeats pieces has less varied true shapes,
which the Fréchet distance reads as a worse match; the paired difference cancels that.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

DRAWS = 200
PERCENTILES = (5.0, 95.0)  # a 90 % interval


def piece_resamples(pieces: list[str], categories: list[str], draws: int = DRAWS, seed: int = 0) -> list[np.ndarray]:
    """Photo indices (int arrays) of `draws` resamples of the pieces, within each category (above).
    pieces, categories: per photo. Raises ValueError for lists of different lengths or none."""
    if len(pieces) != len(categories) or not pieces:
        raise ValueError(f"need one piece and one category per photo, got {len(pieces)} and {len(categories)}")
    photos_of = defaultdict(list)
    for index, piece in enumerate(pieces):
        photos_of[piece].append(index)
    pieces_in = defaultdict(list)
    for piece in sorted(photos_of):
        pieces_in[categories[photos_of[piece][0]]].append(piece)
    rng = np.random.default_rng(seed)
    resamples = []
    for _ in range(draws):
        chosen = [piece for category in sorted(pieces_in)
                  for piece in rng.choice(pieces_in[category], len(pieces_in[category]))]
        resamples.append(np.concatenate([photos_of[piece] for piece in chosen]))
    return resamples


def mean_over_categories(values, categories, indices: np.ndarray) -> float:
    """Mean over the categories of the per-category means of values[indices]."""
    values, categories = np.asarray(values, float)[indices], np.asarray(categories)[indices]
    return float(np.mean([values[categories == c].mean() for c in np.unique(categories)]))


def interval(draws) -> tuple[float, float]:
    low, high = np.percentile(np.asarray(draws, float), PERCENTILES)
    return float(low), float(high)


def ratio_draws(numerator, denominator, categories, resamples) -> list[float]:
    """Per draw: mean over categories of `numerator` / the same of `denominator` (per-photo lists)."""
    return [mean_over_categories(numerator, categories, r) / mean_over_categories(denominator, categories, r)
            for r in resamples]
