"""Run one Table 3 method on the first instances of one category (dist_core.experiments.table3.run_method)."""

import json
import logging

from dist_core.baselines.pmo import load_pmo
from dist_core.data.inputs import read_multi_view
from dist_core.decoder import load_experiment
from dist_core.runtime import setup
from dist_core.experiments.table3 import run_method, write_instance

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("table3")
settings = json.loads(snakemake.params.settings)
method, category = snakemake.params.method, snakemake.params.category
decoder = latent_size = pmo_model = None
if method == "ours_rand":
    decoder, _, specs = load_experiment(snakemake.params.model_dir, map_location=device)
    decoder.eval()
    for p in decoder.parameters():
        p.requires_grad_(False)
    latent_size = specs["CodeLength"]
else:
    pmo_model = load_pmo(snakemake.params.model_dir)
for instance, view_file, out in zip(snakemake.params.instances, snakemake.input.views, snakemake.output):
    result = run_method(method, category, instance, read_multi_view(view_file), settings, snakemake.params.seed,
                        decoder=decoder, latent_size=latent_size, pmo_model=pmo_model, renderer=settings["renderer"])
    write_instance(out, result, {"seed": snakemake.params.seed, "model": snakemake.params.model_dir})
    log.info("%s %s %s: %s chamfer %.3f, %.1f s (%.2f s/step, %.0f queries/step) %s", category, method, instance,
             result.status, result.chamfer, result.seconds, result.seconds_per_step, result.forward_queries_per_step,
             result.reason)
