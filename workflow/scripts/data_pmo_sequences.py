"""Render the embedded PMO-format colour sequences of one category (dist_core.data.embedded)."""

import json

from tqdm import tqdm

from dist_core.data import pmo
from dist_core.data.embedded import Layout, write_pmo_sequence
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
layout = Layout.from_config(data)
resolution = data["pmo"]["resolution"]
cameras = pmo.cameras_from_pmo(*pmo.read_camera_file(layout.pmo_root), resolution, resolution)
for instance in tqdm(snakemake.params.instances, desc=f"pmo {snakemake.params.category}", unit="sequence"):
    write_pmo_sequence(layout, snakemake.params.category, instance, cameras, data["pmo"]["points"],
                       snakemake.params.seed)
