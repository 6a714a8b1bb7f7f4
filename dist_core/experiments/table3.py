"""Table 3 (paper section 4.2.2): shape from multi-view colour images, ours (rand init) against PMO.

One instance and one method at a time (:func:`run_method`) writes an :class:`InstanceResult` to HDF5
(:func:`write_instance` / :func:`read_instance`, atomic); :func:`summarize_table` / :func:`markdown_table`
turn the results into the tidy table and the paper's layout; :func:`figure` draws input views, our shape over
the iterations (paper Fig. 9) and PMO's.

Metric (the paper's caption): Chamfer in one direction, ground truth -> prediction, the mean squared distance
from 10,000 ground-truth points to 10,000 points sampled on the predicted mesh, in the instance's DeepSDF
normalised frame (unit sphere), times 1000 (:data:`METRIC`).

Inputs: the ``multi_view.h5`` of the data stage, with the background and resolution of
:func:`dist_core.data.views.prepare_views` (``table3.background``).
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
from ..data.inputs import MultiViewInput
from ..data.seeding import derive_seed
from ..data.views import prepare_views
from ..mesh import extract_mesh
from ..multiview import FitDiverged, MultiViewSettings, optimize_multi_view, random_latent

__all__ = [
    "METHODS",
    "METRIC",
    "InstanceResult",
    "chamfer_gt_to_prediction",
    "run_method",
    "write_instance",
    "read_instance",
    "summarize_table",
    "markdown_table",
    "figure",
    "robustness_rows",
]

METHODS = {"pmo_original": "PMO (original)", "pmo_rand": "PMO (rand init)", "ours_rand": "Ours (rand init)"}
METRIC = "chamfer_gt_to_pred_mean_sq_x1000_normalized_frame"
VERSION = "dist-table3/1"


@dataclass
class InstanceResult:
    """One method on one instance.

    Attributes:
        category, instance, method: which (method: a key of :data:`METHODS`).
        status: "ok" or "failed"; reason: why it failed ("" when ok).
        chamfer: the Table 3 metric (:data:`METRIC`), NaN when failed.
        seconds, seconds_per_step, forward_queries_per_step, steps: cost of the optimisation.
        losses: total loss of every step.
        snapshots: list of (epoch, vertices (N, 3), faces (M, 3)) meshes over the iterations.
        points: (10000, 3) points sampled on the final mesh.
    """

    category: str
    instance: str
    method: str
    status: str = "ok"
    reason: str = ""
    chamfer: float = float("nan")
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    forward_queries_per_step: float = 0.0
    steps: int = 0
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    snapshots: list = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def row(self) -> dict:
        return {"category": self.category, "instance": self.instance, "method": self.method,
                "method_name": METHODS.get(self.method, self.method), "status": self.status, "reason": self.reason,
                "metric": METRIC, "chamfer": self.chamfer, "seconds": self.seconds,
                "seconds_per_step": self.seconds_per_step, "forward_queries_per_step": self.forward_queries_per_step,
                "steps": self.steps, "final_loss": float(self.losses[-1]) if len(self.losses) else float("nan")}


def chamfer_gt_to_prediction(gt_points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, seed: int,
                             count: int = metrics.TABLE3_POINTS) -> tuple[float, np.ndarray]:
    """The Table 3 metric (:data:`METRIC`) and the ``count`` points sampled on the predicted mesh."""
    if len(faces) == 0:
        raise FitDiverged("the predicted shape is empty (no surface inside the unit sphere)")
    if not np.isfinite(vertices).all():
        raise FitDiverged("the predicted mesh has non-finite vertices: the optimisation diverged")
    points = metrics.sample_mesh_surface(vertices, faces, count, seed=seed)
    return metrics.TABLE_SCALE * metrics.chamfer_one_sided(gt_points, points), points


def _sdf_mesh(decoder, code: torch.Tensor, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    mesh = extract_mesh(decoder, code, resolution=resolution)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def run_method(method: str, category: str, instance: str, data: MultiViewInput, settings: dict, seed: int,
               decoder=None, latent_size: int | None = None, pmo_model=None, renderer: dict | None = None,
               progress: bool = True) -> InstanceResult:
    """Run one Table 3 method on one instance; failures (NaN loss, empty shape) are recorded, not raised.

    Args:
        method: "ours_rand", "pmo_original" or "pmo_rand".
        settings: the config section ``table3`` (resolution, background, mesh_resolution, ours, pmo,
            focal_scale, pmo_code_noise).
        decoder, latent_size: the DeepSDF prior (ours).
        pmo_model: :class:`~dist_core.baselines.pmo.PMOModel` (PMO rows).
        renderer: tracer switches of :func:`dist_core.render`.
    """
    from ..baselines.pmo import optimize_pmo

    result = InstanceResult(category, instance, method)
    instance_seed = derive_seed(seed, category, instance, f"table3_{method}")
    start = time.perf_counter()
    try:
        images, cameras = prepare_views(data, settings["resolution"], settings["background"],
                                        derive_seed(seed, category, instance, "table3_background"),
                                        settings.get("focal_scale", 1.0))
        if method == "ours_rand":
            options = MultiViewSettings.from_dict(settings["ours"])
            fit = optimize_multi_view(decoder, images, cameras, options, instance_seed, latent_size,
                                      renderer_options=renderer, progress=progress, description=f"ours {instance[:8]}")
            meshes = [(epoch, *_sdf_mesh(decoder, code, settings["mesh_resolution"])) for epoch, code in fit.snapshots]
        elif method in ("pmo_original", "pmo_rand"):
            options = MultiViewSettings.from_dict(settings["pmo"]["optimization"])
            size = pmo_model.decoder.code_size
            if method == "pmo_original":
                view = settings["pmo"]["encoder_view"]
                with torch.no_grad():
                    init = pmo_model.encoder(torch.as_tensor(images[view]))
                noise = settings.get("pmo_code_noise", 0.0)
                if noise:
                    init = init + random_latent(size, noise, instance_seed + 1)
            else:
                init = random_latent(size, options.init_std, instance_seed)
            fit = optimize_pmo(pmo_model, images, cameras, options, init, progress=progress,
                               description=f"{method} {instance[:8]}")
            faces = pmo_model.decoder.faces.numpy()
            with torch.no_grad():
                meshes = [(epoch, pmo_model.decoder(code).numpy(), faces) for epoch, code in fit.snapshots]
        else:
            raise ValueError(f"unknown Table 3 method {method!r}; choose from {sorted(METHODS)}")
        result.losses = np.asarray(fit.losses)
        result.snapshots = meshes
        result.seconds_per_step, result.steps = fit.seconds_per_step, fit.steps
        result.forward_queries_per_step = fit.forward_queries_per_step
        result.chamfer, result.points = chamfer_gt_to_prediction(data.gt_points, meshes[-1][1], meshes[-1][2],
                                                                 instance_seed)
        if not math.isfinite(result.chamfer):
            raise FitDiverged(f"Chamfer distance is {result.chamfer}")
    except (FitDiverged, ValueError) as err:
        if isinstance(err, ValueError) and "NaN" not in str(err) and "diverged" not in str(err):
            raise
        result.status, result.reason, result.chamfer = "failed", str(err), float("nan")
    result.seconds = time.perf_counter() - start
    return result


def write_instance(path, result: InstanceResult, attrs: dict | None = None) -> Path:
    """Write one :class:`InstanceResult` to HDF5 atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in {**io.standard_attributes(0, VERSION, METRIC), **(attrs or {})}.items():
                f.attrs[key] = value
            row = result.row()
            for key in ("category", "instance", "method", "status", "reason", "metric"):
                f.attrs[key] = row[key]
            for key in ("chamfer", "seconds", "seconds_per_step", "forward_queries_per_step"):
                f.attrs[key] = float(row[key])
            f.attrs["steps"] = int(result.steps)
            f.create_dataset("losses", data=np.asarray(result.losses, dtype=np.float64))
            f.create_dataset("points", data=np.asarray(result.points, dtype=np.float32), compression="gzip")
            group = f.create_group("snapshots")
            for k, (epoch, vertices, faces) in enumerate(result.snapshots):
                g = group.create_group(f"{k:03d}")
                g.attrs["epoch"] = int(epoch)
                g.create_dataset("vertices", data=np.asarray(vertices, dtype=np.float32), compression="gzip")
                g.create_dataset("faces", data=np.asarray(faces, dtype=np.int32), compression="gzip")
    return path


