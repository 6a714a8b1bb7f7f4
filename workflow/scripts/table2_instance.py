"""Every setting and method of Table 2 on one test instance -> results/table2/<category>/<instance>.h5."""

import json
import logging

import numpy as np

from dist_core import io
from dist_core.experiments.table2 import TABLE2_VERSION, CHAMFER_UNITS, Table2Options, evaluate_instance, load_instance, load_prior, write_instance
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("table2_instance")
table2 = json.loads(snakemake.params.table2)
options = Table2Options.from_config(table2, json.loads(snakemake.params.renderer))
decoder, mean_latent = load_prior(snakemake.params.prior_dir, device)
view, gt_points, normalization = load_instance(snakemake.input.view, snakemake.params.deepsdf_dir, snakemake.params.dataset)
results = evaluate_instance(decoder, mean_latent, view, gt_points, normalization, options, snakemake.params.seed,
                            table2["settings"], table2["methods"], progress=True)
for r in results:
    log.info("%s %s: Chamfer x1000 %.3f, %d steps, %.2f s%s", r.setting, r.method, r.chamfer * 1000, r.steps,
             r.fit_seconds, f" FAILED: {r.reason}" if r.failed else "")
attrs = io.standard_attributes(snakemake.params.seed, TABLE2_VERSION, CHAMFER_UNITS,
                               category=view.attrs["category"], synset=view.attrs["synset"],
                               instance=view.attrs["instance"], settings=",".join(table2["settings"]),
                               methods=",".join(table2["methods"]), prior=snakemake.params.prior_dir,
                               options=snakemake.params.table2, device=str(device),
                               mean_forward_queries_per_step=float(np.mean(np.concatenate(
                                   [r.forward_queries for r in results if len(r.forward_queries)] or [np.zeros(1)]))))
write_instance(snakemake.output[0], results, attrs)
