"""Write one category of the embedded procedural dataset in the real formats (dist_core.data.embedded)."""

import json
import logging

from dist_core.data.embedded import Layout, build_category
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
data = json.loads(snakemake.params.data)
sizes = data["synthetic"]
result = build_category(snakemake.params.category, Layout.from_config(data), snakemake.params.seed,
                        sizes["train_per_category"], sizes["test_per_category"], sizes["sdf_samples"],
                        sizes["surface_samples"])
logging.getLogger("data").info("%s: %d train, %d test instances, %d files", snakemake.params.category,
                               len(result["train"]), len(result["test"]), result["files"])
