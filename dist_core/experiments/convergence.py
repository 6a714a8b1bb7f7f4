"""The convergence threshold's effect on the rendering: the paper's Fig. 7 (section 4.1).

The same view is rendered with several ``eps`` under the same marching-step budget, with the paper's
tracer (``refine`` and ``cone_split`` off) and with ours. A large ``eps`` stops rays before they reach
the surface and dilates the silhouette; a very small one leaves rays near the boundary unconverged after
``max_steps`` and erodes it. :func:`convergence_renders` returns the normal images and, per ``eps``, the
number of valid pixels and network queries; :func:`convergence_figure` draws them.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..render import render

__all__ = ["TRACERS", "convergence_renders", "convergence_figure"]

# Tracer switches of each row of the figure.
TRACERS = {"paper": {"refine": False, "cone_split": False}, "ours": {"refine": True, "cone_split": True}}


def convergence_renders(sdf, latent: torch.Tensor, camera, eps_values, max_steps: int, **render_options) -> list[dict]:
    """Render ``camera`` with each ``eps`` for each tracer of :data:`TRACERS`.

    Returns:
        dicts ``{"tracer", "eps", "max_steps", "valid_pixels", "forward_queries", "seconds", "normal"
        (H, W, 3) in [0, 1] on white}``.
    """
    rows = []
    for tracer, switches in TRACERS.items():
        for eps in eps_values:
            options = {**render_options, **switches, "eps": float(eps), "max_steps": int(max_steps)}
            start = time.perf_counter()
            with torch.no_grad():
                out = render(sdf, latent, camera, outputs=("normal",), **options)
            seconds = time.perf_counter() - start
            valid = out.valid.cpu().numpy()
            normal = ((out.normal.cpu().numpy() * np.array([1.0, -1.0, -1.0]) + 1.0) / 2.0).clip(0, 1)
            normal[~valid] = 1.0
            rows.append({"tracer": tracer, "eps": float(eps), "max_steps": int(max_steps),
                         "valid_pixels": int(valid.sum()), "forward_queries": int(out.stats["forward_queries"]),
                         "seconds": seconds, "normal": normal})
    return rows


def convergence_figure(path, rows: list[dict]) -> None:
    """One row of normal images per tracer, one column per eps, titled with the valid pixel count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    tracers = list(dict.fromkeys(r["tracer"] for r in rows))
    eps_values = list(dict.fromkeys(r["eps"] for r in rows))
    fig, axes = plt.subplots(len(tracers), len(eps_values), figsize=(2.3 * len(eps_values), 2.9 * len(tracers)),
                             squeeze=False)
    for row in rows:
        axis = axes[tracers.index(row["tracer"])][eps_values.index(row["eps"])]
        axis.imshow(row["normal"], interpolation="nearest")
        axis.set_title(f"eps {row['eps']:.0e}\n{row['valid_pixels']} px, {row['forward_queries'] / 1000:.0f}K q",
                       fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    for i, tracer in enumerate(tracers):
        axes[i][0].set_ylabel(f"{tracer} tracer", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
