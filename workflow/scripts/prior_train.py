"""Train the DeepSDF prior of one category (dist_core.prior.train_auto_decoder)."""

import json
import logging
from pathlib import Path

from dist_core import prior
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
settings = json.loads(snakemake.params.priors)
category = snakemake.wildcards.category
instances, shapes = prior.load_sdf_samples(snakemake.params.data_dir, snakemake.input.split)
specs = prior.deepsdf_specs(settings, snakemake.params.data_dir, snakemake.input.split, snakemake.input.test_split,
                            f"dist: DeepSDF prior of the embedded {category} shapes")
provenance = {"category": category, "config": settings, "git": prior.git_revision(),
              "instances": [i for _, _, i in instances]}
result = prior.train_auto_decoder(specs, shapes, Path(snakemake.output.provenance).parent, device=device,
                                  provenance=provenance)
logging.getLogger("prior").info("%s: %d shapes, %d epochs, final loss %.5f, %.0f s", category, len(shapes),
                                len(result.losses), result.losses[-1], result.seconds)
