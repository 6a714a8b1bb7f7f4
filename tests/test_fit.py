"""Latent optimisation through the renderer (dist_core.fit) on analytic spheres with known answers."""

import numpy as np
import pytest
import torch

from dist_core.camera import Camera
from dist_core.fit import FitOptions, depth_target, fit_latent_to_depth
from dist_core.render import render
from dist_core.sdf import Sphere


@pytest.fixture(autouse=True)
def single_thread():
    """One torch thread, as the Table 2 jobs run: these tiny images only pay thread start-up for a second."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _observation(radius=0.5, center=(0.05, -0.05, 0.0), width=24):
    camera = Camera.look_at((0.0, 0.3, -2.0), fov_degrees=40.0, width=width)
    truth = Sphere(radius, center)
    with torch.no_grad():
        r = render(truth, truth.latent, camera, outputs=("depth",))
    mask = r.valid.numpy()
    return camera, np.where(mask, r.depth.numpy(), np.inf), mask


def test_dense_depth_and_mask_recover_the_sphere():
    camera, depth, mask = _observation()
    target = depth_target(camera, depth, mask, mask)
    init = Sphere(0.35).latent
    result = fit_latent_to_depth(Sphere(), target, init, FitOptions(iterations=60, lr=0.02, w_l2=0.0))
    assert not result.failed and result.steps == 60
    assert result.losses[-1] < 0.05 * result.losses[0]
    assert abs(float(result.latent[3]) - 0.5) < 0.02
    assert np.allclose(result.latent[:3].numpy(), [0.05, -0.05, 0.0], atol=0.03)
    assert result.rendering is not None and result.rendering.normal.shape == (24, 24, 3)
    assert min(result.forward_queries) > 0 and result.seconds_per_step > 0


def test_twenty_sparse_depth_points_without_mask_still_grow_the_sphere():
    camera, depth, mask = _observation()
    pixels = np.flatnonzero(mask)
    chosen = np.zeros(mask.size, dtype=bool)
    chosen[np.random.default_rng(0).choice(pixels, 20, replace=False)] = True
    target = depth_target(camera, depth, chosen.reshape(mask.shape))
    assert target.outside is None and torch.equal(target.inside, target.observed)
    result = fit_latent_to_depth(Sphere(), target, Sphere(0.35).latent, FitOptions(iterations=60, lr=0.02, w_l2=0.0))
    assert abs(float(result.latent[3]) - 0.5) < 0.05


def test_a_diverging_optimisation_is_reported_not_raised():
    camera, depth, mask = _observation()
    target = depth_target(camera, depth, mask, mask)
    result = fit_latent_to_depth(Sphere(), target, Sphere(0.35).latent,
                                 FitOptions(iterations=20, lr=0.02, w_l2=0.0, diverge_factor=0.5))
    assert result.failed and "exploded" in result.reason and result.rendering is None

    nan_start = torch.tensor([0.0, 0.0, 0.0, float("nan")])
    result = fit_latent_to_depth(Sphere(), target, nan_start, FitOptions(iterations=5))
    assert result.failed and "iteration 0" in result.reason and result.steps == 0


def test_callback_sees_each_evaluated_code():
    camera, depth, mask = _observation(width=16)
    seen = []
    result = fit_latent_to_depth(Sphere(), depth_target(camera, depth, mask, mask), Sphere(0.4).latent,
                                 FitOptions(iterations=3, lr=0.01), callback=lambda i, z: seen.append((i, z.clone())))
    assert [i for i, _ in seen] == [1, 2, 3]
    assert torch.equal(seen[0][1], Sphere(0.4).latent) and not torch.equal(seen[2][1], result.latent)
