"""Gather Table 3: results/table3.csv (tidy), table3_per_instance.csv, table3_paired.csv, table3_skipped.csv,
table3_pmo_quality.csv (the PMO networks' own quality), table3.md and a figure per category (dist_core.experiments.table3)."""

import json
import logging
from pathlib import Path

import pandas as pd

from dist_core.baselines.pmo import SPECS_FILE
from dist_core.data.errors import SkippedInstance
from dist_core.data.inputs import read_multi_view
from dist_core.data.seeding import derive_seed
from dist_core.data.views import prepare_views
from dist_core.experiments.table3 import (figure, markdown_table, paired_table, pmo_quality_table, protocol_notes,
                                          read_instance, selected_frames, skipped_table, summarize_table)
from dist_core.prior import describe_prior, format_prior
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
settings = json.loads(snakemake.params.settings)
seed = snakemake.params.seed
categories = snakemake.params.categories
results = [read_instance(path) for path in snakemake.input.results]
rows = pd.DataFrame([r.row() for r in results])
rows.to_csv(snakemake.output.per_instance, index=False)
records = rows.to_dict("records")
table = summarize_table(records, seed=seed)
table.to_csv(snakemake.output.csv, index=False)
paired = paired_table(records, seed=seed)
paired.to_csv(snakemake.output.paired, index=False)
skipped = skipped_table(records)
skipped.to_csv(snakemake.output.skipped, index=False)

# The figure of each category shows its first instance that is not skipped (the one the method jobs meshed
# over the epochs).
views = iter(snakemake.input.views)
shown, frames = {}, None
for category, instances in zip(categories, snakemake.params.instances):
    for instance in instances:
        path = next(views)
        if category in shown:
            continue
        try:
            data = read_multi_view(path)
        except SkippedInstance:
            continue
        shown[category] = (instance, data)
        frames = len(selected_frames(settings, len(data.cameras))) if frames is None else frames

priors = {c: format_prior(describe_prior(d)) for c, d in zip(categories, snakemake.params.prior_dirs)}
networks = {c: (d, json.loads((Path(d) / SPECS_FILE).read_text())) for c, d in zip(categories, snakemake.params.pmo_dirs)}
pmo_quality_table(networks).to_csv(snakemake.output.pmo_quality, index=False)
notes = protocol_notes(settings, frames or 0, priors, networks, settings["pmo"]["source"])
Path(snakemake.output.markdown).write_text(markdown_table(table, paired, skipped, categories, notes))
for category, out in zip(categories, snakemake.output.figures):
    instance, data = shown[category]
    chosen = [r for r in results if r.category == category and r.instance == instance]
    images, _ = prepare_views(data, settings["resolution"], settings["background"],
                              derive_seed(seed, category, instance, "table3_background"),
                              frames=selected_frames(settings, len(data.cameras)))
    ours = next((r for r in chosen if r.method == "ours_rand"), chosen[0])
    figure(out, category, images, ours, [r for r in chosen if r.method != "ours_rand"])
logging.getLogger("table3").info("\n%s\n%s", table[table["metric"] == table["metric"].iloc[0]].to_string(),
                                 paired.to_string())
