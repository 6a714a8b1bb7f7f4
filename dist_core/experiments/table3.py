"""Table 3 (paper section 4.2.2): shape from multi-view colour images, ours (rand init) against PMO.

One instance and one method at a time (:func:`run_method`) writes an :class:`InstanceResult` to HDF5
(:func:`write_instance` / :func:`read_instance`, atomic); an instance whose input the data stage recorded as
skipped gets a result marked ``skipped`` (:func:`skipped_result`) instead of a fit. :func:`summarize_table`,
:func:`paired_table` and :func:`markdown_table` turn the results into the tidy table, the per-instance paired
comparisons of ours against each PMO row and the paper's layout; :func:`figure` draws input views, our shape
over the iterations (paper Fig. 9) and PMO's.

Metrics (:data:`METRICS`), each from 10,000 ground-truth points and 10,000 points sampled on the predicted
mesh, mean squared nearest-neighbour distance x1000:

* ``chamfer_gt_to_pred_x1000_pmo_frame`` (:data:`METRIC`, the paper's): ground truth -> prediction in PMO's
  frame. DIST renders its DeepSDF decoder directly in PMO's canonical (ShapeNet model) frame and scores the
  decoded mesh there against PMO's points (``run_multi_pmodata.py``: ``compute_chamfer_distance_separate``,
  reporting the mean over 50 instances). Our fits run in each instance's DeepSDF normalised frame, so both
  point sets are mapped back with the instance's NormalizationParameters (``x / scale - offset``) first.
* ``chamfer_pred_to_gt_x1000_pmo_frame``: the other direction, which DIST's script prints beside it.
* ``chamfer_gt_to_pred_x1000_normalized_frame``: ground truth -> prediction in the normalised frame
  (``scale^2`` times the PMO-frame value of the same instance).

Methods (:data:`METHODS`): ours (DIST's multi-view optimisation, :mod:`dist_core.multiview`, from a random
code); PMO (original) and PMO (rand init): PMO's optimisation (:func:`dist_core.baselines.pmo.optimize_pmo`)
from its encoder's code of one frame or from a random code; PMO (encoder only): the encoder's code, decoded
without any optimisation.

Inputs: the ``multi_view.h5`` of the data stage, whose attributes carry the instance's NormalizationParameters,
with the frames, background and resolution of :func:`dist_core.data.views.prepare_views`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from .. import io, metrics
from ..baselines.pmo_train import training_settings
from ..data.deepsdf import Normalization
from ..data.errors import SkippedInstance
from ..data.inputs import MultiViewInput
from ..data.seeding import derive_seed
from ..data.views import prepare_views
from ..mesh import extract_mesh
from ..multiview import FitDiverged, MultiViewSettings, optimize_multi_view, random_latent

__all__ = [
    "METHODS",
    "stale_training_settings",
    "PMO_METHODS",
    "METRICS",
    "METRIC",
    "PAPER",
    "InstanceResult",
    "pmo_frame",
    "selected_frames",
    "table3_metrics",
    "run_method",
    "skipped_result",
    "write_instance",
    "read_instance",
    "summarize_table",
    "paired_table",
    "skipped_table",
    "markdown_table",
    "protocol_notes",
    "figure",
    "robustness_rows",
]

METHODS = {"ours_rand": "Ours (rand init)", "pmo_original": "PMO (original)", "pmo_rand": "PMO (rand init)",
           "pmo_encoder": "PMO (encoder only)"}
PMO_METHODS = ("pmo_original", "pmo_rand", "pmo_encoder")
METRICS = {
    "chamfer_gt_to_pred_x1000_pmo_frame": "ground truth -> prediction, PMO's frame (the paper's)",
    "chamfer_pred_to_gt_x1000_pmo_frame": "prediction -> ground truth, PMO's frame",
    "chamfer_gt_to_pred_x1000_normalized_frame": "ground truth -> prediction, DeepSDF normalised frame",
}
METRIC = "chamfer_gt_to_pred_x1000_pmo_frame"
VERSION = "dist-table3/2"
#: The paper's Table 3 (PMO's frame, mean over 50 instances of PMO's test set).
PAPER = {("pmo_original", "car"): 0.661, ("pmo_original", "plane"): 1.129, ("pmo_rand", "car"): 1.187,
         ("pmo_rand", "plane"): 6.124, ("ours_rand", "car"): 0.919, ("ours_rand", "plane"): 1.595}


@dataclass
class InstanceResult:
    """One method on one instance.

    Attributes:
        category, instance, method: which (method: a key of :data:`METHODS`).
        status: "ok", "failed" (the fit diverged or left no surface) or "skipped" (the data stage could not
            prepare the instance); reason: why it failed or was skipped ("" when ok); skip_file: the source
            file at fault (skipped only).
        chamfer: the values of :data:`METRICS` by name (NaN when not ok).
        seconds, seconds_per_step, forward_queries_per_step, steps: cost of the optimisation.
        losses: total loss of every step.
        snapshots: list of (step, vertices (N, 3), faces (M, 3)) meshes over the iterations, normalised frame.
        points: (10000, 3) points sampled on the final mesh, normalised frame.
    """

    category: str
    instance: str
    method: str
    status: str = "ok"
    reason: str = ""
    skip_file: str = ""
    chamfer: dict = field(default_factory=lambda: {name: float("nan") for name in METRICS})
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
                "skip_file": self.skip_file, **{name: float(self.chamfer[name]) for name in METRICS},
                "seconds": self.seconds, "seconds_per_step": self.seconds_per_step,
                "forward_queries_per_step": self.forward_queries_per_step, "steps": self.steps,
                "final_loss": float(self.losses[-1]) if len(self.losses) else float("nan")}


def pmo_frame(data: MultiViewInput) -> Normalization:
    """The instance's NormalizationParameters, which map the fits' normalised frame back to PMO's frame."""
    try:
        return Normalization(np.asarray(data.attrs["normalization_offset"], dtype=np.float64).reshape(3),
                             float(data.attrs["normalization_scale"]))
    except KeyError as err:
        raise ValueError(f"the multi-view input of {data.attrs.get('instance', '?')} has no {err} attribute: it "
                         "was written by an older pipeline; delete results/data/inputs and rerun") from err


