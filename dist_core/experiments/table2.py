"""Table 2 of the paper: shape completion from one dense or sparse depth image (section 4.2.1).

For one test instance, :func:`evaluate_instance` runs every input setting (dense, 50pct, ... 20pts) with
every method and scores each result with DeepSDF's Chamfer (:func:`dist_core.metrics.chamfer_deepsdf`,
x 1000 in the tables):

* ``deepsdf``: the baseline of the paper, SDF samples along the ground-truth normals of the given pixels
  and DeepSDF's latent fit (:mod:`dist_core.baselines.deepsdf`);
* ``ours``: latent optimisation through the renderer (:func:`dist_core.fit.fit_latent_to_depth`) from the
  prior's mean shape, depth L1 on the given pixels plus the silhouette they imply (they show the object);
* ``ours_mask``: the same plus the silhouette loss on the full object mask.

A dense depth image implies its own mask, so on ``dense`` ``ours`` and ``ours_mask`` are one optimisation
(the paper's table prints the same number for both); it runs once and both rows carry it (``shared``).

:func:`write_instance` / :func:`read_instance` are the only code touching the per-instance HDF5 file::

    <setting>/<method>/  latent (D,), losses, depth_losses, silhouette_losses (T,), forward_queries,
                         backward_queries (T,), depth, silhouette (H, W), normal (H, W, 3) of the final
                         code (0 / +inf-free: depth 0 on background), vertices (V, 3), faces (F, 3)
                         attributes: chamfer_x1000, failed, reason, shared, fit_seconds, steps,
                         mesh_seconds, mesh_queries
    root attributes: category, instance, synset, seed, units, ...

:func:`assemble` turns the per-instance rows into the tidy summary table and the paper-layout markdown;
:func:`category_figure` and :func:`loss_chamfer_curve` make the figures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from .. import io, metrics
from ..baselines.deepsdf import fit_depth_deepsdf
from ..data.seeding import derive_seed
from ..data.sparse import PAPER_LABELS
from ..fit import FitOptions, depth_target, fit_latent_to_depth
from ..mesh import extract_mesh
from ..prior import load_prior
from ..render import render

__all__ = ["load_prior", "load_instance", "METHODS", "METHOD_LABELS", "PAPER_TABLE2", "CHAMFER_UNITS", "Table2Options", "MethodResult",
           "evaluate_instance", "write_instance", "read_instance", "per_instance_rows", "assemble",
           "markdown_table", "category_figure", "loss_chamfer_curve", "TABLE2_VERSION"]

TABLE2_VERSION = "dist-table2/1"
METHODS = ("deepsdf", "ours", "ours_mask")
METHOD_LABELS = {"deepsdf": "DeepSDF", "ours": "Ours", "ours_mask": "Ours (mask)"}
CHAMFER_UNITS = ("DeepSDF Chamfer x 1000: mesh-frame points, mean squared nearest distance in each direction, "
                 "summed")
SETTINGS = ("dense", "50pct", "10pct", "100pts", "50pts", "20pts")
#: The paper's Table 2 (median Chamfer x 1000, first 200 test instances of ShapeNet), by (category, method).
PAPER_TABLE2 = {
    ("sofa", "deepsdf"): (5.37, 5.56, 5.50, 5.93, 6.03, 7.63),
    ("sofa", "ours"): (4.12, 5.75, 5.49, 5.72, 5.57, 6.95),
    ("sofa", "ours_mask"): (4.12, 3.98, 4.31, 3.98, 4.30, 4.94),
    ("plane", "deepsdf"): (3.71, 3.73, 4.29, 4.44, 4.40, 5.39),
    ("plane", "ours"): (2.18, 4.08, 4.81, 4.44, 4.51, 5.30),
    ("plane", "ours_mask"): (2.18, 2.08, 2.62, 2.26, 2.55, 3.60),
    ("table", "deepsdf"): (12.93, 12.78, 11.67, 12.87, 13.76, 15.77),
    ("table", "ours"): (5.37, 12.05, 11.42, 11.70, 13.76, 15.83),
    ("table", "ours_mask"): (5.37, 5.15, 5.16, 5.26, 6.33, 7.62),
}


@dataclass
class Table2Options:
    """The ``table2`` config section that shapes one instance's evaluation.

    Attributes:
        ours: :class:`dist_core.fit.FitOptions` fields (iterations, lr, weights, gradient).
        deepsdf: DeepSDF fit settings: ``offsets`` (distances along the normal) and
            :func:`dist_core.prior.fit_latent_to_sdf_samples` arguments.
        mesh_resolution: marching-cubes grid per axis (DeepSDF: 256).
        chamfer_samples: points sampled on each result mesh (DeepSDF: 30,000).
        renderer: tracer options (config ``renderer``).
    """

    ours: dict = field(default_factory=dict)
    deepsdf: dict = field(default_factory=dict)
    mesh_resolution: int = 128
    chamfer_samples: int = metrics.DEEPSDF_MESH_SAMPLES
    renderer: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, table2: dict, renderer: dict) -> "Table2Options":
        return cls(dict(table2["ours"]), dict(table2["deepsdf"]), int(table2["mesh_resolution"]),
                   int(table2["chamfer_samples"]), dict(renderer))

    def fit_options(self) -> FitOptions:
        return FitOptions.from_config(self.ours, self.renderer)


@dataclass
class MethodResult:
    """One (instance, setting, method) of Table 2.

    Attributes:
        setting, method: the input setting and method names.
        latent: (D,) final code.
        chamfer: DeepSDF's Chamfer (unscaled); nan when failed.
        failed, reason: the optimisation diverged or produced no surface, and why.
        shared: the result is another method's (dense ``ours`` is ``ours_mask``).
        losses, depth_losses, silhouette_losses: per iteration (DeepSDF: its SDF loss; no split).
        forward_queries, backward_queries: renderer queries per iteration (empty for DeepSDF).
        fit_seconds, mesh_seconds, mesh_queries: timings and marching-cubes queries.
        depth, normal, silhouette: rendering of the final code from the input view (depth 0 on background).
        vertices, faces: the result mesh in the normalised frame.
    """

    setting: str
    method: str
    latent: np.ndarray
    chamfer: float = float("nan")
    failed: bool = False
    reason: str = ""
    shared: bool = False
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    depth_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    silhouette_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forward_queries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    backward_queries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fit_seconds: float = 0.0
    mesh_seconds: float = 0.0
    mesh_queries: int = 0
    depth: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    normal: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))
    silhouette: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    @property
    def steps(self) -> int:
        return len(self.losses)


def load_instance(view_path, deepsdf_dir, dataset: str):
    """The single-view input of an instance, its GT surface samples (mesh frame) and its normalisation."""
    from ..data import deepsdf
    from ..data.inputs import read_single_view

    view = read_single_view(view_path)
    key = (dataset, view.attrs["synset"], view.attrs["instance"])
    gt_points = deepsdf.read_surface_samples(deepsdf.surface_samples_path(deepsdf_dir, *key)).astype(np.float64)
    normalization = deepsdf.read_normalization(deepsdf.normalization_path(deepsdf_dir, *key))
    return view, gt_points, normalization


def _final_images(decoder, latent: torch.Tensor, camera, renderer: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with torch.no_grad():
        r = render(decoder, latent, camera, outputs=("depth", "normal", "silhouette"), **renderer)
    depth = torch.where(r.valid, r.depth, torch.zeros_like(r.depth))
    return (depth.cpu().numpy().astype(np.float32), r.normal.detach().cpu().numpy().astype(np.float32),
            r.silhouette.detach().cpu().numpy().astype(np.float32))


def _score(result: MethodResult, decoder, latent: torch.Tensor, gt_points, normalization, options: Table2Options,
           seed: int) -> None:
    """Mesh the code and compute DeepSDF's Chamfer into ``result`` (marks an empty mesh as failed)."""
    mesh = extract_mesh(decoder, latent, resolution=options.mesh_resolution, coarse_stride=8, trusted_distance=0.1)
    result.vertices, result.faces = mesh.vertices.astype(np.float32), mesh.faces
    result.mesh_seconds, result.mesh_queries = mesh.seconds, mesh.queries
    if mesh.empty:
        result.failed, result.reason = True, "the code has no surface inside the unit cube (empty mesh)"
        return
    result.chamfer = metrics.chamfer_deepsdf(gt_points, mesh.vertices, mesh.faces, normalization.offset,
                                             normalization.scale, samples=options.chamfer_samples, seed=seed)


