"""Camera pose from depth and silhouette of a prior's shape (paper Fig. 6; dist_core.pose.camera_demo)."""

import json
import logging

import pandas as pd
import torch
from tqdm import tqdm

from dist_core.data.pmo import circle_cameras
from dist_core.decoder import load_experiment
from dist_core.pose import camera_demo, pose_figure
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
demo = json.loads(snakemake.params.demo)
decoder, codes, _ = load_experiment(snakemake.params.prior_dir, map_location=device)
decoder.requires_grad_(False)
camera = circle_cameras(1, demo.get("elevation", 25.0), demo.get("distance", 2.0), demo.get("fov_degrees", 40.0),
                        demo["resolution"], start_azimuth=demo.get("azimuth", 30.0))[0]
fit = camera_demo(decoder, codes[demo["instance"]].to(device), camera, demo.get("rotation_degrees", 15.0),
                  demo.get("translation", 0.1), snakemake.params.seed, demo["iterations"], demo["lr"],
                  demo.get("depth_weight", 10.0), demo.get("silhouette_weight", 1.0),
                  [s for s in demo.get("snapshots", [0, demo["iterations"]]) if s <= demo["iterations"]],
                  progress=lambda r: tqdm(r, desc="camera pose", mininterval=2), **json.loads(snakemake.params.renderer))
table = pd.DataFrame(fit.rows())
table["seconds_per_iteration"] = fit.seconds / max(len(fit.losses), 1)
table.to_csv(snakemake.output.csv, index=False)
pose_figure(snakemake.output.figure, fit)
logging.getLogger("camera_demo").info(
    "rotation error %.2f -> %.2f deg, centre error %.4f -> %.4f in %d iterations (%.2f s each)%s",
    fit.rotation_error_degrees[0], fit.rotation_error_degrees[-1], fit.translation_error[0], fit.translation_error[-1],
    len(fit.losses) - 1, fit.seconds / max(len(fit.losses), 1), f"; failed: {fit.failed}" if fit.failed else "")
