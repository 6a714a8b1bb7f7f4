"""Table 2's figures: one instance's inputs and results per category, and the loss-vs-Chamfer curve of the
paper's Fig. 5 with the correlation the paper claims ("highly correlated", section 4.1).

:func:`loss_chamfer_curve` runs one renderer optimisation and scores its code every few iterations;
:func:`curve_correlation` gives Pearson's r and Spearman's rho of loss against Chamfer along it;
:func:`curve_figure` draws both (legend and correlations in the figure).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import io, metrics
from ..data.seeding import derive_seed
from ..data.sparse import PAPER_LABELS
from ..fit import fit_latent_to_depth
from .table2 import METHODS, RENDERER_METHODS, SETTINGS, Table2Options, _renderer_target, code_chamfers

__all__ = ["category_figure", "loss_chamfer_curve", "curve_correlation", "curve_figure"]

#: Method names short enough for a panel title.
SHORT_LABELS = {"deepsdf": "DeepSDF", "ours_depth": "Ours (depth)", "ours": "Ours", "ours_mask": "Ours (mask)",
                "oracle": "Oracle"}


def category_figure(path, category: str, instance: str, view, gt_mesh, results, settings=SETTINGS) -> Path:
    """A PNG per category: per setting, the given depth pixels, the GT and each method's mesh seen from a
    novel view (:func:`dist_core.mesh_picture.render_mesh`), Chamfer x 1000 (normalised frame) in the titles.
    Without results (every instance skipped) the figure says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..mesh_picture import render_mesh

    if not results:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, f"Table 2, {category}: no evaluated instance (see table2_skipped.csv)", ha="center",
                 fontsize=8)
        return _save(fig, path)
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
            label = SHORT_LABELS.get(m, m)
            title = f"{label} {r.chamfer_normalized * metrics.TABLE_SCALE:.2f}" if not r.failed else f"{label} failed"
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
    fig.suptitle(f"Table 2, {category} {instance[:12]}: input depth, GT and results (novel view; Chamfer x 1000, "
                 "normalised frame)", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)
    return path


def loss_chamfer_curve(decoder, mean_latent, view, setting: str, method: str, gt_points, normalization,
                       options: Table2Options, every: int, mesh_resolution: int, seed: int, overrides=None,
                       progress: bool = False):
    """Paper Fig. 5 for one instance: the loss of every iteration of a renderer method and the Chamfer x 1000
    (both frames) of the code every ``every`` iterations (and at the first).

    ``overrides`` update ``options.ours`` for this optimisation (e.g. ``{"w_normal": 5.0}``: DIST's
    ``run_single_shape.py`` fits depth, normals and silhouette, as the paper's Fig. 5 does). Returns a
    DataFrame (iteration, loss, depth_loss, silhouette_loss, normal_loss, chamfer_normalized_x1000,
    chamfer_mesh_x1000; Chamfer NaN between evaluations, inf where the code has no surface)."""
    import pandas as pd

    if method not in RENDERER_METHODS:
        raise ValueError(f"the loss-vs-Chamfer curve follows the renderer's optimisation: one of {RENDERER_METHODS}, "
                         f"not {method!r}")
    fit_options = options.fit_options(**dict(overrides or {}))
    category, instance = view.attrs.get("category", ""), view.attrs.get("instance", "")
    chamfer_seed = derive_seed(seed, category, instance, "curve/chamfer") % 2**32
    scored = {}

    def score(iteration, latent):
        if iteration == 1 or iteration % every == 0:
            scored[iteration] = code_chamfers(decoder, latent, mesh_resolution, gt_points, normalization,
                                              options.chamfer_samples, chamfer_seed)

    target = _renderer_target(view, setting, method, bool(fit_options.w_normal))
    fit = fit_latent_to_depth(decoder, target, mean_latent, fit_options, progress=progress, callback=score,
                              description=f"curve {instance[:8]} {setting}")
    if fit.failed:
        raise RuntimeError(f"the curve's optimisation failed: {fit.reason}")
    steps = range(1, fit.steps + 1)
    nan = (math.nan, math.nan)
    return pd.DataFrame({"iteration": np.arange(1, fit.steps + 1), "loss": fit.losses, "depth_loss": fit.depth_losses,
                         "silhouette_loss": fit.silhouette_losses, "normal_loss": fit.normal_losses,
                         "chamfer_normalized_x1000": [scored.get(i, nan)[1] * metrics.TABLE_SCALE for i in steps],
                         "chamfer_mesh_x1000": [scored.get(i, nan)[0] * metrics.TABLE_SCALE for i in steps]})


def curve_correlation(curve, column: str = "chamfer_normalized_x1000") -> dict:
    """Pearson's r and Spearman's rho (with their two-sided p-values) of the loss against ``column`` over the
    scored iterations of :func:`loss_chamfer_curve` (finite values only); NaN with fewer than 3 points."""
    from scipy.stats import pearsonr, spearmanr

    scored = curve[np.isfinite(curve[column].to_numpy(dtype=float))]
    out = {"points": int(len(scored)), "pearson_r": math.nan, "pearson_p": math.nan, "spearman_rho": math.nan,
           "spearman_p": math.nan}
    if len(scored) < 3 or scored["loss"].nunique() < 2 or scored[column].nunique() < 2:
        return out
    pearson, spearman = pearsonr(scored["loss"], scored[column]), spearmanr(scored["loss"], scored[column])
    out.update(pearson_r=float(pearson.statistic), pearson_p=float(pearson.pvalue),
               spearman_rho=float(spearman.statistic), spearman_p=float(spearman.pvalue))
    return out


def curve_figure(path, curve, title: str):
    """Loss and Chamfer against iteration (with a legend), and Chamfer against loss with Pearson's r and
    Spearman's rho (paper Fig. 5), saved to ``path``. Returns the (closed) matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = "chamfer_normalized_x1000"
    scored = curve[np.isfinite(curve[column].to_numpy(dtype=float))]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    loss_line, = a.plot(curve.iteration, curve.loss, label="loss")
    a.set_xlabel("iteration")
    a.set_ylabel("loss")
    twin = a.twinx()
    chamfer_line, = twin.plot(scored.iteration, scored[column], "o-", color="C1", markersize=3,
                              label="Chamfer x 1000 (normalised)")
    twin.set_ylabel("Chamfer x 1000 (normalised frame)")
    a.legend(handles=[loss_line, chamfer_line], fontsize=7, loc="upper right")
    a.set_title(title, fontsize=8)
    b.plot(scored.loss, scored[column], "o", markersize=3, label="scored iterations")
    c = curve_correlation(curve, column)
    b.set_title(f"Chamfer vs loss: Pearson r = {c['pearson_r']:.2f}, Spearman rho = {c['spearman_rho']:.2f} "
                f"(n = {c['points']})", fontsize=7)
    b.set_xlabel("loss")
    b.set_ylabel("Chamfer x 1000 (normalised frame)")
    b.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return fig