def evaluate_instance(decoder, mean_latent: torch.Tensor, view, gt_points: np.ndarray, normalization,
                      options: Table2Options, seed: int, settings=SETTINGS, methods=METHODS,
                      progress: bool = False) -> list[MethodResult]:
    """Every (setting, method) of Table 2 on one instance.

    Args:
        decoder: the category's frozen DeepSDF decoder (eval mode), on the device to use.
        mean_latent: (D,) the prior's mean training code (initialisation of ``ours``).
        view: :class:`dist_core.data.inputs.SingleViewInput` (depth, mask, normal, camera, sparse pixels).
        gt_points: (N, 3) ground-truth surface samples in the mesh frame.
        normalization: the instance's :class:`~dist_core.data.deepsdf.Normalization`.
        seed: the config seed; each random choice derives its own from (seed, category, instance, setting).
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown Table 2 method(s) {unknown}; choose from {METHODS}")
    device = mean_latent.device
    category, instance = view.attrs.get("category", ""), view.attrs.get("instance", "")
    fit_options = options.fit_options()
    deepsdf_fit = dict(options.deepsdf)
    offsets = tuple(deepsdf_fit.pop("offsets", (0.025,)))
    results = []
    for setting in settings:
        observed = view.sparse[setting]
        done: dict[str, MethodResult] = {}
        # Dense depth implies the mask: dense ``ours`` is ``ours_mask``, so that one runs first and is shared.
        order = sorted(methods, key=lambda m: (setting == "dense" and m == "ours", METHODS.index(m)))
        for method in order:
            if method == "ours" and setting == "dense" and "ours_mask" in done:
                done[method] = _shared(done["ours_mask"], method)
                continue
            job_seed = derive_seed(seed, category, instance, f"{setting}/{method}")
            chamfer_seed = derive_seed(seed, category, instance, f"{setting}/{method}/chamfer") % 2**32
            started = time.perf_counter()
            if method == "deepsdf":
                fit = fit_depth_deepsdf(decoder, view.depth, view.normal, observed, view.camera, offsets,
                                        seed=job_seed, **deepsdf_fit)
                result = MethodResult(setting, method, fit.latent.cpu().numpy(), losses=np.asarray(fit.losses))
                latent = fit.latent
                if not torch.isfinite(latent).all():
                    result.failed, result.reason = True, "DeepSDF's fit produced a non-finite code"
            else:
                mask = view.mask if (method == "ours_mask" or setting == "dense") else None
                target = depth_target(view.camera, view.depth, observed, mask)
                fit = fit_latent_to_depth(decoder, target, mean_latent, fit_options, progress=progress,
                                          description=f"{instance[:8]} {setting} {method}")
                latent = fit.latent
                result = MethodResult(setting, method, latent.cpu().numpy(), failed=fit.failed, reason=fit.reason,
                                      losses=np.asarray(fit.losses), depth_losses=np.asarray(fit.depth_losses),
                                      silhouette_losses=np.asarray(fit.silhouette_losses),
                                      forward_queries=np.asarray(fit.forward_queries, dtype=np.int64),
                                      backward_queries=np.asarray(fit.backward_queries, dtype=np.int64))
            result.fit_seconds = time.perf_counter() - started
            if not result.failed:
                result.depth, result.normal, result.silhouette = _final_images(decoder, latent.to(device),
                                                                               view.camera, options.renderer)
                _score(result, decoder, latent.to(device), gt_points, normalization, options, chamfer_seed)
            done[method] = result
        results += [done[m] for m in methods]
    return results


def _shared(source: MethodResult, method: str) -> MethodResult:
    copy = MethodResult(**{**source.__dict__, "method": method, "shared": True})
    return copy


def write_instance(path, results: list[MethodResult], attrs: dict) -> Path:
    """One instance's results as HDF5, written atomically (a killed job leaves no partial file)."""
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            for r in results:
                g = f.create_group(f"{r.setting}/{r.method}")
                for name in ("latent", "losses", "depth_losses", "silhouette_losses", "forward_queries",
                             "backward_queries", "depth", "normal", "silhouette", "vertices", "faces"):
                    data = np.asarray(getattr(r, name))
                    g.create_dataset(name, data=data, **({"compression": "gzip"} if data.size > 64 else {}))
                g.attrs.update({"chamfer_x1000": r.chamfer * metrics.TABLE_SCALE, "failed": bool(r.failed),
                                "reason": r.reason, "shared": bool(r.shared), "fit_seconds": r.fit_seconds,
                                "mesh_seconds": r.mesh_seconds, "mesh_queries": int(r.mesh_queries)})
    return path


