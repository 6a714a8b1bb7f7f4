"""Choosing Table 2's CPU settings on validation shapes, never on the test instances.

Validation shapes come from the procedural generator's ``validation`` stream (neither the priors' training
shapes nor the test instances). They are written in the real formats under ``--out`` and prepared exactly
as the data stage prepares a test instance (:func:`dist_core.data.inputs.build_single_view`: Choy view 0,
the config's resolution and sparse settings). Each variant (overrides of the ``table2`` config section, JSON)
runs :func:`dist_core.experiments.table2.evaluate_instance` on every shape; the script prints one JSON line
per (variant, shape) with the CPU seconds of the instance (process time: what an idle machine would spend,
whatever else runs beside it) and one per (variant, setting, method) with the median Chamfer x 1000 and the
paired median difference against the first variant::

    python -m dist_core.experiments.table2_sizing --out /tmp/t2val --shapes 4 --categories plane sofa \\
        --variant '{}' --variant '{"ours": {"iterations": 50, "lr": 0.004}}'

With ``--checkpoints`` it runs the renderer methods only, once per variant, and scores every code after each
listed iteration (meshes at ``table2.mesh_resolution``, and at ``--mesh-check`` after the last one): one
run gives the Chamfer of every shorter schedule at that learning rate (:func:`checkpoint_sweep`)::

    python -m dist_core.experiments.table2_sizing --out /tmp/t2val --checkpoints 10 20 30 50 100 200 \\
        --variant '{"ours": {"iterations": 200, "lr": 0.001}}' --variant '{"ours": {"iterations": 50, "lr": 0.01}}'

The priors are those of the config (shipped by default).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from .. import metrics
from ..data import deepsdf, synthetic
from ..data.embedded import Layout, write_instance
from ..data.inputs import build_single_view
from ..data.preprocess import sample_surface
from ..data.seeding import derived_rng
from ..fit import fit_latents_to_depth
from .table2 import (RENDERER_METHODS, Table2Options, _renderer_jobs, _renderer_target, code_chamfers,
                     evaluate_instance, load_complete_samples, load_prior, per_instance_rows)

__all__ = ["read_config", "validation_views", "load_views", "measure", "checkpoint_sweep", "main"]

DATASET = "ShapeNetV2"


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def read_config(paths) -> dict:
    """The config files ``paths`` merged in order (later keys win, nested sections merged)."""
    config: dict = {}
    for path in paths:
        config = _merge(config, yaml.safe_load(Path(path).read_text()))
    return config


def validation_views(out, category: str, seed: int, count: int, surface_samples: int,
                     sdf_samples: int) -> list[tuple[str, Layout]]:
    """Write ``count`` validation shapes of ``category`` in the real formats under ``out`` (GT surface
    samples and SdfSamples included) and return ``(instance, layout)`` pairs."""
    out = Path(out)
    layout = Layout(out / "ShapeNetCore.v2", out / "deepsdf", out / "ShapeNetRendering", out / "pmo", DATASET,
                    str(out / "splits" / "{category}_{split}.json"))
    made = []
    for index in range(count):
        shape = synthetic.generate(category, seed, "validation", index)
        write_instance(shape, layout, seed, sdf_samples, surface_samples=0)
        points, _ = sample_surface(shape.mesh, surface_samples, derived_rng(seed, category, shape.instance, "surface"))
        deepsdf.write_surface_samples(deepsdf.surface_samples_path(layout.deepsdf_dir, DATASET, shape.synset,
                                                                   shape.instance), points)
        made.append((shape.instance, layout))
    return made


def load_views(category: str, shapes: list, single_view: dict, seed: int) -> list:
    """``(view, GT points, normalisation, complete SdfSamples)`` of each validation shape."""
    views = []
    for instance, layout in shapes:
        view = build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, DATASET, category,
                                 instance, seed, single_view["resolution"], single_view["view"],
                                 single_view["sparse"])
        key = (DATASET, view.attrs["synset"], instance)
        gt_points = deepsdf.read_surface_samples(deepsdf.surface_samples_path(layout.deepsdf_dir, *key))
        normalization = deepsdf.read_normalization(deepsdf.normalization_path(layout.deepsdf_dir, *key))
        complete = load_complete_samples(layout.deepsdf_dir, *key)
        views.append((view, gt_points.astype(np.float64), normalization, complete))
    return views


def checkpoint_sweep(category: str, shapes: list, table2: dict, renderer: dict, single_view: dict, variants: list,
                     checkpoints: list[int], mesh_check: int | None, seed: int, prior_dir) -> list[dict]:
    """The renderer methods of ``table2`` on every validation shape, one fit per variant, every code scored
    after each iteration in ``checkpoints``; returns one row per (variant, shape, setting, method, iteration)
    with ``chamfer_normalized_x1000`` (and ``chamfer_check_x1000``, the same code meshed at ``mesh_check``,
    after the last checkpoint) and the CPU seconds of the fit without the scoring."""
    decoder, mean_latent = load_prior(prior_dir)
    rows = []
    for variant in variants:
        chosen = _merge(table2, variant)
        options = Table2Options.from_config(chosen, renderer)
        fit_options = options.fit_options()
        name = json.dumps(variant, sort_keys=True)
        methods = [m for m in chosen["methods"] if m in RENDERER_METHODS]
        for view, gt_points, normalization, _ in load_views(category, shapes, single_view, seed):
            jobs = [(s, m) for s, m, owner in _renderer_jobs(chosen["settings"], methods) if owner is None]
            targets = [_renderer_target(view, s, m, bool(fit_options.w_normal)) for s, m in jobs]
            scoring = {"cpu": 0.0}
            last = max(c for c in checkpoints if c <= fit_options.iterations)

            def score(iteration, latents):
                if iteration not in checkpoints:
                    return
                started = time.process_time()
                for (setting, method), latent in zip(jobs, latents):
                    row = {"variant": name, "category": category, "instance": view.attrs["instance"],
                           "setting": setting, "method": method, "iteration": iteration}
                    for key, resolution in (("chamfer_normalized_x1000", options.mesh_resolution),
                                            ("chamfer_check_x1000", mesh_check if iteration == last else None)):
                        if resolution is None:
                            continue
                        row[key] = code_chamfers(decoder, latent, resolution, gt_points, normalization,
                                                 options.chamfer_samples, seed)[1] * metrics.TABLE_SCALE
                    rows.append(row)
                scoring["cpu"] += time.process_time() - started

            started = time.process_time()
            fits = fit_latents_to_depth(decoder, targets, mean_latent, fit_options, callback=score)
            cpu = time.process_time() - started - scoring["cpu"]
            print(json.dumps({"variant": name, "category": category, "instance": view.attrs["instance"],
                              "codes": len(jobs), "fit_cpu_seconds": round(cpu, 1),
                              "forward_queries_per_code_step": int(np.mean([np.mean(f.forward_queries) for f in fits])),
                              "backward_queries_per_code_step": int(np.mean([np.mean(f.backward_queries)
                                                                             for f in fits]))}), flush=True)
    return rows


def measure(category: str, shapes: list, table2: dict, renderer: dict, single_view: dict, variants: list,
            seed: int, prior_dir, progress: bool = False) -> list[dict]:
    """Every variant of ``table2`` on every validation shape; returns the per-instance rows (with a
    ``variant`` column) and prints the JSON lines described in the module docstring."""
    decoder, mean_latent = load_prior(prior_dir)
    views = load_views(category, shapes, single_view, seed)
    rows = []
    for variant in variants:
        chosen = _merge(table2, variant)
        options = Table2Options.from_config(chosen, renderer)
        name = json.dumps(variant, sort_keys=True)
        for view, gt_points, normalization, complete in views:
            cpu, wall = time.process_time(), time.perf_counter()
            results = evaluate_instance(decoder, mean_latent, view, gt_points, normalization, options, seed,
                                        chosen["settings"], chosen["methods"], complete_samples=complete,
                                        progress=progress)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            own = [r for r in results if not r.shared]
            print(json.dumps({"variant": name, "category": category, "instance": view.attrs["instance"],
                              "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
                              "fit_wall_seconds": round(sum(r.fit_seconds for r in own), 2),
                              "mesh_wall_seconds": round(sum(r.mesh_seconds for r in own), 2),
                              "renderer_steps": int(sum(r.steps for r in own if len(r.forward_queries))),
                              "forward_queries": int(sum(r.forward_queries.sum() for r in own)),
                              "mesh_queries": int(sum(r.mesh_queries for r in own))}), flush=True)
            rows += [{**row, "variant": name} for row in per_instance_rows(results, {**view.attrs,
                                                                                    "scale": normalization.scale})]
    _print_summary(rows, [json.dumps(v, sort_keys=True) for v in variants], seed)
    return rows


def _print_summary(rows: list[dict], variants: list[str], seed: int) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    column = "chamfer_normalized_x1000"
    base = frame[frame.variant == variants[0]].set_index(["instance", "setting", "method"])[column]
    for variant in variants:
        here = frame[frame.variant == variant]
        for (setting, method), group in here.groupby(["setting", "method"], sort=False):
            values = group.set_index(["instance", "setting", "method"])[column]
            c = metrics.paired_comparison(values.to_numpy(), base.reindex(values.index).to_numpy(), seed=seed)
            print(json.dumps({"variant": variant, "setting": setting, "method": method, "shapes": int(len(group)),
                              "median": float(np.nanmedian(values)) if values.notna().any() else None,
                              "paired_vs_first": round(c.median_difference, 4) if c.count else None,
                              "ci95": [round(c.low, 4), round(c.high, 4)] if c.count else None}), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"], help="config files, merged in order")
    parser.add_argument("--out", required=True, help="scratch folder for the validation shapes")
    parser.add_argument("--categories", nargs="+", default=["sofa", "plane", "table"])
    parser.add_argument("--shapes", type=int, default=4)
    parser.add_argument("--variant", action="append", default=[], help="JSON overrides of the table2 section")
    parser.add_argument("--checkpoints", nargs="+", type=int, help="score the renderer codes after these iterations")
    parser.add_argument("--mesh-check", type=int, help="also mesh at this resolution after the last checkpoint")
    parser.add_argument("--csv", help="write the rows here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = read_config(args.config)
    data = config["data"]
    variants = [json.loads(v) for v in args.variant] or [{}]
    rows = []
    for category in args.categories:
        shapes = validation_views(Path(args.out) / category, category, config["seed"], args.shapes,
                                  data["synthetic"]["surface_samples"], data["synthetic"]["sdf_samples"])
        prior_dir = Path(config["priors"]["shipped_dir"]) / category
        if args.checkpoints:
            rows += checkpoint_sweep(category, shapes, config["table2"], config["renderer"], data["single_view"],
                                     variants, args.checkpoints, args.mesh_check, config["seed"], prior_dir)
        else:
            rows += measure(category, shapes, config["table2"], config["renderer"], data["single_view"], variants,
                            config["seed"], prior_dir)
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
