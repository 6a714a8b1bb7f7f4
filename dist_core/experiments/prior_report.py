"""Quality of a trained shape prior: reconstruction Chamfer of training and held-out shapes, and a picture.

* Training shapes: the mesh of each learned training code.
* Held-out shapes: DeepSDF's latent fit to the shape's SdfSamples (:func:`dist_core.prior.fit_latent_to_sdf_samples`).

Both are meshed on DeepSDF's grid (sparse, :func:`dist_core.mesh.extract_mesh`) and scored with DeepSDF's
Chamfer against the shape's SurfaceSamples (mesh frame); where the data has none (the embedded data only
writes them for test shapes, as DeepSDF does) 30,000 points are sampled on the ground-truth mesh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..data import deepsdf, shapenet
from ..data.preprocess import sample_surface
from ..data.seeding import derive_seed, derived_rng
from ..mesh import SDFMesh, extract_mesh
from ..mesh_picture import render_mesh
from ..prior import SdfSamples, fit_latent_to_sdf_samples

__all__ = ["Reconstruction", "reconstruct", "ground_truth_points", "reconstruction_grid",
           "category_quality"]


@dataclass
class Reconstruction:
    """One reconstructed shape.

    Attributes:
        split: ``train`` (learned code) or ``test`` (fitted code).
        instance: the shape id.
        chamfer: DeepSDF's Chamfer (not scaled).
        mesh: the reconstruction in the normalised frame.
        fit_seconds: latent fit time (0 for training codes).
        fit_loss: last fit loss (nan for training codes).
    """

    split: str
    instance: str
    chamfer: float
    mesh: SDFMesh
    fit_seconds: float = 0.0
    fit_loss: float = float("nan")

    def row(self, category: str) -> dict:
        return {"category": category, "split": self.split, "instance": self.instance,
                "chamfer_x1000": self.chamfer * metrics.TABLE_SCALE, "mesh_queries": self.mesh.queries,
                "dense_queries": self.mesh.dense_queries, "mesh_seconds": round(self.mesh.seconds, 3),
                "fit_seconds": round(self.fit_seconds, 3), "fit_loss": self.fit_loss}


def ground_truth_points(data_dir, shapenet_root, key: tuple[str, str, str], seed: int, count: int = 30000) -> np.ndarray:
    """(N, 3) GT surface points in the mesh frame: SurfaceSamples when present, else sampled on the mesh."""
    dataset, synset, instance = key
    path = deepsdf.surface_samples_path(data_dir, dataset, synset, instance)
    if path.is_file():
        return deepsdf.read_surface_samples(path).astype(np.float64)
    mesh = shapenet.load_mesh(shapenet.find_mesh(shapenet_root, synset, instance))
    points, _ = sample_surface(mesh, count, derived_rng(seed, synset, instance, "prior_report_surface"))
    return points


def reconstruct(decoder, latent: torch.Tensor, key, data_dir, shapenet_root, split: str, seed: int,
                resolution: int, trusted_distance: float, fit_seconds: float = 0.0,
                fit_loss: float = float("nan")) -> Reconstruction:
    """Mesh ``latent`` and score it against the GT surface of ``key`` = (dataset, synset, id)."""
    mesh = extract_mesh(decoder, latent, resolution=resolution, trusted_distance=trusted_distance, coarse_stride=8)
    normalization = deepsdf.read_normalization(deepsdf.normalization_path(data_dir, *key))
    gt = ground_truth_points(data_dir, shapenet_root, key, seed)
    chamfer = metrics.chamfer_deepsdf(gt, mesh.vertices, mesh.faces, normalization.offset, normalization.scale,
                                      seed=derive_seed(seed, key[1], key[2], "prior_report_chamfer") % 2**32)
    return Reconstruction(split, key[2], chamfer, mesh, fit_seconds, fit_loss)


def fit_and_reconstruct(decoder, samples: SdfSamples, key, data_dir, shapenet_root, seed: int, resolution: int,
                        trusted_distance: float, fit: dict) -> Reconstruction:
    """DeepSDF's reconstruction of a held-out shape: latent fit to its SdfSamples, then mesh and score."""
    result = fit_latent_to_sdf_samples(decoder, samples, seed=derive_seed(seed, key[1], key[2], "prior_report_fit"), **fit)
    return reconstruct(decoder, result.latent, key, data_dir, shapenet_root, "test", seed, resolution,
                       trusted_distance, result.seconds, result.loss)