def read_instance(path) -> InstanceResult:
    """Read a file written by :func:`write_instance`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Table 3 instance result missing; run `snakemake table3`")
    with h5py.File(path, "r") as f:
        a = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
        snapshots = [(int(g.attrs["epoch"]), g["vertices"][()], g["faces"][()])
                     for _, g in sorted(f["snapshots"].items())]
        return InstanceResult(a["category"], a["instance"], a["method"], a["status"], a["reason"], float(a["chamfer"]),
                              float(a["seconds"]), float(a["seconds_per_step"]), float(a["forward_queries_per_step"]),
                              int(a["steps"]), f["losses"][()], snapshots, f["points"][()])


def summarize_table(rows: list, seed: int = 0):
    """Tidy table: one row per (category, method) with median, mean, bootstrap CI of the median, n, n_failed."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    out = []
    for (category, method), group in frame.groupby(["category", "method"], sort=False):
        ok = group[group["status"] == "ok"]["chamfer"].to_numpy()
        s = metrics.summarize(ok, seed=seed)
        out.append({"category": category, "method": method, "method_name": METHODS.get(method, method),
                    "metric": METRIC, "median": s.median, "mean": s.mean, "median_ci95_low": s.median_low,
                    "median_ci95_high": s.median_high, "n": s.count, "n_failed": int((group["status"] != "ok").sum()),
                    "seconds_per_instance": float(group["seconds"].mean()),
                    "seconds_per_step": float(group["seconds_per_step"].mean()),
                    "forward_queries_per_step": float(group["forward_queries_per_step"].mean())})
    return pd.DataFrame(out)


