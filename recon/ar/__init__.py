"""Place a reconstructed mesh into a photo of a room (DESIGN.md, AR module).

One module per step: ``camera`` (the camera from a rectangle's four image corners; the plane frame
is defined there), ``reference`` (find a known picture in the photo), ``sheet`` (find a sheet of
paper in the photo by itself), ``checks`` (validation of sizes and clicks) and ``place`` (render
the mesh standing on the plane into the photo).
"""

from recon.ar.camera import (
    Camera,
    camera_from_corners,
    camera_from_homography,
    camera_to_json,
    corners_from_homography,
    homography_from_points,
    plane_to_world,
    world_to_plane,
)
from recon.ar.place import place, placed_mesh, render_placement
from recon.ar.reference import homography_from_reference
from recon.ar.sheet import A4_ASPECT, LETTER_ASPECT, find_sheet

__all__ = [
    "A4_ASPECT",
    "LETTER_ASPECT",
    "Camera",
    "camera_from_corners",
    "camera_from_homography",
    "camera_to_json",
    "corners_from_homography",
    "find_sheet",
    "homography_from_points",
    "homography_from_reference",
    "place",
    "placed_mesh",
    "plane_to_world",
    "render_placement",
    "world_to_plane",
]
