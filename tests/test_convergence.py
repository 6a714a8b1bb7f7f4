"""The convergence-threshold renders of paper Fig. 7 on an exact sphere: a large eps dilates the
silhouette, the paper's eps matches the closed form."""

import math

import torch

from dist_core import Camera, Sphere
from dist_core.experiments.convergence import convergence_figure, convergence_renders

torch.set_num_threads(2)


def test_large_eps_dilates_the_silhouette_and_small_eps_matches_the_closed_form(tmp_path):
    sphere = Sphere(0.5)
    camera = Camera.look_at((0.0, -0.4, -2.0), fov_degrees=40, width=48)
    rays = camera.rays(dtype=torch.float64)
    b = (rays.origins * rays.directions).sum(-1)
    inside = int((b * b - ((rays.origins**2).sum(-1) - 0.25) > 0).sum())
    rows = convergence_renders(sphere, sphere.latent, camera, [5e-2, 5e-5], max_steps=50)
    assert [(r["tracer"], r["eps"]) for r in rows] == [("paper", 5e-2), ("paper", 5e-5), ("ours", 5e-2), ("ours", 5e-5)]
    for tracer in ("paper", "ours"):
        coarse, fine = [r for r in rows if r["tracer"] == tracer]
        assert coarse["valid_pixels"] > fine["valid_pixels"] and coarse["forward_queries"] < fine["forward_queries"]
        assert abs(fine["valid_pixels"] - inside) <= 2
        assert fine["normal"].shape == (48, 48, 3) and 0 <= fine["normal"].min() and fine["normal"].max() <= 1
    convergence_figure(tmp_path / "fig.png", rows)
    assert (tmp_path / "fig.png").stat().st_size > 2000
    assert math.isfinite(rows[0]["seconds"])
