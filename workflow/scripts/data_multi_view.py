"""The multi-view input (Table 3) of one instance from its PMO-format sequence (dist_core.data.inputs).

The instance's NormalizationParameters go into the file's attributes (``normalization_offset``,
``normalization_scale``): Table 3 scores in PMO's (canonical) frame and states its depth threshold there. An
instance whose files are missing or malformed gets a skip record (the file and the reason) instead
(dist_core.data.inputs.prepare_instance), so that one bad sequence costs one instance."""

import json
import logging

from dist_core.data import deepsdf
from dist_core.data.inputs import build_multi_view, multi_view_folders, prepare_instance, write_multi_view
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
category, synset, instance = snakemake.params.category, snakemake.wildcards.synset, snakemake.wildcards.instance
frame = data["pmo"]["canonical_frame"]
source = "embedded" if data["source"] == "synthetic" else "pmo"


def build():
    normalization = deepsdf.read_normalization(
        deepsdf.normalization_path(data["deepsdf_dir"], data["dataset"], synset, instance))
    built = build_multi_view(data["pmo_root"], category, instance, snakemake.params.seed, frame,
                             normalization if frame == "shapenet" else None, source)
    built.attrs.update(normalization_offset=normalization.offset, normalization_scale=float(normalization.scale))
    return built


skipped = prepare_instance(snakemake.output[0], build, write_multi_view,
                           multi_view_folders(data["pmo_root"], data["deepsdf_dir"], data["dataset"], synset),
                           category=category, synset=synset, instance=instance, seed=snakemake.params.seed)
if skipped:
    logging.getLogger("data").warning("%s %s skipped: %s", category, instance, skipped["reason"])
