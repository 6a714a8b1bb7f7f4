"""Multi-view inputs (Table 3) of one category from PMO-format sequences (dist_core.data.inputs)."""

import json

from tqdm import tqdm

from dist_core.data import deepsdf, shapenet
from dist_core.data.inputs import build_multi_view, write_multi_view
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
category = snakemake.params.category
frame = data["pmo"]["canonical_frame"]
source = "embedded" if data["source"] == "synthetic" else "pmo"
for instance, path in tqdm(list(zip(snakemake.params.instances, snakemake.output)),
                           desc=f"multi view {category}", unit="instance"):
    normalization = None
    if frame == "shapenet":
        normalization = deepsdf.read_normalization(deepsdf.normalization_path(
            data["deepsdf_dir"], data["dataset"], shapenet.synset_of(category), instance))
    write_multi_view(path, build_multi_view(data["pmo_root"], category, instance, snakemake.params.seed, frame,
                                            normalization, source))