def table3_metrics(gt_points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, frame: Normalization,
                   seed: int, count: int = metrics.TABLE3_POINTS) -> tuple[dict, np.ndarray]:
    """The :data:`METRICS` of a predicted mesh and the ``count`` points sampled on it (normalised frame).

    Args:
        gt_points: (N, 3) ground truth, normalised frame; vertices, faces: the prediction, normalised frame.
        frame: the instance's NormalizationParameters (:func:`pmo_frame`).
    Raises:
        FitDiverged: for an empty or non-finite mesh.
    """
    if len(faces) == 0:
        raise FitDiverged("the predicted shape is empty (no surface inside the unit sphere)")
    if not np.isfinite(vertices).all():
        raise FitDiverged("the predicted mesh has non-finite vertices: the optimisation diverged")
    points = metrics.sample_mesh_surface(vertices, faces, count, seed=seed)
    gt_pmo, points_pmo = frame.invert(gt_points), frame.invert(points)
    values = {"chamfer_gt_to_pred_x1000_pmo_frame": metrics.chamfer_one_sided(gt_pmo, points_pmo),
              "chamfer_pred_to_gt_x1000_pmo_frame": metrics.chamfer_one_sided(points_pmo, gt_pmo),
              "chamfer_gt_to_pred_x1000_normalized_frame": metrics.chamfer_one_sided(gt_points, points)}
    return {name: metrics.TABLE_SCALE * value for name, value in values.items()}, points


