"""Table 2 of the paper: shape completion from one dense or sparse depth image (section 4.2.1).

For one test instance, :func:`evaluate_instance` runs every input setting (dense, 50pct, ... 20pts) with
every method and scores each result with DeepSDF's Chamfer in both frames (:func:`chamfers`):

* ``deepsdf``: the baseline of the paper, SDF samples at +-eta along the ground-truth normals of the given
  pixels and DeepSDF's latent fit (:mod:`dist_core.baselines.deepsdf`);
* ``ours_depth``: latent optimisation through the renderer (:func:`dist_core.fit.fit_latents_to_depth`) from
  the prior's mean shape on the depth L1 of the given pixels alone: the paper's "Ours" (eq. 5 without a
  silhouette where none is known);
* ``ours``: the same plus the inside silhouette term on the given pixels (they show the object);
* ``ours_mask``: depth plus the silhouette loss on the full object mask: the paper's "Ours (mask)";
* ``oracle``: DeepSDF's fit of the same prior to the instance's complete SdfSamples, the best code the prior
  holds for the shape as DeepSDF finds it; it does not depend on the setting (one fit, one row per setting).

A dense depth image implies its own mask, so on ``dense`` the three renderer methods are one optimisation
(the paper's table prints the same number for "Ours" and "Ours (mask)"); it runs once and the other rows
carry it (``shared``). The renderer methods of an instance are fitted together, one code per (setting,
method), so the renderer's batched path can trace them at once (``batch_render``).

Each result is scored by its Chamfer distance (DeepSDF's: ``chamfer_mesh``, points mapped back to the mesh's
own frame; DIST's evaluator: ``chamfer_normalized``, the same points in the normalised frame, exactly
``scale^2`` times the first) and by the IoU of its rendered silhouette with the ground-truth mask of the
input view.

:func:`write_instance` / :func:`read_instance` are the only code touching the per-instance HDF5 file::

    <setting>/<method>/  latent (D,), losses, depth_losses, silhouette_losses, normal_losses (T,),
                         forward_queries, backward_queries (T,), depth, silhouette (H, W), normal (H, W, 3)
                         of the final code (depth 0 on background), vertices (V, 3), faces (F, 3)
                         attributes: chamfer_mesh_x1000, chamfer_normalized_x1000, silhouette_iou, failed,
                         reason, shared, fit_seconds, mesh_seconds, mesh_queries
    root attributes: category, instance, synset, seed, units, scale, offset, prior, ...

An instance whose input is a skip record of the data stage gets a file with no groups and the root
attributes ``skipped`` = True, ``skip_file`` and ``skip_reason`` (:func:`write_skipped_instance`).
The tables and figures are in :mod:`.table2_tables` and :mod:`.table2_figures`.
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
from ..data.sparse import SETTINGS
from ..fit import FitOptions, depth_target, fit_latents_to_depth
from ..mesh import extract_mesh
from ..prior import SdfSamples, fit_latent_to_sdf_samples, load_prior
from ..render import render

__all__ = ["load_prior", "load_instance", "load_complete_samples", "METHODS", "RENDERER_METHODS", "METHOD_LABELS",
           "SETTINGS", "CHAMFER_UNITS", "Table2Options", "MethodResult", "chamfers", "code_chamfers", "silhouette_iou",
           "evaluate_instance", "write_instance", "write_skipped_instance", "read_instance", "per_instance_rows",
           "TABLE2_VERSION"]

TABLE2_VERSION = "dist-table2/2"
METHODS = ("deepsdf", "ours_depth", "ours", "ours_mask", "oracle")
RENDERER_METHODS = ("ours_depth", "ours", "ours_mask")
METHOD_LABELS = {"deepsdf": "DeepSDF", "ours_depth": "Ours (depth only)", "ours": "Ours (depth + given pixels)",
                 "ours_mask": "Ours (mask)", "oracle": "Oracle (prior fitted to the complete SDF)"}
CHAMFER_UNITS = ("Chamfer x 1000, DeepSDF's: 30,000 points on the result mesh, squared nearest distances to the GT "
                 "surface samples averaged in each direction and summed; chamfer_mesh in the mesh's own frame "
                 "(DeepSDF's evaluate.py), chamfer_normalized in DeepSDF's normalised frame (DIST's evaluator) = "
                 "scale^2 x chamfer_mesh")


@dataclass
class Table2Options:
    """The ``table2`` config section that shapes one instance's evaluation.

    Attributes:
        ours: :class:`dist_core.fit.FitOptions` fields (iterations, lr, weights, gradient).
        deepsdf: DeepSDF fit settings: ``offsets`` (distances along the normal), ``surface_points`` (add
            SDF-0 samples at the observed points) and :func:`dist_core.prior.fit_latent_to_sdf_samples`
            arguments; the oracle uses the latter.
        mesh_resolution: marching-cubes grid per axis (DeepSDF: 256).
        chamfer_samples: points sampled on each result mesh (DeepSDF: 30,000).
        renderer: tracer options (config ``renderer`` updated by ``table2.renderer``).
        batch_render: trace an instance's renderer codes in one call of the renderer.
    """

    ours: dict = field(default_factory=dict)
    deepsdf: dict = field(default_factory=dict)
    mesh_resolution: int = 256
    chamfer_samples: int = metrics.DEEPSDF_MESH_SAMPLES
    renderer: dict = field(default_factory=dict)
    batch_render: bool = False

    @classmethod
    def from_config(cls, table2: dict, renderer: dict) -> "Table2Options":
        return cls(dict(table2["ours"]), dict(table2["deepsdf"]), int(table2["mesh_resolution"]),
                   int(table2["chamfer_samples"]), {**renderer, **table2.get("renderer", {})},
                   bool(table2.get("batch_render", False)))

    def fit_options(self, **overrides) -> FitOptions:
        return FitOptions.from_config({**self.ours, **overrides}, self.renderer, batch_render=self.batch_render)

    def deepsdf_fit(self) -> tuple[tuple, bool, dict]:
        """``(offsets, surface_points, fit arguments)`` of the DeepSDF baseline; the fit arguments alone are
        the oracle's."""
        fit = dict(self.deepsdf)
        return tuple(fit.pop("offsets", (0.025,))), bool(fit.pop("surface_points", False)), fit


