"""Train the PMO baseline of one category (dist_core.baselines.pmo_train.train_pmo) on the priors' train split,
with renderings from PMO's whole 72-view trajectory (dist_core.data.pmo.pmo_trajectory) at table3.pmo.resolution."""

import json
import logging
from pathlib import Path

from dist_core.baselines.pmo import save_pmo
from dist_core.baselines.pmo_train import train_pmo
from dist_core.data import pmo
from dist_core.prior import git_revision
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
settings = json.loads(snakemake.params.pmo)
data = json.loads(snakemake.params.data)
category = snakemake.wildcards.category
resolution = settings["resolution"]
cameras = pmo.cameras_from_pmo(*pmo.pmo_trajectory(resolution), resolution, resolution)
model = train_pmo(category, snakemake.params.instances, data["shapenet_root"], data["deepsdf_dir"], data["dataset"],
                  cameras, settings, snakemake.params.seed, device)
model.specs["git"] = git_revision()
model.specs["config"] = settings
save_pmo(Path(snakemake.output.specs).parent, model)
logging.getLogger("table3").info("PMO %s: decoder loss %.5f, encoder loss %.5f, %.0f s; quality %s", category,
                                 model.specs["decoder_loss"][-1], model.specs["encoder_loss"][-1],
                                 model.specs["training_seconds"], model.specs["quality"])
