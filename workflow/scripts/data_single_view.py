"""The single-view input (Table 2) of one test instance, or its skip record (dist_core.data.inputs)."""

import json
import logging

from dist_core.data.inputs import build_single_view, prepare_instance, single_view_folders, write_single_view
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
settings = data["single_view"]
category, synset, instance = snakemake.params.category, snakemake.wildcards.synset, snakemake.wildcards.instance
seed = snakemake.params.seed
skipped = prepare_instance(
    snakemake.output[0],
    lambda: build_single_view(data["shapenet_root"], data["r2n2_root"], data["deepsdf_dir"], data["dataset"], category,
                              instance, seed, settings["resolution"], settings["view"], tuple(settings["sparse"])),
    write_single_view,
    single_view_folders(data["shapenet_root"], data["r2n2_root"], data["deepsdf_dir"], data["dataset"], synset),
    category=category, synset=synset, instance=instance, seed=seed)
log = logging.getLogger("data")
if skipped:
    log.warning("%s %s skipped: %s", category, instance, skipped["reason"])
else:
    log.info("%s %s: single view written to %s", category, instance, snakemake.output[0])