def reconstruction_grid(path, rows: list[tuple[str, list[tuple[str, np.ndarray]]]]) -> Path:
    """A PNG grid: one row per (label, [(title, image)]), e.g. GT beside reconstruction for a few shapes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * cols, 1.7 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(images):
                title, image = images[c]
                ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
                ax.set_title(title, fontsize=6)
        axes[r][0].text(-0.1, 0.5, label, transform=axes[r][0].transAxes, rotation=90, va="center", ha="right",
                        fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def _provenance(folder) -> dict:
    from ..prior import PROVENANCE_FILE

    try:
        return json.loads((Path(folder) / PROVENANCE_FILE).read_text())
    except OSError:
        return {}


def category_quality(category: str, folder, data: dict, report: dict, seed: int, device="cpu"):
    """Quality of the prior in ``folder`` for ``category``.

    ``data`` is the config's ``data`` section (paths), ``report`` the ``priors.report`` section. Returns
    (summary rows, one per split; per-shape rows; picture row ``(category, [(title, image)])``).
    """
    from tqdm import tqdm

    from ..data.embedded import split_file
    from ..decoder import load_experiment
    from ..prior import load_sdf_samples

    decoder, codes, specs = load_experiment(folder, map_location=device)
    for p in decoder.parameters():
        p.requires_grad_(False)
    clamp = specs["ClampingDistance"]
    data_dir, shapenet_root = data["deepsdf_dir"], data["shapenet_root"]
    train_keys = deepsdf.split_instances(deepsdf.read_split(split_file(data["splits"], category, "train")))
    test_keys, test_samples = load_sdf_samples(data_dir, split_file(data["splits"], category, "test"))
    recons = []
    for i in tqdm(range(min(report["train_instances"], len(train_keys))), desc=f"{category} train codes", mininterval=5):
        recons.append(reconstruct(decoder, codes[i].to(device), train_keys[i], data_dir, shapenet_root, "train", seed,
                                  report["resolution"], clamp))
    for i in tqdm(range(min(report["test_instances"], len(test_keys))), desc=f"{category} test fits", mininterval=5):
        recons.append(fit_and_reconstruct(decoder, test_samples[i], test_keys[i], data_dir, shapenet_root, seed,
                                          report["resolution"], clamp, report["fit"]))
    provenance = _provenance(folder)
    network = specs["NetworkSpecs"]["dims"]
    summary = []
    for split in ("train", "test"):
        chosen = [r for r in recons if r.split == split]
        s = metrics.summarize([r.chamfer for r in chosen], seed=seed).scaled(metrics.TABLE_SCALE)
        summary.append({
            "category": category, "split": split, "shapes": s.count, "median_chamfer_x1000": s.median,
            "mean_chamfer_x1000": s.mean, "median_ci95_low": s.median_low, "median_ci95_high": s.median_high,
            "mean_query_fraction": sum(r.mesh.queries / r.mesh.dense_queries for r in chosen) / max(len(chosen), 1),
            "resolution": report["resolution"],
            "fit_seconds_per_shape": sum(r.fit_seconds for r in chosen) / max(len(chosen), 1),
            "network": f"{len(network)}x{network[0]}", "latent_size": specs["CodeLength"],
            "parameters": sum(p.numel() for p in decoder.parameters()),
            "training_seconds": provenance.get("training_seconds"), "epochs": provenance.get("epochs"),
            "git_revision": provenance.get("git", {}).get("revision"), "prior": str(folder),
        })
    images = []
    picked = [x for x in recons if x.split == "train"][: report["picture_shapes"]] + \
             [x for x in recons if x.split == "test"][: report["picture_shapes"]]
    for r in picked:
        key = next(k for k in train_keys + test_keys if k[2] == r.instance)
        norm = deepsdf.read_normalization(deepsdf.normalization_path(data_dir, *key))
        gt = shapenet.normalized_mesh(shapenet.load_mesh(shapenet.find_mesh(shapenet_root, key[1], key[2])), norm)
        images.append((f"{r.split} GT", render_mesh(gt.vertices, gt.faces)))
        images.append((f"{r.split} {r.chamfer * metrics.TABLE_SCALE:.2f}", render_mesh(r.mesh.vertices, r.mesh.faces)))
    return summary, [r.row(category) for r in recons], (category, images)
