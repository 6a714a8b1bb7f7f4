"""Paper Fig. 10 robustness tests (dist_core.experiments.table3.robustness_rows): results/table3_robustness.csv."""

import json
import logging

import pandas as pd

from dist_core.baselines.pmo import load_pmo
from dist_core.data.inputs import read_multi_view
from dist_core.decoder import load_experiment
from dist_core.runtime import setup
from dist_core.experiments.table3 import robustness_rows

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
settings = json.loads(snakemake.params.settings)
views = iter(snakemake.input.views)
rows = []
for category, instances, prior, pmo_dir in zip(snakemake.params.categories, snakemake.params.instances,
                                               snakemake.params.prior_dirs, snakemake.params.pmo_dirs):
    decoder, _, specs = load_experiment(prior, map_location=device)
    decoder.eval()
    for p in decoder.parameters():
        p.requires_grad_(False)
    inputs = [(instance, read_multi_view(next(views))) for instance in instances]
    rows += robustness_rows(category, inputs, settings, snakemake.params.seed, decoder=decoder,
                            latent_size=specs["CodeLength"], pmo_model=load_pmo(pmo_dir), renderer=settings["renderer"])
table = pd.DataFrame(rows)
summary = (table[table["status"] == "ok"].groupby(["category", "experiment", "value", "method"])["chamfer"]
           .agg(median="median", n="count").reset_index())
table.to_csv(snakemake.output.csv, index=False)
logging.getLogger("table3").info("median Chamfer (%s)\n%s", table["metric"].iloc[0], summary.to_string())
