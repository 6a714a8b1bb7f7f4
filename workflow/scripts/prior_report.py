"""Reconstruction quality of the priors: results/priors/quality.csv, per-shape rows and a picture grid."""

import json
import logging

import pandas as pd
import torch
from tqdm import tqdm

from dist_core import metrics
from dist_core.data import deepsdf, shapenet
from dist_core.data.embedded import split_file
from dist_core.decoder import load_experiment
from dist_core.prior import PROVENANCE_FILE, load_sdf_samples
from dist_core.prior_report import fit_and_reconstruct, reconstruct, reconstruction_grid, render_mesh
from dist_core.runtime import setup

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("prior_report")
report = json.loads(snakemake.params.report)
data = json.loads(snakemake.params.data)
seed = snakemake.params.seed
data_dir, shapenet_root = data["deepsdf_dir"], data["shapenet_root"]
fit = report["fit"]
rows, summary, picture = [], [], []
for category, folder in zip(snakemake.params.categories, snakemake.params.prior_dirs):
    decoder, codes, specs = load_experiment(folder, map_location=device)
    for p in decoder.parameters():
        p.requires_grad_(False)
    clamp = specs["ClampingDistance"]
    train_keys = deepsdf.split_instances(deepsdf.read_split(split_file(data["splits"], category, "train")))
    test_keys, test_samples = load_sdf_samples(data_dir, split_file(data["splits"], category, "test"))
    n_train, n_test = report["train_instances"], report["test_instances"]
    recons = []
    for i in tqdm(range(min(n_train, len(train_keys))), desc=f"{category} train codes", mininterval=5):
        recons.append(reconstruct(decoder, codes[i].to(device), train_keys[i], data_dir, shapenet_root, "train", seed,
                                  report["resolution"], clamp))
    for i in tqdm(range(min(n_test, len(test_keys))), desc=f"{category} test fits", mininterval=5):
        recons.append(fit_and_reconstruct(decoder, test_samples[i], test_keys[i], data_dir, shapenet_root, seed,
                                          report["resolution"], clamp, fit))
    rows += [r.row(category) for r in recons]
    provenance_path = folder and f"{folder}/{PROVENANCE_FILE}"
    try:
        provenance = json.loads(open(provenance_path).read())
    except OSError:
        provenance = {}
    for split in ("train", "test"):
        chosen = [r for r in recons if r.split == split]
        s = metrics.summarize([r.chamfer for r in chosen], seed=seed).scaled(metrics.TABLE_SCALE)
        summary.append({
            "category": category, "split": split, "shapes": s.count, "median_chamfer_x1000": s.median,
            "mean_chamfer_x1000": s.mean, "median_ci95_low": s.median_low, "median_ci95_high": s.median_high,
            "mean_query_fraction": sum(r.mesh.queries / r.mesh.dense_queries for r in chosen) / max(len(chosen), 1),
            "resolution": report["resolution"], "fit_seconds_per_shape": sum(r.fit_seconds for r in chosen) / max(len(chosen), 1),
            "network": "x".join(map(str, [len(specs["NetworkSpecs"]["dims"]), specs["NetworkSpecs"]["dims"][0]])),
            "latent_size": specs["CodeLength"], "parameters": sum(p.numel() for p in decoder.parameters()),
            "training_seconds": provenance.get("training_seconds"), "epochs": provenance.get("epochs"),
            "git_revision": provenance.get("git", {}).get("revision"), "prior": folder,
        })
        log.info("%s %s: median Chamfer x1000 %.3f [%.3f, %.3f] over %d shapes", category, split, s.median,
                 s.median_low, s.median_high, s.count)
    images = []
    for r in [x for x in recons if x.split == "train"][: report["picture_shapes"]] + \
             [x for x in recons if x.split == "test"][: report["picture_shapes"]]:
        key = next(k for k in train_keys + test_keys if k[2] == r.instance)
        norm = deepsdf.read_normalization(deepsdf.normalization_path(data_dir, *key))
        gt = shapenet.normalized_mesh(shapenet.load_mesh(shapenet.find_mesh(shapenet_root, key[1], key[2])), norm)
        images.append((f"{r.split} GT", render_mesh(gt.vertices, gt.faces)))
        images.append((f"{r.split} {r.chamfer * 1000:.2f}", render_mesh(r.mesh.vertices, r.mesh.faces)))
    picture.append((category, images))

pd.DataFrame(summary).to_csv(snakemake.output.csv, index=False)
pd.DataFrame(rows).to_csv(snakemake.output.per_shape, index=False)
reconstruction_grid(snakemake.output.picture, picture)
