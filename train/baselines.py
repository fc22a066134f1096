"""Baselines that need no learning beyond averaging or lookup, scored next to the models.

Tatarchenko et al. (CVPR 2019, "What do single-view 3D reconstruction networks learn?") showed
that such baselines match many networks; the models must beat them to show they reconstruct
rather than recognise:

- global mean shape: the mean training grid, thresholded at the level that maximises the mean IoU
  over the training grids (the level is chosen on the training set and reported);
- per-category mean shape: the same per category, given the true category of the test image;
- silhouette retrieval: the training shape whose image's object mask best matches the test
  image's mask (IoU of masks pooled to 32 x 32).

All grids are numpy (D, D, D) float32 occupancies at one resolution; masks are (S, S) bool.
"""

from dataclasses import dataclass

import numpy as np

MASK_SIDE = 32  # masks are compared at 32 x 32 (coarse silhouettes, robust to crop jitter)
LEVELS = np.round(np.arange(0.05, 1.0, 0.05), 2)  # candidate thresholds for the mean shapes


def grid_ious(prediction: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """IoU of one bool grid (D, D, D) against each of (N, D, D, D) bool grids -> (N,); empty vs empty = 1."""
    intersection = (truths & prediction).reshape(len(truths), -1).sum(1)
    union = (truths | prediction).reshape(len(truths), -1).sum(1)
    return np.where(union > 0, intersection / np.maximum(union, 1), 1.0)


@dataclass(frozen=True)
class MeanShape:
    """A mean occupancy grid and the threshold chosen for it on the training grids."""

    grid: np.ndarray  # bool (D, D, D), the thresholded mean
    level: float  # threshold applied to the mean occupancy
    training_iou: float  # mean IoU of `grid` over the training grids it was fitted on


def fit_mean_shape(grids: np.ndarray) -> MeanShape:
    """(N, D, D, D) training grids -> the mean thresholded at the level of best training IoU.

    Raises ValueError for an empty set.
    """
    if len(grids) == 0:
        raise ValueError("no training grids to average")
    truths = grids >= 0.5
    mean = truths.mean(0)
    scores = [grid_ious(mean >= level, truths).mean() for level in LEVELS]
    best = int(np.argmax(scores))
    return MeanShape(mean >= LEVELS[best], float(LEVELS[best]), float(scores[best]))


def fit_category_means(grids: np.ndarray, categories: list[str]) -> dict[str, MeanShape]:
    """One MeanShape per category (each with its own training-set threshold)."""
    labels = np.asarray(categories)
    return {category: fit_mean_shape(grids[labels == category]) for category in sorted(set(categories))}


def pool_mask(mask: np.ndarray, side: int = MASK_SIDE) -> np.ndarray:
    """(S, S) bool mask -> (side, side) bool by block any-pooling (S a multiple of side) or nearest sampling."""
    mask = np.asarray(mask, bool)
    size = mask.shape[0]
    if size % side == 0:
        f = size // side
        return mask.reshape(side, f, side, f).any(axis=(1, 3))
    rows = (np.arange(side) + 0.5) * size / side
    return mask[rows.astype(int)][:, rows.astype(int)]


class SilhouetteRetrieval:
    """Nearest training image by mask IoU; predicts that image's shape."""

    def __init__(self, masks: np.ndarray, grids: np.ndarray):
        """masks: (N, S, S) bool training masks; grids: (N, D, D, D) their shapes. Raises ValueError if empty."""
        if len(masks) == 0 or len(masks) != len(grids):
            raise ValueError("need one training grid per training mask, and at least one")
        self.masks = np.stack([pool_mask(m) for m in masks]).reshape(len(masks), -1)
        self.grids = grids

    def nearest(self, mask: np.ndarray) -> int:
        """Index of the training image whose pooled mask has the highest IoU with `mask`."""
        query = pool_mask(mask).reshape(-1)
        intersection = (self.masks & query).sum(1)
        union = (self.masks | query).sum(1)
        return int(np.argmax(intersection / np.maximum(union, 1)))

    def predict(self, mask: np.ndarray) -> np.ndarray:
        return self.grids[self.nearest(mask)]
