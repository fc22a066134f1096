"""The command line: `python -m recon predict ...` and `python -m recon bench ...`.

predict follows DESIGN.md exactly: DIR/<stem>.npy always, plus the formats asked for; the model
loads once and all readable images run in one batch; a bad image prints one line on stderr, the
others go on, and the exit status is 1 if any image failed.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

from recon.errors import EmptyGridError, ReconError

logger = logging.getLogger("recon")


def _predict(args: argparse.Namespace) -> int:
    from recon.colors import color_mesh
    from recon.exports import export_reconstruction, parse_formats, reconstruction_sidecar
    from recon.pipeline import Reconstruction, Reconstructor

    try:
        formats = ("npy",) + tuple(f for f in parse_formats(args.format) if f != "npy")
        if args.longest_side is not None and not 0 < args.longest_side < float("inf"):
            raise ValueError(f"--longest-side must be a positive number of metres, got {args.longest_side}")
        reconstructor = Reconstructor(args.model, args.weights, args.device)
    except (ReconError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    prepared, stems, failures = [], [], 0
    for path in args.images:
        try:
            prepared.append(reconstructor.prepare(Path(path)))
            stems.append(Path(path).stem)
        except (ReconError, OSError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            failures += 1

    grids = reconstructor.predict(prepared, seed=args.seed) if prepared else []
    readings = reconstructor.describe(prepared)
    for stem, grid, image, reading in zip(stems, grids, prepared, readings):
        try:
            mesh = reconstructor.to_mesh(grid, level=args.level)
        except EmptyGridError as error:
            print(f"warning: {stem}: {error}; wrote the grid only", file=sys.stderr)
            mesh = None
        result = Reconstruction(reconstructor.kind, grid, mesh, image, args.seed, {}, reading.category,
                                reading.category_scores, reading.azimuth_deg, reading.elevation_deg)
        if mesh is not None:
            mesh = color_mesh(mesh, image, result.azimuth_deg, result.elevation_deg, args.colors)
        details = reconstruction_sidecar(result, mesh, args.longest_side)
        written = export_reconstruction(grid, mesh, args.out, stem, formats, level=args.level,
                                        details=details)
        logger.info("%s: %s", stem, ", ".join(str(p) for p in written.values()))
    return 1 if failures else 0


def _median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        clock = time.perf_counter()
        function()
        times.append(time.perf_counter() - clock)
    return 1000 * statistics.median(times)


def _bench(args: argparse.Namespace) -> int:
    """Median latency per stage, photo in -> GLB out, for each model and device."""
    import tempfile

    import numpy as np
    import torch
    from PIL import Image

    from recon.hub import MODEL_CLASSES
    from recon.mesh import export_mesh
    from recon.pipeline import Reconstructor

    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    if args.image:
        photo = Image.open(args.image)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for device in devices:
            for kind in args.models.split(","):
                clock = time.perf_counter()
                reconstructor = Reconstructor(kind, args.weights_for(kind), device)
                load_ms = 1000 * (time.perf_counter() - clock)
                note = "shipped weights"
                if args.resolution and args.resolution != reconstructor.resolution:
                    # Speed does not depend on the weights' values: time an untrained net of the size asked.
                    config = dict(reconstructor.network._hub_mixin_config)
                    config["resolution"] = args.resolution
                    reconstructor.network = MODEL_CLASSES[kind](**config).to(reconstructor.device).eval()
                    reconstructor.resolution = args.resolution
                    note = "untrained net, timing only"
                prepared = reconstructor.prepare(photo)
                grid = reconstructor.predict([prepared])[0]
                mesh = reconstructor.to_mesh(grid, level=min(0.5, float(grid.max()) * 0.9))
                glb = Path(folder) / f"{kind}.glb"
                stages = {
                    "preprocess": _median_ms(lambda: reconstructor.prepare(photo), args.repeats),
                    "forward": _median_ms(lambda: reconstructor.predict([prepared]), args.repeats),
                    "mesh": _median_ms(lambda: reconstructor.to_mesh(grid, level=min(0.5, float(grid.max()) * 0.9)), args.repeats),
                    "export": _median_ms(lambda: export_mesh(mesh, glb), args.repeats),
                }
                total = _median_ms(lambda: export_mesh(reconstructor.reconstruct(
                    photo, level=min(0.5, float(grid.max()) * 0.9)).mesh, glb), args.repeats)
                rows.append((kind, device, reconstructor.resolution, load_ms, stages, total, note))
    print(f"{'model':6} {'device':6} {'D':>4} {'load':>8} {'prep':>8} {'forward':>8} {'mesh':>8} "
          f"{'export':>8} {'total':>8}  (median ms over {args.repeats} runs, "
          f"torch threads {torch.get_num_threads()})")
    for kind, device, resolution, load_ms, stages, total, note in rows:
        print(f"{kind:6} {device:6} {resolution:>4} {load_ms:8.1f} {stages['preprocess']:8.1f} "
              f"{stages['forward']:8.1f} {stages['mesh']:8.1f} {stages['export']:8.1f} {total:8.1f}  {note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recon", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="photos -> voxel grids (.npy) and meshes")
    predict.add_argument("images", nargs="+", help="photo files (any format Pillow reads)")
    predict.add_argument("--model", choices=("cgan", "vae"), required=True)
    predict.add_argument("--out", required=True, help="output folder (created if missing)")
    predict.add_argument("--format", default="npy", help="comma list of npy,mat,obj,glb,stl,ply,usdz,json")
    predict.add_argument("--colors", default="photo", choices=("photo", "plain"),
                         help="mesh vertex colours from the photo (default) or the plain confidence ramp")
    predict.add_argument("--longest-side", type=float, default=None, metavar="METRES",
                         help="real size for .usdz and .json (default: typical for the category)")
    predict.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    predict.add_argument("--seed", type=int, default=None,
                         help="latent seed; without it the cGAN uses z = 0 and the VAE its mean")
    predict.add_argument("--weights", default=None, help="local folder or Hub repo id")
    predict.add_argument("--level", type=float, default=0.5, help="iso level for meshes and .mat")
    predict.set_defaults(run=_predict)

    bench = commands.add_parser("bench", help="median latency per stage for both models")
    bench.add_argument("--models", default="cgan,vae")
    bench.add_argument("--repeats", type=int, default=20)
    bench.add_argument("--resolution", type=int, default=None,
                       help="time an untrained net at this D (32 or 64) instead of the shipped one")
    bench.add_argument("--image", default=None, help="photo to use (default: random 640x480)")
    bench.add_argument("--cgan-weights", default=None)
    bench.add_argument("--vae-weights", default=None)
    bench.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    args.weights_for = lambda kind: getattr(args, f"{kind}_weights", None)
    return args.run(args)
