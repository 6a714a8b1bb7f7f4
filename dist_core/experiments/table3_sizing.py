"""Choosing Table 3's CPU settings on validation shapes, never on the test instances.

Validation shapes are drawn from the procedural generator's ``validation`` stream (neither the priors'
training shapes nor the test instances), rendered exactly as the embedded PMO sequences (PMO's trajectory,
the mesh frame, Lambertian shading) and moved into each shape's normalised frame as the data stage does.
Each variant (overrides of the ``table3`` config section) runs the chosen methods on every shape and prints
the median and mean Chamfer (PMO's frame), the wall and CPU seconds per instance (with one thread the CPU
seconds are what an idle machine takes, whatever the load) and the seconds per step::

    python -m dist_core.experiments.table3_sizing --category car --shapes 4 \\
        --variant '{"frames": null}' --variant '{"frames": [24, 48]}' --methods ours_rand

The priors and PMO networks are those of the config (shipped by default).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..data import deepsdf, pmo, shapenet, synthetic
from ..data.embedded import render_colour_views
from ..data.inputs import MultiViewInput
from ..data.preprocess import sample_surface
from ..data.seeding import derived_rng
from .table3 import METRIC, run_method

__all__ = ["validation_inputs", "measure", "main"]


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def validation_inputs(category: str, seed: int, count: int, data_pmo: dict) -> list:
    """``count`` validation shapes as ``(instance, MultiViewInput)`` in their normalised frames.

    Args:
        data_pmo: the config section ``data.pmo`` (trajectory, resolution, points).
    """
    intr, extr = pmo.pmo_trajectory(data_pmo["resolution"], data_pmo["elevations"], data_pmo["azimuth_step"],
                                    data_pmo["distance"], data_pmo["focal"], data_pmo["focal_image_size"])
    cameras = pmo.cameras_from_pmo(intr, extr, data_pmo["resolution"], data_pmo["resolution"])
    inputs = []
    for index in range(count):
        shape = synthetic.generate(category, seed, "validation", index)
        norm = deepsdf.normalization_parameters(shape.mesh.vertices, shape.mesh.faces)
        images, masks = render_colour_views(shape, deepsdf.Normalization.identity(), cameras)
        points, _ = sample_surface(shape.mesh, data_pmo["points"],
                                   derived_rng(seed, category, shape.instance, "pmo_points"))
        attrs = {"instance": shape.instance, "normalization_offset": norm.offset, "normalization_scale": norm.scale}
        inputs.append((shape.instance, MultiViewInput(images, masks, [deepsdf.normalize_camera(c, norm) for c in cameras],
                                                      norm.apply(points).astype(np.float32), attrs)))
    return inputs


def measure(category: str, inputs: list, settings: dict, variants: list, methods: list, seed: int, prior_dir,
            pmo_dir, progress: bool = False) -> list:
    """Run ``methods`` on ``inputs`` for each variant of ``settings``; returns one row per (variant, method)."""
    from ..baselines.pmo import load_pmo
    from ..prior import load_prior

    decoder, _ = load_prior(prior_dir)
    pmo_model = load_pmo(pmo_dir) if any(m != "ours_rand" for m in methods) else None
    renderer = settings["renderer"]
    rows = []
    for variant in variants:
        chosen = _merge(settings, variant)
        for method in methods:
            start, cpu = time.perf_counter(), time.process_time()
            results = [run_method(method, category, instance, data, chosen, seed, decoder=decoder,
                                  latent_size=decoder.latent_size, pmo_model=pmo_model, renderer=renderer,
                                  progress=progress, snapshots=False) for instance, data in inputs]
            values = np.array([r.chamfer[METRIC] for r in results if r.status == "ok"])
            rows.append({"variant": json.dumps(variant, sort_keys=True), "method": method, "shapes": len(results),
                         "failed": sum(r.status != "ok" for r in results),
                         "median": float(np.median(values)) if len(values) else float("nan"),
                         "mean": float(values.mean()) if len(values) else float("nan"),
                         "per_shape": [round(r.chamfer[METRIC], 4) for r in results],
                         "seconds_per_instance": (time.perf_counter() - start) / len(results),
                         # CPU time of this process: what an idle machine's wall time would be, one thread
                         "cpu_seconds_per_instance": (time.process_time() - cpu) / len(results),
                         "seconds_per_step": float(np.mean([r.seconds_per_step for r in results]))})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--category", default="car")
    parser.add_argument("--shapes", type=int, default=4)
    parser.add_argument("--variant", action="append", default=[], help="JSON overrides of the table3 section")
    parser.add_argument("--methods", nargs="+", default=["ours_rand"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    settings = config["table3"]
    settings = {**settings, "renderer": {**config["renderer"], **settings.get("renderer", {})}}
    priors = config["priors"]
    prior_dir = Path(priors["shipped_dir"]) / args.category
    pmo_dir = Path(settings["pmo"]["shipped_dir"]) / args.category
    inputs = validation_inputs(args.category, config["seed"], args.shapes, config["data"]["pmo"])
    measure(args.category, inputs, settings, [json.loads(v) for v in args.variant] or [{}], args.methods,
            config["seed"], prior_dir, pmo_dir)


if __name__ == "__main__":
    main()
