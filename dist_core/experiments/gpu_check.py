"""The renderer measured on a GPU in one command: Table 1 at 512 x 512 and the batched benchmark.

``python -m dist_core.experiments.gpu_check`` needs CUDA; on a machine without it, it says so and exits
with status 3 at once. It prints

1. Table 1 (:mod:`.table1`) at ``--resolution`` (512, the paper's) on the comparison sphere and on a decoder
   of DeepSDF's 8 x 512 architecture fitted to the procedural chair (``--decoder DIR`` reuses a fitted one,
   e.g. ``results/table1/decoder``; otherwise it is fitted here as the ``table1_decoder`` rule does, a few
   seconds on a GPU): forward queries, seconds per optimisation step and peak memory of the chunked and the
   unchunked step, next to the paper's 0.99 s per step on a GTX 1080Ti;
2. the batched benchmark (:mod:`.batch_benchmark`): seconds per step for B = 1, 4, 16 images at 64^2 and
   128^2, one batched call against B calls, on the shipped chair prior.

It is sized to finish in under 5 minutes on a current GPU. ``--cpu`` runs the same code paths on the CPU
at a tiny size (a check that the script works, not a measurement); ``--out DIR`` also writes the tables as
CSV files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..decoder import Decoder, load_experiment
from . import batch_benchmark, table1

__all__ = ["main"]

PAPER_SECONDS_PER_STEP = 0.99  # DIST, section 4.1: 512 x 512 on a GTX 1080Ti
FULL = dict(resolution=512, dims=[512] * 8, latent=256, fit_iterations=400, fit_batch=4096, sizes=(64, 128),
            batches=(1, 4, 16), rows=table1.ABLATION_ROWS)
TINY = dict(resolution=24, dims=[32] * 4, latent=16, fit_iterations=20, fit_batch=512, sizes=(16,), batches=(1, 2),
            rows=[table1.ABLATION_ROWS[3], table1.ABLATION_ROWS[-2]])


def _decoder(folder, sizes: dict, device: torch.device, seed: int = 0):
    """The Table 1 decoder, its code and hidden widths: loaded from ``folder``, or fitted as the
    ``table1_decoder`` rule fits it."""
    if folder is not None:
        decoder, codes, specs = load_experiment(folder, map_location=device)
        return decoder, codes[0].to(device), specs["NetworkSpecs"]["dims"], "loaded"
    dims = sizes["dims"]
    specs = {"CodeLength": sizes["latent"],
             "NetworkSpecs": {"dims": dims, "norm_layers": list(range(len(dims))), "latent_in": [len(dims) // 2],
                              "weight_norm": True}}
    torch.manual_seed(seed)
    decoder = table1.geometric_init_(Decoder.from_specs(specs)).to(device)
    code = (torch.randn(sizes["latent"]) * 0.01).to(device)
    table1.fit_decoder_to_sdf(decoder, table1.procedural_chair(), code, sizes["fit_iterations"],
                              batch=sizes["fit_batch"], lr=1e-4, seed=seed)
    return decoder, code, dims, f"fitted ({sizes['fit_iterations']} iterations)"


def _print_table1(rows: list[dict]) -> None:
    print(f"{'scene':<32} {'method':<28} {'steps':>5} {'fwd queries':>12} {'q/px':>5} {'s/step':>7} {'peak MB':>8} "
          f"{'s/step unch.':>12} {'peak MB unch.':>13}")
    for r in rows:
        print(f"{r['scene'][:32]:<32} {r['method']:<28} {r['max_steps']:>5} {r['forward_queries']:>12,} "
              f"{r['queries_per_pixel']:>5.2f} {r['seconds_per_step']:>7.3f} {r['peak_memory_mb']:>8.0f} "
              f"{r['seconds_per_step_unchunked']:>12.3f} {r['peak_memory_unchunked_mb']:>13.0f}")


def run(cpu: bool, decoder_folder=None, prior="resources/priors/chair", out=None, resolution=None) -> int:
    if not cpu and not torch.cuda.is_available():
        print("no CUDA device: this check measures the renderer on a GPU. Run it on a machine with CUDA, or pass "
              "--cpu to run its code paths on the CPU at a tiny size.", file=sys.stderr)
        return 3
    sizes = dict(TINY if cpu else FULL)
    if resolution:
        sizes["resolution"] = resolution
    device = torch.device("cpu" if cpu else "cuda")
    name = "CPU" if cpu else torch.cuda.get_device_name(device)
    begin = time.perf_counter()
    print(f"dist GPU check on {name}, torch {torch.__version__}" + (" (tiny CPU run: not a measurement)" if cpu else ""))

    decoder, code, dims, how = _decoder(decoder_folder, sizes, device)
    for p in decoder.parameters():
        p.requires_grad_(False)
    print(f"decoder {len(dims)} x {dims[0]}, latent {decoder.latent_size}: {how} ({time.perf_counter() - begin:.0f} s)")
    resolution = sizes["resolution"]
    sphere, latent, camera = table1.comparison_scene(resolution)
    # The first CUDA calls compile and allocate; keep them out of the timed steps.
    table1.efficiency_ablation(sphere.to(device), latent.to(device), table1.comparison_scene(32)[2], "warm-up",
                               rows=sizes["rows"][-1:], unchunked=False)
    rows = table1.efficiency_ablation(sphere.to(device), latent.to(device), camera, "sphere r=0.6 (analytic)",
                                      rows=sizes["rows"])
    rows += table1.efficiency_ablation(decoder, code, table1.decoder_scene_camera(resolution),
                                       f"chair, DeepSDF decoder {len(dims)}x{dims[0]}", rows=sizes["rows"],
                                       perturbation=0.005)
    print(f"\nTable 1 at {resolution}x{resolution} ({time.perf_counter() - begin:.0f} s so far); the paper: "
          f"{PAPER_SECONDS_PER_STEP} s per step at 512x512 on a GTX 1080Ti")
    _print_table1(rows)

    prior_decoder, codes, _ = load_experiment(prior, map_location=device)
    for p in prior_decoder.parameters():
        p.requires_grad_(False)
    batch_rows = batch_benchmark.batch_benchmark(prior_decoder, codes.to(device), sizes["sizes"], sizes["batches"])
    print(f"\nbatched benchmark, {prior} ({time.perf_counter() - begin:.0f} s so far)")
    print(batch_benchmark.format_rows(batch_rows))
    if out is not None:
        import pandas as pd

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(out / "gpu_table1.csv", index=False)
        pd.DataFrame(batch_rows).to_csv(out / "gpu_batch_benchmark.csv", index=False)
        print(f"wrote {out / 'gpu_table1.csv'} and {out / 'gpu_batch_benchmark.csv'}")
    print(f"\ntotal {time.perf_counter() - begin:.0f} s")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dist_core.experiments.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run the code paths on the CPU at a tiny size")
    parser.add_argument("--decoder", default=None, help="a fitted Table 1 decoder experiment (default: fit one)")
    parser.add_argument("--prior", default="resources/priors/chair", help="experiment of the batched benchmark")
    parser.add_argument("--resolution", type=int, default=None, help="Table 1 image size (default 512; --cpu: 24)")
    parser.add_argument("--out", default=None, help="folder for gpu_table1.csv and gpu_batch_benchmark.csv")
    args = parser.parse_args(argv)
    return run(args.cpu, args.decoder, args.prior, args.out, args.resolution)


if __name__ == "__main__":
    sys.exit(main())
