"""Run one Table 3 method on the instances of one category (dist_core.experiments.table3.run_method); an
instance whose input is a skip record gets a result marked skipped. Our code is meshed over the epochs (the
figure's snapshots) on the first instance that is not skipped only."""

import json
import logging

from dist_core.baselines.pmo import load_pmo
from dist_core.data.errors import SkippedInstance
from dist_core.data.inputs import read_multi_view
from dist_core.decoder import load_experiment
from dist_core.experiments.table3 import run_method, skipped_result, write_instance
from dist_core.runtime import setup

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
figure_done = False
for instance, view_file, out in zip(snakemake.params.instances, snakemake.input.views, snakemake.output):
    try:
        data = read_multi_view(view_file)
    except SkippedInstance as skipped:
        write_instance(out, skipped_result(category, instance, method, skipped), {"seed": snakemake.params.seed})
        log.warning("%s %s %s: skipped (%s)", category, method, instance, skipped.reason)
        continue
    result = run_method(method, category, instance, data, settings, snakemake.params.seed, decoder=decoder,
                        latent_size=latent_size, pmo_model=pmo_model, renderer=settings["renderer"],
                        snapshots=not figure_done)
    figure_done = True
    write_instance(out, result, {"seed": snakemake.params.seed, "model": snakemake.params.model_dir})
    log.info("%s %s %s: %s chamfer %.3f, %.1f s (%.3f s/step, %.0f queries/step) %s", category, method, instance,
             result.status, result.chamfer["chamfer_gt_to_pred_x1000_pmo_frame"], result.seconds,
             result.seconds_per_step, result.forward_queries_per_step, result.reason)