def read_instance(path) -> tuple[list[MethodResult], dict]:
    """The results and root attributes written by :func:`write_instance`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Table 2 instance result not found; run `snakemake table2`")
    results = []
    with h5py.File(path, "r") as f:
        attrs = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
        for setting in f:
            for method in f[setting]:
                g = f[setting][method]
                arrays = {name: g[name][()] for name in g}
                a = {k: io.decode_attribute(v) for k, v in g.attrs.items()}
                results.append(MethodResult(
                    setting, method, chamfer=float(a["chamfer_x1000"]) / metrics.TABLE_SCALE, failed=bool(a["failed"]),
                    reason=str(a["reason"]), shared=bool(a["shared"]), fit_seconds=float(a["fit_seconds"]),
                    mesh_seconds=float(a["mesh_seconds"]), mesh_queries=int(a["mesh_queries"]), **arrays))
    order = {s: i for i, s in enumerate(str(attrs.get("settings", ",".join(SETTINGS))).split(","))}
    results.sort(key=lambda r: (order.get(r.setting, len(order)), METHODS.index(r.method) if r.method in METHODS else 9))
    return results, attrs


def per_instance_rows(results: list[MethodResult], attrs: dict) -> list[dict]:
    """One row per (setting, method) of an instance: ``table2_per_instance.csv``."""
    rows = []
    for r in results:
        steps = max(r.steps, 1)
        rows.append({
            "category": attrs.get("category"), "instance": attrs.get("instance"), "setting": r.setting,
            "method": r.method, "chamfer_x1000": r.chamfer * metrics.TABLE_SCALE, "failed": r.failed,
            "reason": r.reason, "shared": r.shared, "steps": r.steps, "final_loss": float(r.losses[-1]) if r.steps else math.nan,
            "fit_seconds": r.fit_seconds, "seconds_per_step": r.fit_seconds / steps,
            "forward_queries_per_step": float(np.mean(r.forward_queries)) if len(r.forward_queries) else math.nan,
            "backward_queries_per_step": float(np.mean(r.backward_queries)) if len(r.backward_queries) else math.nan,
            "mesh_seconds": r.mesh_seconds, "mesh_queries": r.mesh_queries,
        })
    return rows


def assemble(rows, seed: int = 0, with_paper: bool = False):
    """The tidy Table 2: one row per (category, setting, method) with median, mean, the bootstrap 95 %
    interval of the median (failed instances excluded), ``n`` and ``n_failed``."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    out = []
    categories = list(dict.fromkeys(frame["category"]))
    settings = [s for s in SETTINGS if s in set(frame["setting"])] + \
               [s for s in dict.fromkeys(frame["setting"]) if s not in SETTINGS]
    for category in categories:
        for method in [m for m in METHODS if m in set(frame["method"])]:
            for setting in settings:
                chosen = frame[(frame.category == category) & (frame.method == method) & (frame.setting == setting)]
                if chosen.empty:
                    continue
                ok = chosen[~chosen.failed.astype(bool)]
                s = metrics.summarize(ok["chamfer_x1000"].to_numpy(), seed=seed)
                row = {"category": category, "setting": setting, "method": method, "median_chamfer_x1000": s.median,
                       "mean_chamfer_x1000": s.mean, "median_ci95_low": s.median_low, "median_ci95_high": s.median_high,
                       "n": int(len(chosen)), "n_failed": int(len(chosen) - len(ok)),
                       "seconds_per_step": float(chosen["seconds_per_step"].mean()),
                       "forward_queries_per_step": float(chosen["forward_queries_per_step"].mean())}
                paper = PAPER_TABLE2.get((category, method))
                if with_paper:
                    row["paper_median_chamfer_x1000"] = (paper[SETTINGS.index(setting)]
                                                         if paper and setting in SETTINGS else math.nan)
                out.append(row)
    return pd.DataFrame(out)


