"""Median timings of the AR steps on a synthetic 1024 x 768 scene.

    PYTHONPATH=. python scripts/bench_ar.py [--repeats 7]

Targets (issue 4, 2 CPU cores): camera from clicks < 10 ms, feature matching at 1024 px < 1.5 s,
placing a 50k-face mesh into a 1024 x 768 photo < 0.5 s.
"""

import argparse
import os
import statistics
import time

import cv2
import numpy as np
import trimesh
from PIL import Image

from recon.ar import (
    Camera,
    camera_from_corners,
    homography_from_reference,
    place,
    placed_mesh,
    render_placement,
)

SIZE = (1024, 768)


def median_seconds(function, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads) of ``function`` in seconds.

    CPU time is reported too because a shared machine's load inflates wall time.
    """
    function()  # warm-up: first calls pay for imports and allocations
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def synthetic_scene(rng):
    """A known camera over a plane with an 800 x 600 textured picture (4 x 3 units) on it."""
    K = np.array([[900.0, 0, 511.5], [0, 900.0, 383.5], [0, 0, 1]])
    # Looking from (u, v, h) = (3, 6.5, 3.5) at the picture's centre (2, 1.5, 0); world (u, v, -h).
    centre, target = np.array([3.0, 6.5, -3.5]), np.array([2.0, 1.5, 0.0])
    forward = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(forward, [0.0, 0.0, -1.0])
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(forward, right), forward])
    t = -R @ centre
    camera = Camera(K, R, t, SIZE, (4.0, 3.0))
    texture = np.full((600, 800, 3), 200, np.uint8)
    for _ in range(300):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, 800)), int(rng.integers(0, 600))
        cv2.circle(texture, (x, y), int(rng.integers(4, 50)), colour, -1)
    to_plane = np.array([[4 / 800, 0, 2 / 800], [0, 3 / 600, 1.5 / 600], [0, 0, 1]])
    background = cv2.resize(rng.integers(60, 160, (12, 16, 3)).astype(np.uint8), SIZE)
    warp = camera.plane_homography() @ to_plane
    picture = cv2.warpPerspective(texture, warp, SIZE)
    inside = cv2.warpPerspective(np.ones((600, 800), np.uint8), warp, SIZE)[..., None]
    photo = np.where(inside > 0, picture, background)
    corners = camera.project(np.array([[0, 0, 0], [4, 0, 0], [4, 3, 0], [0, 3, 0]], float))
    return camera, texture, photo, corners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    camera, texture, photo, corners = synthetic_scene(np.random.default_rng(0))
    print(f"cv2 threads: {cv2.getNumThreads()}, load average: {os.getloadavg()[0]:.1f}")

    wall, cpu = median_seconds(lambda: camera_from_corners(corners, SIZE), max(args.repeats, 100))
    print(f"camera_from_corners: {wall * 1e3:.2f} ms wall, {cpu * 1e3:.2f} ms CPU")
    for detector in ("sift", "orb"):
        wall, cpu = median_seconds(
            lambda: homography_from_reference(texture, photo, detector), args.repeats
        )
        print(
            f"homography_from_reference ({detector}, 800x600 in 1024x768): "
            f"{wall:.3f} s wall, {cpu:.3f} s CPU"
        )

    mesh = trimesh.creation.uv_sphere(radius=0.5, count=[114, 114])
    mesh.visual.vertex_colors = np.tile([180, 120, 80, 255], (len(mesh.vertices), 1))
    scene = Image.fromarray(photo)
    for scale in (1.5, 3.0):
        wall, cpu = median_seconds(lambda: place(scene, mesh, camera, scale=scale), args.repeats)
        covered = render_placement(placed_mesh(mesh, camera, scale=scale), camera).alpha > 0
        print(
            f"place ({len(mesh.faces)} faces into 1024x768, object width {scale} plane units, "
            f"covering {covered.mean() * 100:.0f}% of the photo): "
            f"{wall:.3f} s wall, {cpu:.3f} s CPU"
        )


if __name__ == "__main__":
    main()
