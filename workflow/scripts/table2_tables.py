"""Table 2 from the per-instance results: table2.csv, table2_per_instance.csv, table2_paired.csv,
table2_skipped.csv, table2.md and a figure per category."""

import json
import logging

import pandas as pd

from dist_core import io
from dist_core.data import shapenet
from dist_core.experiments.table2 import load_instance, per_instance_rows, read_instance
from dist_core.experiments.table2_figures import category_figure
from dist_core.experiments.table2_tables import (assemble, document, markdown_table, paired, protocol_lines,
                                                 skipped_frame)
from dist_core.prior import describe_prior, format_prior
from dist_core.runtime import setup


def write_csv(frame, path):
    with io.atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def main():
    setup(snakemake.threads, snakemake.log[0])
    log = logging.getLogger("table2_tables")
    params = snakemake.params
    rows, skips, by_instance = [], [], {}
    for path in snakemake.input.results:
        results, attrs = read_instance(path)
        if attrs.get("skipped"):
            skips.append((attrs["category"], attrs["instance"], attrs["skip_file"], attrs["skip_reason"]))
            continue
        rows += per_instance_rows(results, attrs)
        by_instance[(attrs["category"], attrs["instance"])] = results
    skipped = skipped_frame(skips)
    table = assemble(rows, skipped.to_dict("records"), seed=params.seed, with_paper=params.with_paper)
    pairs = paired(rows, seed=params.seed)
    write_csv(pd.DataFrame(rows), snakemake.output.per_instance)
    write_csv(table, snakemake.output.csv)
    write_csv(pairs, snakemake.output.paired)
    write_csv(skipped, snakemake.output.skipped)
    table2 = json.loads(params.table2)
    priors = {c: format_prior(describe_prior(folder)) for c, folder in zip(params.categories, params.prior_dirs)}
    instances = min(len(ids) for ids in params.instances.values())
    protocol = protocol_lines(table2, {**json.loads(params.renderer), **table2["renderer"]}, params.resolution,
                              instances) + list(params.notes)
    with io.atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(document(table, pairs, skipped, priors, protocol, instances, params.with_paper))
    log.info("\n%s", markdown_table(table, "normalized", pairs))
    if skips:
        log.warning("%d instance(s) skipped by the data stage: table2_skipped.csv", len(skips))
    views = dict(zip([(c, i) for c in params.categories for i in params.instances[c]], snakemake.input.views))
    for category, figure in zip(params.categories, snakemake.output.figures):
        done = [i for i in params.instances[category] if (category, i) in by_instance]
        if not done:
            log.warning("no evaluated instance of %s: its figure says so", category)
        instance = done[min(params.figure_instance, len(done) - 1)] if done else None
        if instance is None:
            category_figure(figure, category, "(none)", None, None, [])
            continue
        view, _, normalization = load_instance(views[(category, instance)], params.deepsdf_dir, params.dataset)
        synset = shapenet.synset_of(category)
        gt_mesh = shapenet.normalized_mesh(shapenet.load_mesh(shapenet.find_mesh(params.shapenet_root, synset,
                                                                                 instance)), normalization)
        category_figure(figure, category, instance, view, gt_mesh, by_instance[(category, instance)])


main()