@dataclass
class MethodResult:
    """One (instance, setting, method) of Table 2.

    Attributes:
        setting, method: the input setting and method names.
        latent: (D,) final code.
        chamfer_mesh, chamfer_normalized: DeepSDF's Chamfer (unscaled) in the mesh frame and in the
            normalised frame; nan when failed.
        silhouette_iou: IoU of the final code's rendered silhouette with the GT mask of the input view.
        failed, reason: the optimisation diverged or produced no surface, and why.
        shared: the result is another row's (dense renderer methods; the oracle beyond its first setting).
        losses, depth_losses, silhouette_losses, normal_losses: per iteration (DeepSDF: its SDF loss only).
        forward_queries, backward_queries: renderer queries per iteration (empty for DeepSDF).
        fit_seconds, mesh_seconds, mesh_queries: timings (renderer fits: the batch's time per code) and
            marching-cubes queries.
        depth, normal, silhouette: rendering of the final code from the input view (depth 0 on background).
        vertices, faces: the result mesh in the normalised frame.
    """

    setting: str
    method: str
    latent: np.ndarray
    chamfer_mesh: float = float("nan")
    chamfer_normalized: float = float("nan")
    silhouette_iou: float = float("nan")
    failed: bool = False
    reason: str = ""
    shared: bool = False
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    depth_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    silhouette_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    normal_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
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


_ARRAYS = ("latent", "losses", "depth_losses", "silhouette_losses", "normal_losses", "forward_queries",
           "backward_queries", "depth", "normal", "silhouette", "vertices", "faces")


def load_instance(view_path, deepsdf_dir, dataset: str):
    """The single-view input of an instance, its GT surface samples (mesh frame) and its normalisation.

    Raises :class:`~dist_core.data.errors.SkippedInstance` when the data stage recorded the instance as
    skipped."""
    from ..data import deepsdf
    from ..data.inputs import read_single_view

    view = read_single_view(view_path)
    key = (dataset, view.attrs["synset"], view.attrs["instance"])
    gt_points = deepsdf.read_surface_samples(deepsdf.surface_samples_path(deepsdf_dir, *key)).astype(np.float64)
    normalization = deepsdf.read_normalization(deepsdf.normalization_path(deepsdf_dir, *key))
    return view, gt_points, normalization


def load_complete_samples(deepsdf_dir, dataset: str, synset: str, instance: str) -> SdfSamples:
    """The instance's complete DeepSDF SdfSamples (normalised frame): the oracle's input."""
    from ..data import deepsdf

    pos, neg = deepsdf.read_sdf_samples(deepsdf.sdf_samples_path(deepsdf_dir, dataset, synset, instance))
    return SdfSamples.from_arrays(pos, neg)


