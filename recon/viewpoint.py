"""The camera's viewpoint on the object, in the object's canonical frame (DESIGN.md).

A camera at azimuth ``az`` and elevation ``el`` (degrees) sits in the direction
``(sin(az) cos(el), sin(el), cos(az) cos(el))`` from the object's centre and looks at it:

::

    seen from above (+Y toward you), the object's front faces +Z (down the page)

                 az = 180 (behind)
                       |
       az = 270 ---- object ---- az = 90   (+X, the right of a viewer facing the front)
                       |
                 az = 0 (in front, on +Z)

Elevation is positive above. "Right" and "left" below always mean the side of a viewer who faces
the object's front (+X is right), never the object's own hands.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

# The usual photo of furniture: from the front, a little above (Pix3D's mean elevation is 15).
DEFAULT_AZIMUTH_DEG = 0.0
DEFAULT_ELEVATION_DEG = 15.0


def camera_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector (3,) from the object's centre toward the camera."""
    azimuth, elevation = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                     np.cos(azimuth) * np.cos(elevation)])


def image_axes(azimuth_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, toward_camera) unit vectors (3,) of the image plane for a camera that looks at
    the centre with its image up as close to +Y as possible (|elevation| < 90)."""
    toward = camera_direction(azimuth_deg, elevation_deg)
    right = np.cross(np.array([0.0, 1.0, 0.0]), toward)  # up x backward = right
    right /= np.linalg.norm(right)
    up = np.cross(toward, right)
    return right, up, toward


def viewpoint_or_default(azimuth_deg: float | None, elevation_deg: float | None) -> tuple[float, float]:
    """The viewpoint given, or (DEFAULT_AZIMUTH_DEG, DEFAULT_ELEVATION_DEG) when either is None
    (a model without viewpoint heads); the fallback is logged."""
    if azimuth_deg is None or elevation_deg is None:
        logger.info("no predicted viewpoint: assuming azimuth %g, elevation %g",
                    DEFAULT_AZIMUTH_DEG, DEFAULT_ELEVATION_DEG)
        return DEFAULT_AZIMUTH_DEG, DEFAULT_ELEVATION_DEG
    return float(azimuth_deg), float(elevation_deg)


def describe_viewpoint(azimuth_deg: float, elevation_deg: float) -> str:
    """Words for a viewpoint, e.g. "seen from 35° right of front, 20° above".

    Right means toward +X (the right of a viewer facing the front), so azimuth 35 is "35° right of
    front" and azimuth 325 is "35° left of front"; 0 is "from the front", 180 "from behind".
    """
    signed = (float(azimuth_deg) + 180.0) % 360.0 - 180.0  # (-180, 180], positive to the right
    turn = round(signed)
    if turn == 0:
        side = "from the front"
    elif abs(turn) == 180:
        side = "from behind"
    else:
        side = f"from {abs(turn)}° {'right' if turn > 0 else 'left'} of front"
    height = round(float(elevation_deg))
    if height == 0:
        level = "at its height"
    else:
        level = f"{abs(height)}° {'above' if height > 0 else 'below'}"
    return f"seen {side}, {level}"
