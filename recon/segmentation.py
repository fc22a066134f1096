"""The object's edges from the photo's own colours: a GrabCut pass seeded by the mask head.

The mask head sees the object at 128 pixels, so its edges are soft and it spills onto background
of the object's colour or misses thin parts. GrabCut (OpenCV) fits colour models of object and
background to the photo itself and cuts along its edges. It is seeded by the head's probabilities:
above SURE_OBJECT certainly object, below SURE_BACKGROUND certainly background, the band between
left for the colours to decide (the head's 0.5 decides the side it starts on). Thresholds and size
were chosen on a validation set (training shapes over MATE's nature photographs), none of the
evaluation's pictures.
"""
from __future__ import annotations

import cv2
import numpy as np

SURE_OBJECT = 0.9
SURE_BACKGROUND = 0.1
WORK_SIDE = 256  # GrabCut runs with the photo's longer side at most this (the evaluated photos' size)
ITERATIONS = 4
RNG_SEED = 0  # GrabCut's k-means draws from OpenCV's global generator: seeded, one photo, one mask


def refine_by_colour(rgb: np.ndarray, probabilities: np.ndarray, level: float = 0.5) -> np.ndarray:
    """The object mask, bool (H, W), of a photo rgb uint8 (H, W, 3) given the mask head's
    probabilities float (H, W) in [0, 1] on the same pixels.

    Falls back to `probabilities >= level` when GrabCut has nothing to work from: no pixel certainly
    object or none certainly background. Deterministic: OpenCV's global generator, which GrabCut's
    colour models start from, is seeded first (RNG_SEED).
    """
    height, width = probabilities.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(np.ascontiguousarray(rgb[..., :3]), size, interpolation=cv2.INTER_AREA)
    seeds = cv2.resize(np.asarray(probabilities, np.float32), size, interpolation=cv2.INTER_LINEAR)
    labels = np.full(seeds.shape, cv2.GC_BGD, np.uint8)
    labels[seeds >= SURE_BACKGROUND] = cv2.GC_PR_BGD
    labels[seeds >= level] = cv2.GC_PR_FGD
    labels[seeds >= SURE_OBJECT] = cv2.GC_FGD
    if not (labels == cv2.GC_FGD).any() or not (labels == cv2.GC_BGD).any():
        return np.asarray(probabilities) >= level
    cv2.setRNGSeed(RNG_SEED)
    cv2.grabCut(small, labels, None, np.zeros((1, 65)), np.zeros((1, 65)), ITERATIONS, cv2.GC_INIT_WITH_MASK)
    found = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
    return cv2.resize(found, (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
