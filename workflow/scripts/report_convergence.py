"""Renders of one prior shape at several convergence thresholds (paper Fig. 7; dist_core.experiments.convergence)."""

import json
import logging

import pandas as pd

from dist_core.experiments.convergence import convergence_figure, convergence_renders
from dist_core.data.pmo import circle_cameras
from dist_core.decoder import load_experiment
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
settings = json.loads(snakemake.params.settings)
decoder, codes, _ = load_experiment(snakemake.params.prior_dir, map_location=device)
decoder.requires_grad_(False)
camera = circle_cameras(1, 25.0, settings.get("distance", 2.0), settings.get("fov_degrees", 40.0),
                        settings["resolution"], start_azimuth=30.0)[0]
renderer = {k: v for k, v in json.loads(snakemake.params.renderer).items() if k not in ("eps", "max_steps", "refine", "cone_split")}
rows = convergence_renders(decoder, codes[settings["instance"]].to(device), camera, settings["eps"],
                           settings.get("max_steps", 50), **renderer)
pd.DataFrame([{k: v for k, v in r.items() if k != "normal"} for r in rows]).to_csv(snakemake.output.csv, index=False)
convergence_figure(snakemake.output.figure, rows)
for r in rows:
    logging.getLogger("convergence").info("%s tracer, eps %.0e: %d valid pixels, %d queries, %.2f s", r["tracer"],
                                          r["eps"], r["valid_pixels"], r["forward_queries"], r["seconds"])