PAPER = {("pmo_original", "car"): 0.661, ("pmo_original", "plane"): 1.129, ("pmo_rand", "car"): 1.187,
         ("pmo_rand", "plane"): 6.124, ("ours_rand", "car"): 0.919, ("ours_rand", "plane"): 1.595}


def markdown_table(table, categories: list, note: str = "") -> str:
    """The paper's layout: methods as rows, categories as columns, median (n, failures), paper value beside."""
    lines = ["# Table 3: shape from multi-view images (median Chamfer, ground truth -> prediction)", "",
             f"Metric: `{METRIC}`: mean squared distance from 10,000 ground-truth points to 10,000 points sampled on "
             "the predicted mesh, in the DeepSDF normalised frame, x1000. The paper's values (in brackets) are in "
             "PMO's frame (about half our scale, so about a quarter of our squared distances).", ""]
    lines.append("| Method | " + " | ".join(categories) + " |")
    lines.append("|---|" + "---|" * len(categories))
    for method, name in METHODS.items():
        cells = []
        for category in categories:
            row = table[(table["method"] == method) & (table["category"] == category)]
            if row.empty:
                cells.append("-")
                continue
            r = row.iloc[0]
            failed = f", {int(r['n_failed'])} failed" if r["n_failed"] else ""
            cells.append(f"{r['median']:.3f} (n={int(r['n'])}{failed}) [{PAPER.get((method, category), float('nan')):.3f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def figure(path, category: str, images: np.ndarray, ours: InstanceResult, pmo: list) -> Path:
    """Input views, our mesh over the iterations (paper Fig. 9) and PMO's final meshes, for one instance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import trimesh

    from ..mesh_picture import render_mesh

    def shade(vertices, faces):
        # A decoded template may come out inside-out; orient the faces outwards so that the shading reads.
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if len(faces):
            trimesh.repair.fix_normals(mesh)
        return render_mesh(mesh.vertices, mesh.faces)

    panels = [(f"view {k}", images[k]) for k in range(min(len(images), 4))]
    steps = [(f"ours epoch {epoch}", shade(v, f)) for epoch, v, f in ours.snapshots]
    others = [(f"{METHODS[r.method]}\n{r.chamfer:.2f}", shade(r.snapshots[-1][1], r.snapshots[-1][2]))
              for r in pmo if r.snapshots]
    columns = max(len(panels), len(steps), len(others) + 1, 1)
    fig, axes = plt.subplots(3, columns, figsize=(2.0 * columns, 6.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (title, image) in enumerate(panels):
        axes[0, k].imshow(np.clip(image, 0, 1))
        axes[0, k].set_title(title, fontsize=8)
    for k, (title, image) in enumerate(steps):
        axes[1, k].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[1, k].set_title(title if k < len(steps) - 1 else f"{title}\n{ours.chamfer:.2f}", fontsize=8)
    for k, (title, image) in enumerate(others):
        axes[2, k].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[2, k].set_title(title, fontsize=8)
    fig.suptitle(f"Table 3, {category} {ours.instance[:8]}: inputs, ours over the iterations, PMO", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def robustness_rows(category: str, inputs: list, settings: dict, seed: int, decoder=None, latent_size=None,
                    pmo_model=None, renderer: dict | None = None, progress: bool = True) -> list:
    """The robustness tests of paper Fig. 10 on ``inputs`` (list of ``(instance, MultiViewInput)``).

    (a) focal length: every ``settings["robustness"]["focal_scales"]`` value, ours and PMO (original) (PMO's
    encoder was trained at scale 1); (b) noise of standard deviation ``code_noise`` added to PMO's encoder code
    (ours starts from a random code and is run once, at noise 0). Returns tidy rows: experiment, value, method,
    instance, status, chamfer.
    """
    plan = settings["robustness"]
    runs = [("focal_scale", s, m, {"focal_scale": s}) for s in plan["focal_scales"] for m in ("ours_rand", "pmo_original")]
    runs += [("pmo_code_noise", n, "pmo_original", {"pmo_code_noise": n}) for n in plan["code_noise"]]
    rows = []
    for experiment, value, method, override in runs:
        for instance, data in inputs:
            result = run_method(method, category, instance, data, {**settings, **override}, seed, decoder=decoder,
                                latent_size=latent_size, pmo_model=pmo_model, renderer=renderer, progress=progress)
            rows.append({"experiment": experiment, "value": value, **result.row()})
    return rows
