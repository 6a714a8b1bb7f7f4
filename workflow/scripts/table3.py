"""Gather Table 3: results/table3.csv (tidy), table3_per_instance.csv, table3.md and a figure per category."""

import json
import logging
from pathlib import Path

import pandas as pd

from dist_core.data.inputs import read_multi_view
from dist_core.runtime import setup
from dist_core.data.views import prepare_views
from dist_core.experiments.table3 import figure, markdown_table, read_instance, summarize_table
from dist_core.data.seeding import derive_seed

setup(snakemake.threads, snakemake.log[0])
settings = json.loads(snakemake.params.settings)
seed = snakemake.params.seed
results = [read_instance(path) for path in snakemake.input.results]
rows = pd.DataFrame([r.row() for r in results])
rows.to_csv(snakemake.output.per_instance, index=False)
table = summarize_table(rows.to_dict("records"), seed=seed)
table.to_csv(snakemake.output.csv, index=False)
note = (f"{settings['instances']} instances per category at {settings['resolution']} x {settings['resolution']}, "
        f"background: {settings['background']}; ours {settings['ours']['epochs']} epochs at lr {settings['ours']['lr']}, "
        f"PMO {settings['pmo']['optimization']['epochs']} epochs at lr {settings['pmo']['optimization']['lr']}. "
        "Seconds per step and queries per step: results/table3.csv.")
Path(snakemake.output.markdown).write_text(markdown_table(table, snakemake.params.categories, note))
for category, views_file, out in zip(snakemake.params.categories, snakemake.input.views, snakemake.output.figures):
    data = read_multi_view(views_file)
    instance = data.attrs["instance"]
    chosen = [r for r in results if r.category == category and r.instance == instance]
    images, _ = prepare_views(data, settings["resolution"], settings["background"],
                              derive_seed(seed, category, instance, "table3_background"))
    ours = next((r for r in chosen if r.method == "ours_rand"), chosen[0])
    figure(out, category, images, ours, [r for r in chosen if r.method != "ours_rand"])
logging.getLogger("table3").info("\n%s", table.to_string())
