"""Every setting and method of Table 2 on one test instance -> results/table2/<category>/<instance>.h5.

An instance whose input is a skip record of the data stage gets a result file marked skipped instead."""

import json
import logging

import numpy as np

from dist_core import io
from dist_core.data.errors import DataError, SkippedInstance
from dist_core.experiments.table2 import (TABLE2_VERSION, CHAMFER_UNITS, Table2Options, evaluate_instance,
                                          load_complete_samples, load_instance, load_prior, write_instance,
                                          write_skipped_instance)
from dist_core.runtime import setup


def main():
    device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
    log = logging.getLogger("table2_instance")
    table2 = json.loads(snakemake.params.table2)
    category, instance = snakemake.wildcards.category, snakemake.wildcards.instance
    common = dict(category=category, instance=instance, settings=",".join(table2["settings"]),
                  methods=",".join(table2["methods"]), prior=snakemake.params.prior_dir, options=snakemake.params.table2)
    try:
        view, gt_points, normalization = load_instance(snakemake.input.view, snakemake.params.deepsdf_dir,
                                                       snakemake.params.dataset)
    except SkippedInstance as skipped:
        log.warning("%s %s skipped by the data stage (%s): %s", category, instance, skipped.file, skipped.reason)
        write_skipped_instance(snakemake.output[0], skipped.file, skipped.reason,
                               io.standard_attributes(snakemake.params.seed, TABLE2_VERSION, CHAMFER_UNITS, **common))
        return

    options = Table2Options.from_config(table2, json.loads(snakemake.params.renderer))
    decoder, mean_latent = load_prior(snakemake.params.prior_dir, device)
    complete = None
    if "oracle" in table2["methods"]:
        try:
            complete = load_complete_samples(snakemake.params.deepsdf_dir, snakemake.params.dataset,
                                             view.attrs["synset"], instance)
        except DataError as error:
            log.warning("no oracle for %s: %s", instance, error)
    results = evaluate_instance(decoder, mean_latent, view, gt_points, normalization, options, snakemake.params.seed,
                                table2["settings"], table2["methods"], complete_samples=complete, progress=True)
    for r in results:
        if not r.shared:
            log.info("%s %s: Chamfer x1000 %.3f (normalised) %.3f (mesh), IoU %.3f, %d steps, %.2f s%s", r.setting,
                     r.method, r.chamfer_normalized * 1000, r.chamfer_mesh * 1000, r.silhouette_iou, r.steps,
                     r.fit_seconds, f" FAILED: {r.reason}" if r.failed else "")
    attrs = io.standard_attributes(snakemake.params.seed, TABLE2_VERSION, CHAMFER_UNITS, synset=view.attrs["synset"],
                                   scale=float(normalization.scale), offset=np.asarray(normalization.offset, dtype=float),
                                   device=str(device), **common)
    write_instance(snakemake.output[0], results, attrs)


main()