def chamfers(gt_points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, normalization, samples: int,
             seed: int) -> tuple[float, float]:
    """``(mesh frame, normalised frame)`` Chamfer of a result mesh (normalised frame) against the GT surface
    samples (mesh frame), both unscaled.

    The first is :func:`dist_core.metrics.chamfer_deepsdf` (DeepSDF's ``evaluate.py``). DIST's evaluator
    compares the same kind of points in the normalised frame, ``x_norm = (x + offset) * scale``; a uniform
    scaling and a translation keep every nearest neighbour, so its value is exactly ``scale^2`` times the
    first (computed that way)."""
    mesh_frame = metrics.chamfer_deepsdf(gt_points, vertices, faces, normalization.offset, normalization.scale,
                                         samples=samples, seed=seed)
    return mesh_frame, mesh_frame * float(normalization.scale) ** 2


def silhouette_iou(rendered: np.ndarray, mask: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool silhouettes (1.0 when both are empty)."""
    rendered, mask = np.asarray(rendered, dtype=bool), np.asarray(mask, dtype=bool)
    union = int((rendered | mask).sum())
    return 1.0 if union == 0 else float((rendered & mask).sum()) / union


def _store_images(result: MethodResult, rendering, mask: np.ndarray) -> None:
    depth = torch.where(rendering.valid, rendering.depth, torch.zeros_like(rendering.depth))
    result.depth = depth.detach().cpu().numpy().astype(np.float32)
    result.normal = rendering.normal.detach().cpu().numpy().astype(np.float32)
    result.silhouette = rendering.silhouette.detach().cpu().numpy().astype(np.float32)
    result.silhouette_iou = silhouette_iou(rendering.valid.cpu().numpy(), mask)


def scoring_mesh(decoder, latent: torch.Tensor, resolution: int):
    """The mesh of a code that Table 2 scores (:func:`dist_core.mesh.extract_mesh` with the table's sparse
    coarse-to-fine settings)."""
    return extract_mesh(decoder, latent, resolution=resolution, coarse_stride=8, trusted_distance=0.1)


def code_chamfers(decoder, latent: torch.Tensor, resolution: int, gt_points: np.ndarray, normalization,
                  samples: int, seed: int) -> tuple[float, float]:
    """:func:`chamfers` of a code's :func:`scoring_mesh` at ``resolution``; ``(inf, inf)`` when the code has no
    surface in the unit cube."""
    mesh = scoring_mesh(decoder, latent, resolution)
    if mesh.empty:
        return math.inf, math.inf
    return chamfers(gt_points, mesh.vertices, mesh.faces, normalization, samples, seed)


def _score(result: MethodResult, decoder, latent: torch.Tensor, view, rendering, gt_points, normalization,
           options: Table2Options, seed: int) -> None:
    """Render (unless given), mesh and score the code into ``result`` (an empty mesh marks it failed)."""
    if rendering is None:
        with torch.no_grad():
            rendering = render(decoder, latent, view.camera, outputs=("depth", "normal", "silhouette"),
                               **options.renderer)
    _store_images(result, rendering, view.mask)
    mesh = scoring_mesh(decoder, latent, options.mesh_resolution)
    result.vertices, result.faces = mesh.vertices.astype(np.float32), mesh.faces
    result.mesh_seconds, result.mesh_queries = mesh.seconds, mesh.queries
    if mesh.empty:
        result.failed, result.reason = True, "the code has no surface inside the unit cube (empty mesh)"
        return
    result.chamfer_mesh, result.chamfer_normalized = chamfers(gt_points, mesh.vertices, mesh.faces, normalization,
                                                              options.chamfer_samples, seed)


def _renderer_jobs(settings, methods) -> list[tuple[str, str, str | None]]:
    """``(setting, method, owner)`` of every renderer row; ``owner`` names the row whose fit it shares (dense
    depth implies the mask, so every renderer method is the same fit there), None for a fit of its own."""
    present = [m for m in RENDERER_METHODS if m in methods]
    jobs = []
    for setting in settings:
        if setting == "dense" and present:
            owner = "ours_mask" if "ours_mask" in present else present[0]
            jobs += [(setting, m, None if m == owner else owner) for m in present]
        else:
            jobs += [(setting, m, None) for m in present]
    return jobs


def _renderer_target(view, setting: str, method: str, normals: bool):
    observed = view.sparse[setting]
    mask = view.mask if (method == "ours_mask" or setting == "dense") else None
    return depth_target(view.camera, view.depth, observed, mask, observed_silhouette=(method != "ours_depth"),
                        normal=view.normal if normals else None)


def _shared(source: MethodResult, setting: str, method: str) -> MethodResult:
    return MethodResult(**{**source.__dict__, "setting": setting, "method": method, "shared": True})


def evaluate_instance(decoder, mean_latent: torch.Tensor, view, gt_points: np.ndarray, normalization,
                      options: Table2Options, seed: int, settings=SETTINGS, methods=METHODS,
                      complete_samples: SdfSamples | None = None, progress: bool = False) -> list[MethodResult]:
    """Every (setting, method) of Table 2 on one instance, in the order of ``settings`` x ``methods``.

    Args:
        decoder: the category's frozen DeepSDF decoder (eval mode), on the device to use.
        mean_latent: (D,) the prior's mean training code (initialisation of the renderer methods).
        view: :class:`dist_core.data.inputs.SingleViewInput` (depth, mask, normal, camera, sparse pixels).
        gt_points: (N, 3) ground-truth surface samples in the mesh frame.
        normalization: the instance's :class:`~dist_core.data.deepsdf.Normalization`.
        seed: the config seed; each random choice derives its own from (seed, category, instance, setting).
        complete_samples: the instance's complete SdfSamples, for ``oracle`` (None: the oracle row is
            recorded as failed, with the reason).
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown Table 2 method(s) {unknown}; choose from {METHODS}")
    category, instance = view.attrs.get("category", ""), view.attrs.get("instance", "")

    def seed_of(what: str) -> int:
        return derive_seed(seed, category, instance, what)

    done: dict[tuple[str, str], MethodResult] = {}
    fit_options = options.fit_options()
    jobs = _renderer_jobs(settings, methods)
    own = [(s, m) for s, m, owner in jobs if owner is None]
    if own:
        targets = [_renderer_target(view, s, m, bool(fit_options.w_normal)) for s, m in own]
        fits = fit_latents_to_depth(decoder, targets, mean_latent, fit_options, progress=progress,
                                    description=f"{instance[:8]} {len(own)} codes")
        for (setting, method), fit in zip(own, fits):
            result = MethodResult(setting, method, fit.latent.cpu().numpy(), failed=fit.failed, reason=fit.reason,
                                  losses=np.asarray(fit.losses), depth_losses=np.asarray(fit.depth_losses),
                                  silhouette_losses=np.asarray(fit.silhouette_losses),
                                  normal_losses=np.asarray(fit.normal_losses),
                                  forward_queries=np.asarray(fit.forward_queries, dtype=np.int64),
                                  backward_queries=np.asarray(fit.backward_queries, dtype=np.int64),
                                  fit_seconds=fit.seconds)
            if not result.failed:
                _score(result, decoder, fit.latent.to(mean_latent.device), view, fit.rendering, gt_points,
                       normalization, options, seed_of(f"{setting}/{method}/chamfer") % 2**32)
            done[setting, method] = result
    for setting, method, owner in jobs:
        if owner is not None:
            done[setting, method] = _shared(done[setting, owner], setting, method)

    offsets, surface_points, fit_arguments = options.deepsdf_fit()
    if "deepsdf" in methods:
        for setting in settings:
            started = time.perf_counter()
            fit = fit_depth_deepsdf(decoder, view.depth, view.normal, view.sparse[setting], view.camera, offsets,
                                    surface=surface_points, seed=seed_of(f"{setting}/deepsdf"), **fit_arguments)
            done[setting, "deepsdf"] = _sdf_fit_result(fit, setting, "deepsdf", started, decoder, view, gt_points,
                                                       normalization, options, seed_of(f"{setting}/deepsdf/chamfer"))
    if "oracle" in methods:
        if complete_samples is None:
            oracle = MethodResult(settings[0], "oracle", np.zeros(0), failed=True,
                                  reason="no complete SdfSamples for this instance")
        else:
            started = time.perf_counter()
            fit = fit_latent_to_sdf_samples(decoder, complete_samples, seed=seed_of("oracle"), **fit_arguments)
            oracle = _sdf_fit_result(fit, settings[0], "oracle", started, decoder, view, gt_points, normalization,
                                     options, seed_of("oracle/chamfer"))
        done[settings[0], "oracle"] = oracle
        for setting in settings[1:]:
            done[setting, "oracle"] = _shared(oracle, setting, "oracle")
    return [done[s, m] for s in settings for m in methods]