def _sdf_mesh(decoder, code: torch.Tensor, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    mesh = extract_mesh(decoder, code, resolution=resolution)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def selected_frames(settings: dict, count: int) -> range:
    """The frames of a ``count``-frame sequence the optimisations use: ``table3.frames`` ``[start, stop)``
    (clipped to the sequence), or all of them when it is null."""
    chosen = settings.get("frames")
    return range(count) if chosen is None else range(chosen[0], min(chosen[1], count))


def run_method(method: str, category: str, instance: str, data: MultiViewInput, settings: dict, seed: int,
               decoder=None, latent_size: int | None = None, pmo_model=None, renderer: dict | None = None,
               progress: bool = True, snapshots: bool = True) -> InstanceResult:
    """Run one Table 3 method on one instance; failures (NaN loss, empty shape) are recorded, not raised.

    Args:
        method: a key of :data:`METHODS`.
        settings: the config section ``table3`` (resolution, frames, background, mesh_resolution, ours, pmo,
            focal_scale, pmo_code_noise). ``ours.depth_threshold`` is in PMO's frame (DIST: 1e-3) and is
            scaled by the instance's ``scale^2`` for the fit in the normalised frame. The PMO rows see the
            frames at ``pmo.resolution`` (PMO's own: 224), ours at ``resolution`` (DIST's: 112).
        decoder, latent_size: the DeepSDF prior (ours).
        pmo_model: :class:`~dist_core.baselines.pmo.PMOModel` (PMO rows).
        renderer: tracer switches of :func:`dist_core.render`.
        snapshots: mesh our code over the epochs (for the figure); else only the final code.
    """
    from ..baselines.pmo import PMOSettings, optimize_pmo

    if method not in METHODS:
        raise ValueError(f"unknown Table 3 method {method!r}; choose from {sorted(METHODS)}")
    result = InstanceResult(category, instance, method)
    instance_seed = derive_seed(seed, category, instance, f"table3_{method}")
    background_seed = derive_seed(seed, category, instance, "table3_background")
    start = time.perf_counter()
    frame = pmo_frame(data)
    frames = selected_frames(settings, len(data.cameras))
    resolution = settings["resolution"] if method == "ours_rand" else settings["pmo"].get("resolution",
                                                                                           settings["resolution"])
    try:
        images, cameras = prepare_views(data, resolution, settings["background"], background_seed,
                                        settings.get("focal_scale", 1.0), frames)
        if method == "ours_rand":
            options = MultiViewSettings.from_dict(settings["ours"])
            options = replace(options, depth_threshold=options.depth_threshold * frame.scale**2)
            fit = optimize_multi_view(decoder, images, cameras, options, instance_seed, latent_size,
                                      renderer_options=renderer, progress=progress, description=f"ours {instance[:8]}")
            codes = fit.snapshots if snapshots else fit.snapshots[-1:]
            meshes = [(epoch, *_sdf_mesh(decoder, code, settings["mesh_resolution"])) for epoch, code in codes]
            result.forward_queries_per_step = fit.forward_queries_per_step
        else:
            size = pmo_model.decoder.code_size
            faces = pmo_model.decoder.faces.numpy()
            options = PMOSettings.from_dict(settings["pmo"]["optimization"])
            if method == "pmo_rand":
                init = random_latent(size, options.init_std, instance_seed)
            else:
                view, _ = prepare_views(data, resolution, settings["background"], background_seed,
                                        settings.get("focal_scale", 1.0), [settings["pmo"]["encoder_view"]])
                with torch.no_grad():
                    init = pmo_model.encoder(torch.as_tensor(view[0]))
                noise = settings.get("pmo_code_noise", 0.0)
                if noise:
                    init = init + random_latent(size, noise, instance_seed + 1)
            if method == "pmo_encoder":
                with torch.no_grad():
                    meshes = [(0, pmo_model.decoder(init).numpy(), faces)]
                fit = None
            else:
                fit = optimize_pmo(pmo_model, images, cameras, options, init, progress=progress,
                                   description=f"{method} {instance[:8]}")
                meshes = [(step, vertices.numpy(), faces) for step, vertices in fit.snapshots]
        if fit is not None:
            result.losses = np.asarray(fit.losses)
            result.seconds_per_step, result.steps = fit.seconds_per_step, fit.steps
        result.snapshots = meshes
        result.chamfer, result.points = table3_metrics(data.gt_points, meshes[-1][1], meshes[-1][2], frame,
                                                       instance_seed)
        if not all(math.isfinite(v) for v in result.chamfer.values()):
            raise FitDiverged(f"Chamfer distance is {result.chamfer[METRIC]}")
    except FitDiverged as err:
        result.status, result.reason = "failed", str(err)
        result.chamfer = {name: float("nan") for name in METRICS}
    result.seconds = time.perf_counter() - start
    return result


def skipped_result(category: str, instance: str, method: str, skipped: SkippedInstance) -> InstanceResult:
    """The result of a method on an instance whose input is a skip record: no fit, the data stage's reason."""
    return InstanceResult(category, instance, method, status="skipped", reason=skipped.reason,
                          skip_file=skipped.file)


def write_instance(path, result: InstanceResult, attrs: dict | None = None) -> Path:
    """Write one :class:`InstanceResult` to HDF5 atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in {**io.standard_attributes(0, VERSION, METRIC), **(attrs or {})}.items():
                f.attrs[key] = value
            row = result.row()
            for key in ("category", "instance", "method", "status", "reason", "skip_file"):
                f.attrs[key] = row[key]
            for key in (*METRICS, "seconds", "seconds_per_step", "forward_queries_per_step"):
                f.attrs[key] = float(row[key])
            f.attrs["steps"] = int(result.steps)
            f.create_dataset("losses", data=np.asarray(result.losses, dtype=np.float64))
            f.create_dataset("points", data=np.asarray(result.points, dtype=np.float32).reshape(-1, 3),
                             compression="gzip")
            group = f.create_group("snapshots")
            for k, (step, vertices, faces) in enumerate(result.snapshots):
                g = group.create_group(f"{k:03d}")
                g.attrs["step"] = int(step)
                g.create_dataset("vertices", data=np.asarray(vertices, dtype=np.float32), compression="gzip")
                g.create_dataset("faces", data=np.asarray(faces, dtype=np.int32), compression="gzip")
    return path


def read_instance(path) -> InstanceResult:
    """Read a file written by :func:`write_instance`."""
    with io.open_h5(path, "Table 3 instance result", "Run `snakemake table3`") as f:
        a = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
        if a.get("generator_version") != VERSION:
            raise ValueError(f"{path}: written by {a.get('generator_version')!r}, this code reads {VERSION!r}; "
                             "delete it and rerun `snakemake table3`")
        snapshots = [(int(g.attrs["step"]), g["vertices"][()], g["faces"][()]) for _, g in sorted(f["snapshots"].items())]
        return InstanceResult(a["category"], a["instance"], a["method"], a["status"], a["reason"], a["skip_file"],
                              {name: float(a[name]) for name in METRICS}, float(a["seconds"]),
                              float(a["seconds_per_step"]), float(a["forward_queries_per_step"]), int(a["steps"]),
                              f["losses"][()], snapshots, f["points"][()])


def _mean_interval(values: np.ndarray, seed: int, resamples: int = 10000) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the mean."""
    if len(values) == 0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    low, high = np.quantile(values[draws].mean(axis=1), [0.025, 0.975])
    return float(low), float(high)


def summarize_table(rows: list, seed: int = 0):
    """Tidy table: one row per (category, method, metric of :data:`METRICS`).

    Columns: ``n`` (instances evaluated: fitted, failures included; skipped ones are not), ``n_failed``,
    ``n_skipped``, ``median`` / ``mean`` over the successful instances with percentile-bootstrap 95 %
    intervals, ``paper`` (the paper's value for the headline metric), cost per instance and per step.
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    out = []
    for (category, method), group in frame.groupby(["category", "method"], sort=False):
        evaluated = group[group["status"] != "skipped"]
        ok = evaluated[evaluated["status"] == "ok"]
        for metric in METRICS:
            values = ok[metric].to_numpy(dtype=np.float64)
            s = metrics.summarize(values, seed=seed)
            low, high = _mean_interval(values, seed)
            out.append({"category": category, "method": method, "method_name": METHODS.get(method, method),
                        "metric": metric, "n": int(len(evaluated)), "n_failed": int(len(evaluated) - len(ok)),
                        "n_skipped": int(len(group) - len(evaluated)), "median": s.median,
                        "median_ci95_low": s.median_low, "median_ci95_high": s.median_high, "mean": s.mean,
                        "mean_ci95_low": low, "mean_ci95_high": high,
                        "paper": PAPER.get((method, category), float("nan")) if metric == METRIC else float("nan"),
                        "seconds_per_instance": float(evaluated["seconds"].mean()) if len(evaluated) else float("nan"),
                        "seconds_per_step": float(evaluated["seconds_per_step"].mean()) if len(evaluated) else float("nan"),
                        "forward_queries_per_step": float(evaluated["forward_queries_per_step"].mean())
                        if len(evaluated) else float("nan")})
    return pd.DataFrame(out)


def paired_table(rows: list, seed: int = 0, metric: str = METRIC):
    """Ours (rand init) against each PMO row on the same instances (:func:`dist_core.metrics.paired_comparison`).

    One row per (category, PMO method): ``n_pairs`` (instances where both succeeded), ``median_difference``
    (ours - PMO; < 0: ours better) with its bootstrap interval, the Wilcoxon ``p_value``, ``ours_better`` /
    ``pmo_better`` counts, the paper's difference (``paper_difference``, NaN where the paper has no row), and
    whether our sign agrees with the paper's (``agrees_with_paper``) and does so with the interval excluding
    0 (``agrees_with_interval``).
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame = frame[frame["status"] != "skipped"]
    out = []
    for category, group in frame.groupby("category", sort=False):
        ours = group[group["method"] == "ours_rand"].set_index("instance")[metric]
        for method in PMO_METHODS:
            other = group[group["method"] == method].set_index("instance")[metric]
            if ours.empty or other.empty:
                continue
            shared = ours.index.intersection(other.index)
            c = metrics.paired_comparison(ours[shared].to_numpy(float), other[shared].to_numpy(float), seed=seed)
            paper = PAPER.get(("ours_rand", category), math.nan) - PAPER.get((method, category), math.nan)
            agrees = bool(np.sign(c.median_difference) == np.sign(paper)) if c.count and math.isfinite(paper) else None
            with_interval = None
            if agrees is not None:
                with_interval = agrees and c.interval_excludes_zero
            out.append({"category": category, "method_a": "ours_rand", "method_b": method, "metric": metric,
                        "n_pairs": c.count, "median_difference": c.median_difference, "ci95_low": c.low,
                        "ci95_high": c.high, "p_value": c.p_value, "ours_better": c.a_better, "pmo_better": c.b_better,
                        "paper_difference": paper, "agrees_with_paper": agrees, "agrees_with_interval": with_interval})
    return pd.DataFrame(out)


def skipped_table(rows: list):
    """The skipped instances: one row per (category, instance) with the file at fault and the reason."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["category", "instance", "status", "skip_file", "reason"])
    skipped = frame[frame["status"] == "skipped"].drop_duplicates(["category", "instance"])
    return skipped.rename(columns={"skip_file": "file"})[["category", "instance", "file", "reason"]].reset_index(drop=True)


def _cell(row) -> str:
    counts = f"n={int(row['n'])}"
    if row["n_failed"]:
        counts += f", {int(row['n_failed'])} failed"
    if row["n_skipped"]:
        counts += f", {int(row['n_skipped'])} skipped"
    if not row["n"] or not math.isfinite(row["median"]):
        return f"- ({counts})"
    return (f"{row['mean']:.3f} [{row['mean_ci95_low']:.3f}, {row['mean_ci95_high']:.3f}] / "
            f"{row['median']:.3f} [{row['median_ci95_low']:.3f}, {row['median_ci95_high']:.3f}] ({counts})")


def markdown_table(table, paired, skipped, categories: list, notes: list[str] | None = None) -> str:
    """``table3.md``: the paper's layout (methods as rows, categories as columns; mean and median with their
    intervals, counts, the paper's value), the paired comparisons with the claims they support, the skipped
    instances and the ``notes`` (settings, networks, deviations), one paragraph or list item each."""
    lines = ["# Table 3: shape from multi-view images", "",
             f"Metric `{METRIC}`: mean squared distance from 10,000 ground-truth points to the nearest of 10,000 "
             "points sampled on the predicted mesh, in PMO's frame (the ShapeNet model frame of the sequences, "
             "where the paper scores), x1000. Each cell: mean [95 % bootstrap interval] / median [interval] over "
             "the instances that succeeded; n counts the instances evaluated, failures included. The paper's "
             "column is its mean over 50 random instances of PMO's test set.", ""]
    main = table[table["metric"] == METRIC]
    header = "| Method | " + " | ".join(f"{c} | paper" for c in categories) + " |"
    lines += [header, "|---|" + "---|---|" * len(categories)]
    for method in METHODS:
        cells = []
        for category in categories:
            row = main[(main["method"] == method) & (main["category"] == category)]
            paper = PAPER.get((method, category))
            cells += ["-" if row.empty else _cell(row.iloc[0]), "-" if paper is None else f"{paper:.3f}"]
        if any(c != "-" for c in cells[::2]):
            lines.append(f"| {METHODS[method]} | " + " | ".join(cells) + " |")
    lines += ["", "Other metrics (median over the same instances): " + "; ".join(
        f"{METHODS.get(r['method'], r['method'])} {r['category']} {r['metric']} {r['median']:.3f}"
        for _, r in table[table["metric"] != METRIC].iterrows() if math.isfinite(r["median"])) + "."]
    lines += ["", "## Paired comparisons (same instances)", "",
              "Median over instances of (ours - PMO) in the headline metric, with its 95 % bootstrap interval "
              "(instances resampled as pairs) and the Wilcoxon signed-rank p-value; < 0 means ours is better. "
              "The paper's difference is of its means.", "",
              "| Category | Ours vs | pairs | median difference [95 % CI] | p | ours / PMO better | paper | claim |",
              "|---|---|---|---|---|---|---|---|"]
    for _, r in paired.iterrows():
        if r["agrees_with_paper"] is None or (isinstance(r["agrees_with_paper"], float) and math.isnan(r["agrees_with_paper"])):
            claim = "no paper row"
        elif r["agrees_with_interval"]:
            claim = "holds (interval excludes 0)"
        elif r["agrees_with_paper"]:
            claim = "same sign, interval includes 0"
        else:
            claim = "does not hold"
        paper = f"{r['paper_difference']:+.3f}" if math.isfinite(r["paper_difference"]) else "-"
        lines.append(f"| {r['category']} | {METHODS.get(r['method_b'], r['method_b'])} | {int(r['n_pairs'])} | "
                     f"{r['median_difference']:+.3f} [{r['ci95_low']:+.3f}, {r['ci95_high']:+.3f}] | "
                     f"{r['p_value']:.3g} | {int(r['ours_better'])} / {int(r['pmo_better'])} | {paper} | {claim} |")
    lines += ["", "## Skipped instances", ""]
    if len(skipped):
        lines.append(f"{len(skipped)} instance(s) could not be prepared by the data stage and were left out "
                     "(results/table3_skipped.csv):")
        lines += [f"- {r['category']} {r['instance']}: {r['reason']}" for _, r in skipped.iterrows()]
    else:
        lines.append("None.")
    for note in notes or []:
        lines += ["", note]
    return "\n".join(lines) + "\n"


#: The settings of the public code this table follows: DIST's ``run_multi_pmodata.py`` / ``optimize_multi.py``
#: (ours) and PMO's ``options.py`` / ``main.py`` / README (PMO).
DIST_PROTOCOL = {"frames": 72, "resolution": 112, "epochs": 20, "views_per_round": 8, "lr": 1e-2, "color_weight": 5.0,
                 "l2_weight": 1.0, "init_std": 0.1, "depth_threshold": 1e-3, "max_steps": 100, "mesh_resolution": 256}
PMO_PROTOCOL = {"iterations": 100, "lr": 1e-3, "code_weight": 5e-2, "similarity": True, "scale_weight": 2e-2,
                "resolution": 224, "patches": 25, "grid": 5, "code_size": 1024, "encoder_width": 64,
                "encoder_resolution": 224}


def protocol_notes(settings: dict, frames: int, priors: dict, pmo_networks: dict, pmo_source: str) -> list:
    """The notes of ``table3.md``: what produced the table and every way it departs from DIST's and PMO's code.

    Args:
        settings: the config section ``table3`` with the renderer overrides merged into ``renderer``.
        frames: number of frames each optimisation saw.
        priors: ``{category: line}`` describing each prior (:func:`dist_core.prior.format_prior`).
        pmo_networks: ``{category: (folder, specs)}`` of the PMO networks (``specs.json``).
        pmo_source: "shipped" or "trained".
    """
    ours, pmo = settings["ours"], settings["pmo"]["optimization"]
    steps_per_epoch = math.ceil(frames / ours["views_per_round"])
    notes = [
        f"Inputs: {frames} frames per sequence at {settings['resolution']} x {settings['resolution']}, background "
        f"`{settings['background']}`. Ours: {ours['epochs']} epochs of {steps_per_epoch} steps "
        f"({ours['epochs'] * steps_per_epoch} steps, {ours['views_per_round']} neighbour pairs each) at lr "
        f"{ours['lr']}; PMO at {settings['pmo'].get('resolution', settings['resolution'])} px: "
        f"{pmo['iterations']} iterations over all {frames - 1} consecutive pairs at lr {pmo['lr']}, PMO (original) "
        f"from the encoder's code of frame {settings['pmo']['encoder_view']}. Seconds per instance and per step, "
        "and network queries per step: results/table3.csv.",
        "Priors (ours): " + "; ".join(f"{c}: {line}" for c, line in priors.items()) + ".",
        f"PMO networks ({pmo_source}): " + "; ".join(
            f"{c}: {_network_line(folder, specs)}" for c, (folder, specs) in pmo_networks.items()) + ".",
    ]
    stale = {} if pmo_source != "shipped" else {
        c: keys for c, (_, specs) in pmo_networks.items() if (keys := stale_training_settings(settings["pmo"], specs))}
    if stale:
        notes.append("The shipped PMO networks were trained with settings that differ from `table3.pmo`: "
                     + "; ".join(f"{c}: {', '.join(keys)}" for c, keys in stale.items())
                     + ". The networks' own settings (above) hold; `table3.pmo.source: trained` trains with the config's.")
    decoder = next(iter(pmo_networks.values()))[1].get("decoder", {})
    encoder = next(iter(pmo_networks.values()))[1].get("encoder", {})
    deviations = []

    def differs(what: str, ours_value, reference, source: str):
        if ours_value != reference:
            deviations.append(f"- {what}: {ours_value} ({source}: {reference})")

    differs("frames per sequence", frames, DIST_PROTOCOL["frames"], "DIST, PMO")
    differs("our image size", settings["resolution"], DIST_PROTOCOL["resolution"], "DIST")
    differs("PMO image size", settings["pmo"].get("resolution", settings["resolution"]), PMO_PROTOCOL["resolution"],
            "PMO")
    for key in ("epochs", "views_per_round", "lr", "color_weight", "l2_weight", "init_std", "depth_threshold"):
        differs(f"ours {key}", ours[key], DIST_PROTOCOL[key], "DIST")
    differs("ours marching steps", settings["renderer"]["max_steps"], DIST_PROTOCOL["max_steps"], "DIST")
    differs("mesh grid of our shapes", settings["mesh_resolution"], DIST_PROTOCOL["mesh_resolution"], "DIST")
    for key in ("iterations", "lr", "code_weight", "similarity", "scale_weight"):
        differs(f"PMO {key}", pmo[key], PMO_PROTOCOL[key], "PMO")
    if decoder.get("sphere_subdivisions"):
        deviations.append(f"- PMO decoder: an icosphere ({decoder['sphere_subdivisions']} subdivisions, PMO's "
                          "--sphere) instead of the 25 patches of PMO's released models")
    else:
        differs("PMO decoder patches", decoder.get("patches"), PMO_PROTOCOL["patches"], "PMO")
        differs("PMO decoder grid", decoder.get("grid"), PMO_PROTOCOL["grid"], "PMO")
    differs("PMO code size", decoder.get("code_size"), PMO_PROTOCOL["code_size"], "PMO")
    differs("PMO encoder width", encoder.get("width"), PMO_PROTOCOL["encoder_width"], "ResNet-18")
    differs("PMO encoder input", encoder.get("resolution"), PMO_PROTOCOL["encoder_resolution"], "PMO")
    deviations += [
        "- our fits run in each instance's DeepSDF normalised frame and are mapped to PMO's frame for scoring "
        "(DIST renders its decoder directly in PMO's canonical frame); the depth threshold is given in PMO's "
        "frame and scaled by scale^2",
        "- the PMO decoder is trained as an auto-decoder, then the encoder with the Chamfer loss through it, frozen "
        f"(loss `{encoder.get('loss', 'chamfer')}`; PMO: AtlasNet autoencoder pretraining, then encoder and decoder "
        "end to end with the Chamfer loss, ImageNet-initialised ResNet-18, 500 epochs at lr 1e-4); no batch "
        "normalisation in the decoder",
        "- PMO's visibility comes from embree ray casting instead of its rasteriser (same face indices and "
        "barycentric coordinates); PMO (rand init) starts from N(0, "
        f"{pmo['init_std']}^2), with the code prior pulling towards that start",
    ]
    if settings["background"] == "environment":
        deviations.append("- backgrounds are seeded procedural panoramas standing in for SUN360")
    notes.append("Deviations from DIST's and PMO's public code:\n" + "\n".join(deviations))
    return notes


def stale_training_settings(pmo: dict, specs: dict) -> list[str]:
    """The training settings of ``table3.pmo`` (``pmo``) that differ from those the networks of ``specs``
    (their ``specs.json``) were trained with, as dotted keys (empty for networks without a recorded config)."""
    trained = specs.get("config")
    if not isinstance(trained, dict):
        return []
    settings = training_settings(pmo)
    keys = []
    for key in sorted(set(settings) | set(trained)):
        ours, theirs = settings.get(key), trained.get(key)
        if isinstance(ours, dict) and isinstance(theirs, dict):
            keys += [f"{key}.{k}" for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
        elif ours != theirs:
            keys.append(key)
    return keys


def _network_line(folder, specs: dict) -> str:
    decoder, encoder = specs.get("decoder", {}), specs.get("encoder", {})
    shape = (f"icosphere of {decoder['sphere_subdivisions']} subdivisions" if decoder.get("sphere_subdivisions")
             else f"{decoder.get('patches')} patches of {decoder.get('grid')} x {decoder.get('grid')} cells")
    return (f"{folder}: AtlasNet {shape}, code {decoder.get('code_size')}, auto-decoder of "
            f"{specs.get('train_instances')} training shapes; ResNet-18 encoder (width {encoder.get('width')}, "
            f"{encoder.get('resolution')} px, loss `{encoder.get('loss', 'code')}`) trained on {specs.get('train_views')} "
            "views per shape; "
            f"trained in {specs.get('training_seconds', float('nan')) / 60:.1f} min; {_quality(specs.get('quality', {}))}")


def pmo_quality_table(networks: dict):
    """One row per category of the PMO networks' own quality and budget (``networks``: ``{category: (folder,
    specs)}``), to read beside the shape priors' quality table: the decoder's autoencoding Chamfer x1000 on
    training shapes (median, mesh frame, as the priors'), the encoder's relative code error and decoded Chamfer on
    held-out views, the training epochs and minutes. Networks trained before the quality was measured get NaN."""
    import pandas as pd

    rows = []
    for category, (folder, specs) in networks.items():
        quality, decoder, encoder = specs.get("quality", {}), specs.get("decoder", {}), specs.get("encoder", {})
        rows.append({"category": category, "folder": str(folder), "train_shapes": specs.get("train_instances"),
                     "decoder_epochs": decoder.get("epochs"), "encoder_epochs": encoder.get("epochs"),
                     "training_minutes": specs.get("training_seconds", float("nan")) / 60,
                     "quality_shapes": quality.get("shapes"),
                     "decoder_train_chamfer_x1000": quality.get("decoder_train_chamfer_x1000", float("nan")),
                     "encoder_heldout_views": len(quality.get("heldout_views", [])),
                     "encoder_relative_code_error": quality.get("encoder_relative_code_error", float("nan")),
                     "encoder_heldout_chamfer_x1000": quality.get("encoder_heldout_chamfer_x1000", float("nan"))})
    return pd.DataFrame(rows)


def _quality(quality: dict) -> str:
    if not quality:
        return "not measured"
    return (f"decoder autoencoding Chamfer x1000 on {quality['shapes']} training shapes (median, mesh frame) "
            f"{quality['decoder_train_chamfer_x1000']:.3f}; encoder on {len(quality['heldout_views'])} held-out "
            f"views: relative code error {quality['encoder_relative_code_error']:.3f}, decoded Chamfer x1000 "
            f"{quality['encoder_heldout_chamfer_x1000']:.3f}")


def figure(path, category: str, images: np.ndarray, ours: InstanceResult, pmo: list) -> Path:
    """Input views, our mesh over the iterations (paper Fig. 9) and PMO's final meshes, for one instance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..mesh_picture import render_mesh

    def shade(vertices, faces):
        # render_mesh shades with normals that face the camera, so an inside-out template reads as well.
        return render_mesh(vertices, faces)

    panels = [(f"view {k}", images[k]) for k in np.linspace(0, len(images) - 1, min(len(images), 4)).astype(int)]
    steps = [(f"ours epoch {epoch}", shade(v, f)) for epoch, v, f in ours.snapshots]
    others = [(f"{METHODS[r.method]}\n{r.chamfer[METRIC]:.2f}", shade(r.snapshots[-1][1], r.snapshots[-1][2]))
              for r in pmo if r.snapshots]
    columns = max(len(panels), len(steps), len(others), 1)
    fig, axes = plt.subplots(3, columns, figsize=(2.0 * columns, 6.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (title, image) in enumerate(panels):
        axes[0, k].imshow(np.clip(image, 0, 1))
        axes[0, k].set_title(title, fontsize=8)
    for k, (title, image) in enumerate(steps):
        axes[1, k].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[1, k].set_title(title if k < len(steps) - 1 else f"{title}\n{ours.chamfer[METRIC]:.2f}", fontsize=8)
    for k, (title, image) in enumerate(others):
        axes[2, k].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[2, k].set_title(title, fontsize=8)
    fig.suptitle(f"Table 3, {category} {ours.instance[:8]}: inputs, ours over the iterations, PMO "
                 f"(Chamfer x1000, PMO frame)", fontsize=9)
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
    (ours starts from a random code and is run once, at noise 0). Returns tidy rows: experiment, value, then the
    columns of :meth:`InstanceResult.row`.
    """
    plan = settings["robustness"]
    runs = [("focal_scale", s, m, {"focal_scale": s}) for s in plan["focal_scales"] for m in ("ours_rand", "pmo_original")]
    runs += [("pmo_code_noise", n, "pmo_original", {"pmo_code_noise": n}) for n in plan["code_noise"]]
    rows = []
    for experiment, value, method, override in runs:
        for instance, data in inputs:
            result = run_method(method, category, instance, data, {**settings, **override}, seed, decoder=decoder,
                                latent_size=latent_size, pmo_model=pmo_model, renderer=renderer, progress=progress,
                                snapshots=False)
            rows.append({"experiment": experiment, "value": value, **result.row()})
    return rows
