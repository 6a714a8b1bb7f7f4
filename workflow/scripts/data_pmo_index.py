"""The shared camera trajectory (PMO's, dist_core.data.pmo.pmo_trajectory) and test list of the embedded
PMO-format sequences."""

import json

from dist_core.data import pmo
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
settings = json.loads(snakemake.params.pmo)
intr, extr = pmo.pmo_trajectory(settings["resolution"], settings["elevations"], settings["azimuth_step"],
                                settings["distance"], settings["focal"], settings["focal_image_size"])
root = snakemake.output.cameras.removesuffix("camera.npz")
pmo.write_camera_file(root, intr, extr)
pmo.write_test_list(root, [tuple(e) for e in snakemake.params.entries])