def markdown_table(table, with_paper: bool = False) -> str:
    """The paper's layout: a block per category, a row per method, the settings as columns; with
    ``with_paper`` each cell reads ``ours (paper)``."""
    settings = [s for s in SETTINGS if s in set(table["setting"])]
    header = "| | " + " | ".join(PAPER_LABELS.get(s, s) for s in settings) + " |"
    lines = [header, "|" + "---|" * (len(settings) + 1)]
    for category in dict.fromkeys(table["category"]):
        lines.append(f"| **{category}** |" + " |" * len(settings))
        for method in [m for m in METHODS if m in set(table["method"])]:
            cells = []
            for s in settings:
                row = table[(table.category == category) & (table.method == method) & (table.setting == s)]
                if row.empty:
                    cells.append("")
                    continue
                row = row.iloc[0]
                cell = f"{row.median_chamfer_x1000:.2f}"
                if row.n_failed:
                    cell += f" ({int(row.n_failed)} failed)"
                if with_paper and not math.isnan(row.get("paper_median_chamfer_x1000", math.nan)):
                    cell += f" ({row.paper_median_chamfer_x1000:.2f})"
                cells.append(cell)
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def category_figure(path, category: str, instance: str, view, gt_mesh, results: list[MethodResult],
                    settings=SETTINGS) -> Path:
    """A PNG per category: per setting, the given depth pixels, the GT and each method's mesh seen from a
    novel view (:func:`dist_core.mesh_picture.render_mesh`), Chamfer x 1000 in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..mesh_picture import render_mesh

    methods = [m for m in METHODS if any(r.method == m for r in results)]
    gt_image = render_mesh(np.asarray(gt_mesh.vertices), np.asarray(gt_mesh.faces))
    settings = [s for s in settings if any(r.setting == s for r in results)]
    cols = 2 + len(methods)
    fig, axes = plt.subplots(len(settings), cols, figsize=(1.7 * cols, 1.8 * len(settings)), squeeze=False)
    finite = view.depth[np.isfinite(view.depth)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i, setting in enumerate(settings):
        given = np.where(view.sparse[setting], view.depth, np.nan)
        panels = [(f"input {PAPER_LABELS.get(setting, setting)}", given, "viridis"), ("GT (novel view)", gt_image, "gray")]
        for m in methods:
            r = next(x for x in results if x.setting == setting and x.method == m)
            title = f"{METHOD_LABELS[m]} {r.chamfer * metrics.TABLE_SCALE:.2f}" if not r.failed else f"{METHOD_LABELS[m]} failed"
            panels.append((title, render_mesh(r.vertices.astype(np.float64), r.faces), "gray"))
        for j, (title, image, cmap) in enumerate(panels):
            ax = axes[i][j]
            ax.axis("off")
            if cmap == "viridis":
                ax.set_facecolor("white")
                ax.imshow(image, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
            else:
                ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
            ax.set_title(title, fontsize=6)
    fig.suptitle(f"Table 2, {category} {instance[:12]}: input depth, GT and results (novel view; Chamfer x 1000)",
                 fontsize=7)
    fig.tight_layout()
    path = Path(path)
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)
    return path


def loss_chamfer_curve(decoder, mean_latent: torch.Tensor, view, setting: str, method: str, gt_points, normalization,
                       options: Table2Options, every: int, mesh_resolution: int, seed: int, progress: bool = False):
    """Paper Fig. 5 for one instance: the loss of every iteration of ``ours`` / ``ours_mask`` and the
    Chamfer x 1000 of the code every ``every`` iterations. Returns a DataFrame (iteration, loss,
    depth_loss, silhouette_loss, chamfer_x1000; Chamfer nan between evaluations)."""
    import pandas as pd

    if method not in ("ours", "ours_mask"):
        raise ValueError(f"the loss-vs-Chamfer curve follows the renderer's optimisation: 'ours' or 'ours_mask', not {method!r}")
    chamfers = {}
    category, instance = view.attrs.get("category", ""), view.attrs.get("instance", "")
    chamfer_seed = derive_seed(seed, category, instance, "curve/chamfer") % 2**32

    def score(iteration, latent):
        if iteration == 1 or iteration % every == 0:
            mesh = extract_mesh(decoder, latent, resolution=mesh_resolution, coarse_stride=8, trusted_distance=0.1)
            chamfers[iteration] = (math.inf if mesh.empty else metrics.chamfer_deepsdf(
                gt_points, mesh.vertices, mesh.faces, normalization.offset, normalization.scale,
                samples=options.chamfer_samples, seed=chamfer_seed)) * metrics.TABLE_SCALE

    mask = view.mask if (method == "ours_mask" or setting == "dense") else None
    target = depth_target(view.camera, view.depth, view.sparse[setting], mask)
    fit = fit_latent_to_depth(decoder, target, mean_latent, options.fit_options(), progress=progress, callback=score,
                              description=f"curve {instance[:8]} {setting}")
    if fit.failed:
        raise RuntimeError(f"the curve's optimisation failed: {fit.reason}")
    return pd.DataFrame({"iteration": np.arange(1, fit.steps + 1), "loss": fit.losses, "depth_loss": fit.depth_losses,
                         "silhouette_loss": fit.silhouette_losses,
                         "chamfer_x1000": [chamfers.get(i, math.nan) for i in range(1, fit.steps + 1)]})


def curve_figure(path, curve, title: str) -> Path:
    """Loss and Chamfer against iteration, and Chamfer against loss (paper Fig. 5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = curve.dropna(subset=["chamfer_x1000"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(curve.iteration, curve.loss, label="loss")
    a.set_xlabel("iteration")
    a.set_ylabel("loss")
    twin = a.twinx()
    twin.plot(scored.iteration, scored.chamfer_x1000, "o-", color="C1", markersize=3, label="Chamfer x 1000")
    twin.set_ylabel("Chamfer x 1000")
    a.set_title(title, fontsize=8)
    b.plot(scored.loss, scored.chamfer_x1000, "o", markersize=3)
    if len(scored) > 2:
        r = float(np.corrcoef(scored.loss, scored.chamfer_x1000)[0, 1])
        b.set_title(f"Chamfer vs loss (Pearson r = {r:.2f})", fontsize=8)
    b.set_xlabel("loss")
    b.set_ylabel("Chamfer x 1000")
    fig.tight_layout()
    path = Path(path)
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)
    return path
