"""dist_core.experiments.table1 helpers that Table 1 relies on."""

import torch

from dist_core.experiments import table1 as benchmark
from dist_core.decoder import Decoder


def test_geometric_init_starts_every_code_as_a_sphere_sdf():
    torch.manual_seed(0)
    # DeepSDF's architecture, as Table 1 uses it.
    decoder = benchmark.geometric_init_(Decoder(256, [512] * 8, norm_layers=range(8), latent_in=(4,), weight_norm=True),
                                        radius=0.5)
    directions = torch.nn.functional.normalize(torch.randn(400, 3), dim=1)
    with torch.no_grad():
        for latent in (torch.zeros(256), torch.randn(256)):
            means = [decoder(latent, directions * r).mean().item() for r in (0.2, 0.5, 0.8)]
            # Inside negative, the sphere near zero, outside positive: a field the tracer can hit.
            assert means[0] < -0.2 and abs(means[1]) < 0.1 and means[2] > 0.15, means


def test_ablation_refuses_a_scene_that_renders_nothing():
    import pytest

    from dist_core.camera import Camera
    from dist_core.sdf import Sphere

    sphere = Sphere(0.3)
    away = Camera.look_at((0.0, 0.0, -1.8), target=(0.0, 0.0, -3.0), width=16)
    with pytest.raises(ValueError, match="target renders no surface"):
        benchmark.efficiency_ablation(sphere, sphere.latent, away, scene="empty", rows=benchmark.ABLATION_ROWS[:1])
    # A start code pushed off the shape (the centre moved metres away) is refused instead of timed.
    camera = Camera.look_at((0.0, 0.0, -1.8), width=16)
    rows = benchmark.efficiency_ablation(sphere, sphere.latent, camera, scene="sphere", rows=benchmark.ABLATION_ROWS[:1])
    assert rows[0]["valid_pixels"] > 0
    # Both steps are measured: chunked backward pass (the default) and every sample at once.
    assert rows[0]["peak_memory_mb"] > 0 and rows[0]["peak_memory_unchunked_mb"] > 0
    assert rows[0]["seconds_per_step_unchunked"] > 0 and rows[0]["backward_queries"] == int(camera.width * camera.height)
    with pytest.raises(ValueError, match="smaller perturbation"):
        benchmark.efficiency_ablation(sphere, sphere.latent, camera, scene="moved", rows=benchmark.ABLATION_ROWS[:1],
                                      perturbation=5.0)
