"""Single-view inputs (Table 2) of one category's test instances (dist_core.data.inputs)."""

import json

from tqdm import tqdm

from dist_core.data.inputs import build_single_view, write_single_view
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
settings = data["single_view"]
for instance, path in tqdm(list(zip(snakemake.params.instances, snakemake.output)),
                           desc=f"single view {snakemake.params.category}", unit="instance"):
    write_single_view(path, build_single_view(
        data["shapenet_root"], data["r2n2_root"], data["deepsdf_dir"], data["dataset"], snakemake.params.category,
        instance, snakemake.params.seed, settings["resolution"], settings["view"], tuple(settings["sparse"])))