def _sdf_fit_result(fit, setting: str, method: str, started: float, decoder, view, gt_points, normalization,
                    options: Table2Options, seed: int) -> MethodResult:
    """A DeepSDF-style fit (:class:`dist_core.prior.FitResult`) scored as every other row."""
    result = MethodResult(setting, method, fit.latent.cpu().numpy(), losses=np.asarray(fit.losses),
                          fit_seconds=time.perf_counter() - started)
    if not torch.isfinite(fit.latent).all():
        result.failed, result.reason = True, f"{method}'s SDF fit produced a non-finite code"
        return result
    _score(result, decoder, fit.latent, view, None, gt_points, normalization, options, seed % 2**32)
    return result


def write_instance(path, results: list[MethodResult], attrs: dict) -> Path:
    """One instance's results as HDF5, written atomically (a killed job leaves no partial file)."""
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            for r in results:
                g = f.create_group(f"{r.setting}/{r.method}")
                for name in _ARRAYS:
                    data = np.asarray(getattr(r, name))
                    g.create_dataset(name, data=data, **({"compression": "gzip"} if data.size > 64 else {}))
                g.attrs.update({"chamfer_mesh_x1000": r.chamfer_mesh * metrics.TABLE_SCALE,
                                "chamfer_normalized_x1000": r.chamfer_normalized * metrics.TABLE_SCALE,
                                "silhouette_iou": r.silhouette_iou, "failed": bool(r.failed), "reason": r.reason,
                                "shared": bool(r.shared), "fit_seconds": r.fit_seconds,
                                "mesh_seconds": r.mesh_seconds, "mesh_queries": int(r.mesh_queries)})
    return path


