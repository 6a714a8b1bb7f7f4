"""``python -m dist_core render EXPERIMENT_DIR``: pictures of a trained DeepSDF experiment, no code to write.

Renders one latent code of the experiment's ``LatentCodes`` (``--code N``) with the sphere tracer and
writes ``PREFIX_depth.png``, ``PREFIX_normal.png``, ``PREFIX_silhouette.png`` (and ``PREFIX_color.png`` with
``--color``), plus ``PREFIX.npz`` holding the raw images (``depth``: camera-frame z, 0 on background;
``valid``; ``normal`` (H, W, 3) in the camera frame; ``silhouette``: the signed SDF value of the
renderer's silhouette, > 0 on background; ``color``) and the camera (``K``, ``R``, ``t``, OpenCV,
world to camera). The camera is one of:

* an orbit around the origin (default): ``--azimuth``, ``--elevation`` (degrees), ``--distance``, ``--fov``;
* a 3D-R2N2 (Choy et al.) metadata line: ``--choy "azimuth elevation in_plane distance_ratio fov"``, with
  ``--normalization NPZ`` (DeepSDF NormalizationParameters) to view the normalised frame the way the
  metadata views the mesh;
* an OpenCV camera: ``--K "9 numbers"`` (row-major), ``--R "9 numbers"``, ``--t "3 numbers"`` (quoted).

It prints the network queries and seconds. ``--device auto`` (default) uses CUDA when present.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .camera import Camera
from .decoder import LATENT_CODES_DIR, load_experiment
from .render import DirectionalLight, render
from .runtime import resolve_device

__all__ = ["build_parser", "camera_from_arguments", "run", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dist_core render",
                                     description="Render depth, normals and silhouette of a DeepSDF experiment's code.")
    parser.add_argument("experiment", help="DeepSDF experiment folder (specs.json, ModelParameters/, LatentCodes/)")
    parser.add_argument("--code", type=int, default=0, help="row of LatentCodes/<checkpoint>.pth to render (default 0)")
    parser.add_argument("--checkpoint", default="latest", help="checkpoint name (default: latest)")
    parser.add_argument("--width", type=int, default=None, help="image width (default 512, or 2 cx of --K)")
    parser.add_argument("--height", type=int, default=None, help="image height (default: the width, or 2 cy of --K)")
    orbit = parser.add_argument_group("orbit camera (the default)")
    orbit.add_argument("--azimuth", type=float, default=40.0, help="degrees about --up, 0 on the -z axis (default 40)")
    orbit.add_argument("--elevation", type=float, default=25.0, help="degrees towards --up (default 25)")
    orbit.add_argument("--distance", type=float, default=1.8, help="from the origin, in the unit-sphere frame (default 1.8)")
    orbit.add_argument("--fov", type=float, default=40.0, help="horizontal field of view, degrees (default 40)")
    orbit.add_argument("--up", type=float, nargs=3, default=(0.0, -1.0, 0.0), metavar=("X", "Y", "Z"),
                       help="world direction shown upwards (default 0 -1 0)")
    choy = parser.add_argument_group("3D-R2N2 camera")
    choy.add_argument("--choy", default=None, metavar="LINE",
                      help='a rendering_metadata.txt line: "azimuth elevation in_plane distance_ratio fov"')
    choy.add_argument("--normalization", default=None, metavar="NPZ",
                      help="DeepSDF NormalizationParameters of the instance (offset, scale) for --choy")
    opencv = parser.add_argument_group("OpenCV camera (world to camera, x_cam = R x + t)")
    opencv.add_argument("--K", default=None, metavar='"9 NUMBERS"', help="intrinsics in pixels, row-major, quoted")
    opencv.add_argument("--R", default=None, metavar='"9 NUMBERS"', help="rotation, row-major, quoted")
    opencv.add_argument("--t", default=None, metavar='"3 NUMBERS"', help="translation, quoted")
    parser.add_argument("--color", default=None, metavar="FOLDER",
                        help="a colour field written by dist_core.color.save_color_field: also render colour")
    parser.add_argument("--max-steps", type=int, default=None, help="marching steps per ray (default: the tracer's 50)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", default="render", metavar="PREFIX", help="output prefix (default: render)")
    return parser


def _numbers(text: str, count: int, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != count:
        raise ValueError(f"{name} needs {count} numbers (quoted, separated by spaces or commas), got {text!r}")
    return values


def camera_from_arguments(args) -> Camera:
    """The camera the arguments describe (see the module docstring); ``ValueError`` on a mixed set."""
    opencv = [args.K, args.R, args.t]
    if any(v is not None for v in opencv):
        if any(v is None for v in opencv):
            raise ValueError("an OpenCV camera needs all of --K, --R and --t")
        if args.choy is not None:
            raise ValueError("give either --choy or --K/--R/--t, not both")
        K = torch.tensor(_numbers(args.K, 9, "--K"), dtype=torch.float64).reshape(3, 3)
        R = torch.tensor(_numbers(args.R, 9, "--R"), dtype=torch.float64).reshape(3, 3)
        t = torch.tensor(_numbers(args.t, 3, "--t"), dtype=torch.float64)
        width = args.width if args.width is not None else int(round(2 * K[0, 2].item()))
        height = args.height if args.height is not None else int(round(2 * K[1, 2].item()))
        return Camera(K, R, t, width, height)
    if args.choy is not None:
        from .data.deepsdf import read_normalization
        from .data.r2n2 import ChoyView, choy_camera

        values = _numbers(args.choy, 5, "--choy (a rendering_metadata.txt line)")
        normalization = read_normalization(args.normalization) if args.normalization else None
        return choy_camera(ChoyView(*values), normalization, width=args.width or 512, height=args.height)
    if args.normalization is not None:
        raise ValueError("--normalization applies to a --choy camera only")
    return Camera.orbit(args.azimuth, args.elevation, args.distance, args.fov, args.width or 512, args.height,
                        up=tuple(args.up))


def _code(codes, index: int, experiment: Path, checkpoint: str) -> torch.Tensor:
    if codes is None:
        raise ValueError(f"{experiment / LATENT_CODES_DIR / (checkpoint + '.pth')} not found: the experiment has no "
                         "latent codes to render")
    if not -codes.shape[0] <= index < codes.shape[0]:
        raise ValueError(f"--code {index} is out of range: {experiment} has {codes.shape[0]} latent codes "
                         f"(0 to {codes.shape[0] - 1})")
    return codes[index]


def _png(path: Path, image: np.ndarray) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    data = image[..., ::-1] if image.ndim == 3 else image  # OpenCV writes BGR
    if not cv2.imwrite(str(path), np.ascontiguousarray(data)):
        raise OSError(f"cannot write {path}")
    return path


def _depth_picture(depth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """8-bit depth, near surfaces bright, background black."""
    picture = np.zeros(depth.shape, dtype=np.uint8)
    if valid.any():
        near, far = depth[valid].min(), depth[valid].max()
        picture[valid] = (255 - 200 * (depth[valid] - near) / max(far - near, 1e-9)).astype(np.uint8)
    return picture


def run(args) -> dict:
    """Render and write the files of ``args`` (the parsed command line); returns paths and statistics."""
    experiment = Path(args.experiment)
    if not experiment.is_dir():
        raise FileNotFoundError(f"{experiment} is not a folder: give a DeepSDF experiment folder (specs.json, "
                                "ModelParameters/, LatentCodes/)")
    device = resolve_device(args.device)
    camera = camera_from_arguments(args)
    decoder, codes, _ = load_experiment(experiment, args.checkpoint, map_location=device)
    latent = _code(codes, args.code, experiment, args.checkpoint).to(device)
    color_field = None
    outputs = ("depth", "normal", "silhouette")
    if args.color is not None:
        from .color import load_color_field

        color_field, _ = load_color_field(args.color, map_location=device)
        outputs += ("color",)
    options = {} if args.max_steps is None else {"max_steps": args.max_steps}
    start = time.perf_counter()
    with torch.no_grad():
        rendering = render(decoder, latent, camera, outputs=outputs, color=color_field,
                           light=DirectionalLight() if color_field is not None else None, **options)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    valid = rendering.valid.cpu().numpy()
    depth = torch.where(rendering.valid, rendering.depth, torch.zeros_like(rendering.depth)).cpu().numpy()
    normal = rendering.normal.cpu().numpy()
    silhouette = rendering.silhouette.cpu().numpy()
    prefix = Path(args.out)
    written = [
        _png(prefix.with_name(prefix.name + "_depth.png"), _depth_picture(depth, valid)),
        _png(prefix.with_name(prefix.name + "_normal.png"),
             np.where(valid[..., None], (normal + 1.0) * 127.5, 0.0).clip(0, 255).astype(np.uint8)),
        _png(prefix.with_name(prefix.name + "_silhouette.png"), np.where(silhouette <= 0, 255, 0).astype(np.uint8)),
    ]
    arrays = dict(depth=depth.astype(np.float32), valid=valid, normal=normal.astype(np.float32),
                  silhouette=silhouette.astype(np.float32), K=camera.K.numpy(), R=camera.R.numpy(), t=camera.t.numpy(),
                  code=np.int64(args.code))
    if color_field is not None:
        rgb = rendering.color.cpu().numpy()
        arrays["color"] = rgb.astype(np.float32)
        written.append(_png(prefix.with_name(prefix.name + "_color.png"), (rgb.clip(0, 1) * 255).astype(np.uint8)))
    npz = prefix.with_name(prefix.name + ".npz")
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npz, **arrays)
    written.append(npz)
    stats = rendering.stats
    pixels = camera.width * camera.height
    print(f"{experiment} code {args.code}: {camera.width}x{camera.height} on {device}, "
          f"{int(valid.sum()):,} surface pixels of {pixels:,}")
    print(f"queries: {stats['queries']:,} ({stats['queries'] / pixels:.2f} per pixel; trace {stats['forward_queries']:,}, "
          f"normals {stats.get('normal_queries', 0):,}, colour {stats.get('color_queries', 0):,}); "
          f"{stats['steps']} marching steps")
    print(f"seconds: {seconds:.2f} (trace {stats['seconds_forward']:.2f})")
    if not valid.any():
        print("warning: no pixel reached the surface: check the camera (distance, direction, --up)", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written))
    return {"written": written, "stats": stats, "seconds": seconds}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
