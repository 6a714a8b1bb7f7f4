"""The shared camera trajectory and test list of the embedded PMO-format sequences (dist_core.data.pmo)."""

import json

from dist_core.data import pmo
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0])
settings = json.loads(snakemake.params.pmo)
cameras = pmo.circle_cameras(settings["views"], settings["elevation"], settings["distance"],
                             settings["fov_degrees"], settings["resolution"])
root = snakemake.output.cameras.removesuffix("camera.npz")
pmo.write_camera_file(root, *pmo.cameras_to_pmo(cameras))
pmo.write_test_list(root, [tuple(e) for e in snakemake.params.entries])