def write_skipped_instance(path, skip_file: str, skip_reason: str, attrs: dict) -> Path:
    """The result file of an instance the data stage skipped: root attributes only (``skipped`` = True,
    ``skip_file``, ``skip_reason`` and ``attrs``), written atomically."""
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["skipped"] = True
            f.attrs["skip_file"] = str(skip_file)
            f.attrs["skip_reason"] = str(skip_reason)
    return path


def read_instance(path) -> tuple[list[MethodResult], dict]:
    """The results and root attributes written by :func:`write_instance` (no results and ``skipped`` True
    for a skipped instance). A missing, truncated or older file raises a
    :class:`~dist_core.data.errors.DataError` that names it and the fix."""
    results = []
    with io.open_h5(path, "Table 2 instance result", "Run snakemake table2") as f:
        attrs = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
        for setting in f:
            for method in f[setting]:
                g = f[setting][method]
                arrays = {name: g[name][()] for name in _ARRAYS}
                a = {k: io.decode_attribute(v) for k, v in g.attrs.items()}
                results.append(MethodResult(
                    setting, method, chamfer_mesh=float(a["chamfer_mesh_x1000"]) / metrics.TABLE_SCALE,
                    chamfer_normalized=float(a["chamfer_normalized_x1000"]) / metrics.TABLE_SCALE,
                    silhouette_iou=float(a["silhouette_iou"]), failed=bool(a["failed"]), reason=str(a["reason"]),
                    shared=bool(a["shared"]), fit_seconds=float(a["fit_seconds"]),
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
            "method": r.method, "chamfer_normalized_x1000": r.chamfer_normalized * metrics.TABLE_SCALE,
            "chamfer_mesh_x1000": r.chamfer_mesh * metrics.TABLE_SCALE, "scale": float(attrs.get("scale", math.nan)),
            "silhouette_iou": r.silhouette_iou, "failed": r.failed, "reason": r.reason, "shared": r.shared,
            "steps": r.steps, "final_loss": float(r.losses[-1]) if r.steps else math.nan,
            "fit_seconds": r.fit_seconds, "seconds_per_step": r.fit_seconds / steps,
            "forward_queries_per_step": float(np.mean(r.forward_queries)) if len(r.forward_queries) else math.nan,
            "backward_queries_per_step": float(np.mean(r.backward_queries)) if len(r.backward_queries) else math.nan,
            "mesh_seconds": r.mesh_seconds, "mesh_queries": r.mesh_queries,
        })
    return rows
