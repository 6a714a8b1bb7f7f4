"""Table 2 from the per-instance results: table2.csv, table2_per_instance.csv, table2.md and a figure per category."""

import logging

import pandas as pd

from dist_core import io
from dist_core.data import deepsdf, shapenet
from dist_core.runtime import setup
from dist_core.experiments.table2 import assemble, category_figure, load_instance, markdown_table, per_instance_rows, read_instance

setup(snakemake.threads, snakemake.log[0])
log = logging.getLogger("table2_tables")
rows, by_instance = [], {}
for path in snakemake.input.results:
    results, attrs = read_instance(path)
    rows += per_instance_rows(results, attrs)
    by_instance[(attrs["category"], attrs["instance"])] = results
per_instance = pd.DataFrame(rows)
table = assemble(rows, seed=snakemake.params.seed, with_paper=snakemake.params.with_paper)
with io.atomic_path(snakemake.output.per_instance) as tmp:
    per_instance.to_csv(tmp, index=False)
with io.atomic_path(snakemake.output.csv) as tmp:
    table.to_csv(tmp, index=False)
with io.atomic_path(snakemake.output.markdown) as tmp:
    tmp.write_text(
        "# Table 2: shape completion from one depth image\n\n"
        "Median Chamfer x 1000 (DeepSDF's: mesh frame, squared distances, both directions summed)"
        + (" (paper's value in brackets)" if snakemake.params.with_paper else "")
        + f" over the first {per_instance.groupby('category').instance.nunique().min()} test instances per category.\n\n"
        + markdown_table(table, with_paper=snakemake.params.with_paper))
log.info("\n%s", markdown_table(table))
views = dict(zip([(p.split("/")[-3], p.split("/")[-2]) for p in snakemake.input.views], snakemake.input.views))
for category, instance, figure in zip(snakemake.params.categories, snakemake.params.figure_instances,
                                      snakemake.output.figures):
    synset = shapenet.synset_of(category)
    view, _, normalization = load_instance(views[(synset, instance)], snakemake.params.deepsdf_dir,
                                           snakemake.params.dataset)
    gt_mesh = shapenet.normalized_mesh(shapenet.load_mesh(shapenet.find_mesh(snakemake.params.shapenet_root, synset,
                                                                             instance)), normalization)
    category_figure(figure, category, instance, view, gt_mesh, by_instance[(category, instance)])
