"""Batched against separate rendering: seconds per optimisation step for B images in one trace or B calls.

``python -m dist_core.experiments.batch_benchmark [--experiment DIR] [--sizes 64 128] [--batches 1 4 16]``
takes B codes of a DeepSDF experiment (the shipped chair prior by default), each seen from its own camera
(azimuths spread around the shape), and times one optimisation step of all B codes: render depth and
silhouette, DIST's single-view loss against the rendering of the unperturbed codes, backward, Adam. The
batched step renders the B images with one :func:`dist_core.render` call, the separate step with B calls;
both compute the same gradients. Prints one line per (size, B) with seconds per step, the ratio and the
forward queries of both (which agree: a batch traces each ray as its image alone would).
"""

from __future__ import annotations

import argparse
import time

import torch

from ..camera import Camera
from ..decoder import load_experiment
from ..losses import depth_l1, silhouette_loss
from ..render import render
from ..runtime import resolve_device

__all__ = ["benchmark_cameras", "step_seconds", "batch_benchmark", "main"]


def benchmark_cameras(count: int, width: int, distance: float = 1.8, elevation: float = 25.0) -> list[Camera]:
    """``count`` cameras at ``distance`` from the origin, azimuths spread over a full turn, 40 degrees."""
    return [Camera.orbit(40.0 + 360.0 * k / count, elevation, distance, 40.0, width) for k in range(count)]


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _loss(rendering, target) -> torch.Tensor:
    depth = depth_l1(rendering.depth, target.depth, target.valid, rendering.valid)
    mask = silhouette_loss(rendering.silhouette, rendering.valid, target.valid, ~target.valid)
    return 10 * depth + mask.inside + mask.outside


def step_seconds(decoder, start: torch.Tensor, cameras: list[Camera], targets, batched: bool, **options) -> dict:
    """One Adam step of the codes ``start`` (B, D), rendered as one batch or as B calls; seconds and queries."""
    codes = start.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([codes], lr=1e-3)
    _synchronise(codes.device)
    begin = time.perf_counter()
    if batched:
        rendering = render(decoder, codes, cameras, outputs=("depth", "silhouette"), **options)
        loss = sum(_loss(_image(rendering, b), _image(targets, b)) for b in range(len(cameras)))
        queries = rendering.stats["forward_queries"]
    else:
        loss, queries = 0.0, 0
        for b, camera in enumerate(cameras):
            rendering = render(decoder, codes[b], camera, outputs=("depth", "silhouette"), **options)
            loss = loss + _loss(rendering, _image(targets, b))
            queries += rendering.stats["forward_queries"]
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    _synchronise(codes.device)
    return {"seconds": time.perf_counter() - begin, "forward_queries": queries}


class _Image:
    def __init__(self, depth, silhouette, valid):
        self.depth, self.silhouette, self.valid = depth, silhouette, valid


def _image(rendering, b: int) -> _Image:
    return _Image(rendering.depth[b], None if rendering.silhouette is None else rendering.silhouette[b],
                  rendering.valid[b])


def batch_benchmark(decoder, codes: torch.Tensor, sizes=(64, 128), batches=(1, 4, 16), repeats: int = 2,
                    perturbation: float = 0.01, seed: int = 0, **options) -> list[dict]:
    """Seconds per step, batched and separate, for every (size, B); the best of ``repeats`` timed steps
    after one warm-up step of each. ``codes`` (n, D) are used in turn when B > n."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for size in sizes:
        for count in batches:
            truth = codes[torch.arange(count) % codes.shape[0]]
            start = truth + perturbation * torch.randn(truth.shape, generator=generator).to(truth)
            cameras = benchmark_cameras(count, size)
            with torch.no_grad():
                targets = render(decoder, truth, cameras, outputs=("depth",), **options)
            measured = {}
            for batched in (True, False):
                step_seconds(decoder, start, cameras, targets, batched, **options)
                runs = [step_seconds(decoder, start, cameras, targets, batched, **options) for _ in range(repeats)]
                measured[batched] = min(runs, key=lambda r: r["seconds"])
            rows.append({"size": size, "images": count, "pixels": count * size * size,
                         "batched_seconds": measured[True]["seconds"], "separate_seconds": measured[False]["seconds"],
                         "separate_over_batched": measured[False]["seconds"] / measured[True]["seconds"],
                         "batched_forward_queries": measured[True]["forward_queries"],
                         "separate_forward_queries": measured[False]["forward_queries"],
                         "device": str(codes.device)})
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'size':>6} {'B':>3} {'batched s/step':>15} {'separate s/step':>16} {'separate/batched':>17} "
             f"{'queries (batched / separate)':>30}"]
    for r in rows:
        lines.append(f"{r['size']:>4}^2 {r['images']:>3} {r['batched_seconds']:>15.3f} {r['separate_seconds']:>16.3f} "
                     f"{r['separate_over_batched']:>17.2f} {r['batched_forward_queries']:>14,} / {r['separate_forward_queries']:,}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dist_core.experiments.batch_benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="resources/priors/chair", help="DeepSDF experiment folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    decoder, codes, _ = load_experiment(args.experiment, map_location=device)
    if codes is None:
        raise SystemExit(f"{args.experiment} has no LatentCodes/: the benchmark renders its training codes")
    for p in decoder.parameters():
        p.requires_grad_(False)
    rows = batch_benchmark(decoder, codes.to(device), args.sizes, args.batches, args.repeats)
    print(f"{args.experiment} on {device} ({torch.get_num_threads()} threads); one Adam step of B codes, each its own camera")
    print(format_rows(rows))
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
