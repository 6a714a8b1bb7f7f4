"""Reconstruction quality of the priors: results/priors/quality.csv, per-shape rows and a picture grid."""

import json
import logging

import pandas as pd

from dist_core.experiments.prior_report import category_quality, reconstruction_grid
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("prior_report")
report = json.loads(snakemake.params.report)
data = json.loads(snakemake.params.data)
summary, rows, picture = [], [], []
for category, folder in zip(snakemake.params.categories, snakemake.params.prior_dirs):
    category_summary, category_rows, category_picture = category_quality(category, folder, data, report,
                                                                         snakemake.params.seed, device)
    for s in category_summary:
        log.info("%s %s: median Chamfer x1000 %.3f [%.3f, %.3f] over %d shapes", category, s["split"],
                 s["median_chamfer_x1000"], s["median_ci95_low"], s["median_ci95_high"], s["shapes"])
    summary += category_summary
    rows += category_rows
    picture.append(category_picture)

pd.DataFrame(summary).to_csv(snakemake.output.csv, index=False)
pd.DataFrame(rows).to_csv(snakemake.output.per_shape, index=False)
reconstruction_grid(snakemake.output.picture, picture)
