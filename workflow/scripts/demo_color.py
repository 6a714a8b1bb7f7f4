"""Implicit colour field on the procedural colours of a few shapes, rendered in colour (paper Fig. 8;
dist_core.color)."""

import json
import logging

import pandas as pd
import torch
from tqdm import tqdm

from dist_core.color import (ColorField, color_figure, render_color_views, save_color_field, surface_color_samples,
                             train_color_field)
from dist_core.data import deepsdf, synthetic
from dist_core.data.pmo import circle_cameras
from dist_core.decoder import load_experiment
from dist_core.render import DirectionalLight
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("color_demo")
demo = json.loads(snakemake.params.demo)
data = json.loads(snakemake.params.data)
seed = snakemake.params.seed
if data["source"] != "synthetic":
    raise SystemExit("color_demo trains on the procedural colours of the embedded dataset: run it with "
                     "data.source: synthetic (config/config.yaml), not with config/shapenet.yaml")
category = demo["category"]
decoder, codes, specs = load_experiment(snakemake.params.prior_dir, map_location=device)
decoder.requires_grad_(False)
instances = [i for _, _, i in deepsdf.split_instances(deepsdf.read_split(snakemake.input.split))][: demo["shapes"]]
samples = []
for index, instance in enumerate(tqdm(instances, desc="colour samples")):
    shape = synthetic.generate(category, seed, "train", index)
    if shape.instance != instance:
        raise SystemExit(f"{snakemake.input.split}: instance {index} is {instance}, the generator gives "
                         f"{shape.instance}; regenerate the data (snakemake data)")
    norm = deepsdf.read_normalization(deepsdf.normalization_path(data["deepsdf_dir"], data["dataset"], shape.synset,
                                                                 instance))
    samples.append(surface_color_samples(shape, norm, demo.get("samples_per_shape", 20000), seed + index,
                                         demo.get("jitter", 0.003)))
latents = codes[: len(instances)].to(device)
torch.manual_seed(seed)
field = ColorField(specs["CodeLength"], demo.get("hidden", 128), demo.get("layers", 4), demo.get("octaves", 5)).to(device)
training = train_color_field(field, latents, samples, demo["iterations"], demo.get("lr", 1e-3), demo.get("batch", 4096),
                             seed, progress=lambda r: tqdm(r, desc="colour field", mininterval=2))
save_color_field(snakemake.output.weights.rsplit("/", 1)[0], field.cpu(),
                 {"category": category, "instances": instances, "prior": snakemake.params.prior_dir,
                  "final_rmse": training.final_rmse, "seconds": training.seconds})
field.to(device).eval()
log.info("colour field: %d iterations, RGB RMSE %.4f, %.0f s", demo["iterations"], training.final_rmse,
         training.seconds)

lights = [DirectionalLight(tuple(l["direction"]), l.get("ambient", 0.3), l.get("intensity", 1.0)) for l in demo["lights"]]
fov, distance = demo.get("fov_degrees", 40.0), demo.get("distance", 2.0)


def camera_for(resolution, view):
    return circle_cameras(4, 25.0, distance, fov, resolution, start_azimuth=30.0)[view]


rows = render_color_views(decoder, field, latents, demo["resolutions"], lights, camera_for,
                          **{**json.loads(snakemake.params.renderer), **demo.get("renderer", {})})
pd.DataFrame([{"instance": instances[i], "view": r["label"], "seconds": r["seconds"],
               "forward_queries": r["forward_queries"], "final_rmse": training.final_rmse}
              for i, row in enumerate(rows) for r in row]).to_csv(snakemake.output.csv, index=False)
color_figure(snakemake.output.figure, rows, instances)
