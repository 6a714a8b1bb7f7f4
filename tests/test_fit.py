"""Latent optimisation through the renderer (dist_core.fit) on analytic spheres with known answers."""

import numpy as np
import pytest
import torch

from dist_core.camera import Camera
from dist_core.fit import FitOptions, depth_fit_loss, depth_target, fit_latent_to_depth, fit_latents_to_depth
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


def _sparse(mask, count, seed):
    chosen = np.zeros(mask.size, dtype=bool)
    chosen[np.random.default_rng(seed).choice(np.flatnonzero(mask), count, replace=False)] = True
    return chosen.reshape(mask.shape)


def test_codes_fitted_together_follow_the_paths_they_follow_alone():
    camera, depth, mask = _observation(width=16)
    targets = [depth_target(camera, depth, mask, mask), depth_target(camera, depth, _sparse(mask, 20, 1)),
               depth_target(camera, depth, _sparse(mask, 20, 2), observed_silhouette=False)]
    inits = torch.stack([Sphere(0.35).latent, Sphere(0.4).latent, Sphere(0.3, (0.02, 0.0, 0.0)).latent])
    options = FitOptions(iterations=8, lr=0.02, w_l2=0.1)
    together = fit_latents_to_depth(Sphere(), targets, inits, options)
    for target, init, joint in zip(targets, inits, together):
        alone = fit_latent_to_depth(Sphere(), target, init, options)
        assert torch.allclose(joint.latent, alone.latent, atol=1e-6)
        assert np.allclose(joint.losses, alone.losses, rtol=1e-5)
        assert joint.forward_queries == alone.forward_queries


def test_batched_rendering_gives_the_fits_of_separate_renders():
    camera, depth, mask = _observation(width=16)
    targets = [depth_target(camera, depth, mask, mask), depth_target(camera, depth, _sparse(mask, 20, 1)),
               depth_target(camera, depth, _sparse(mask, 20, 2), observed_silhouette=False)]
    inits = torch.stack([Sphere(0.35).latent, Sphere(0.4).latent, Sphere(0.3, (0.02, 0.0, 0.0)).latent])
    separate = fit_latents_to_depth(Sphere(), targets, inits, FitOptions(iterations=6, lr=0.02, w_l2=0.1))
    batched = fit_latents_to_depth(Sphere(), targets, inits, FitOptions(iterations=6, lr=0.02, w_l2=0.1,
                                                                        batch_render=True))
    for a, b in zip(separate, batched):
        assert torch.allclose(a.latent, b.latent, atol=1e-5) and np.allclose(a.losses, b.losses, rtol=1e-4)
        # The first step renders the same codes: the same rays march. Later codes differ by float rounding
        # (the batch sums its losses in another order), which can move a ray across a step's threshold.
        assert a.forward_queries[0] == b.forward_queries[0] and a.backward_queries[0] == b.backward_queries[0]
        for ours, theirs in ((a.forward_queries, b.forward_queries), (a.backward_queries, b.backward_queries)):
            assert np.abs(np.subtract(ours, theirs)).max() <= 0.002 * max(ours)
        assert torch.equal(a.rendering.valid, b.rendering.valid)


def test_a_failing_code_stops_alone_and_keeps_its_last_finite_value():
    camera, depth, mask = _observation(width=16)
    target = depth_target(camera, depth, mask, mask)
    inits = torch.stack([Sphere(0.35).latent, torch.tensor([0.0, 0.0, 0.0, float("nan")])])
    good, bad = fit_latents_to_depth(Sphere(), [target, target], inits, FitOptions(iterations=5, lr=0.02, w_l2=0.0))
    assert bad.failed and "not finite" in bad.reason and bad.steps == 0 and bad.rendering is None
    assert not good.failed and good.steps == 5 and good.rendering is not None
    alone = fit_latent_to_depth(Sphere(), target, inits[0], FitOptions(iterations=5, lr=0.02, w_l2=0.0))
    assert torch.allclose(good.latent, alone.latent, atol=1e-6)


def test_depth_only_target_has_no_silhouette_term():
    camera, depth, mask = _observation(width=16)
    observed = _sparse(mask, 20, 0)
    target = depth_target(camera, depth, observed, observed_silhouette=False)
    assert not target.inside.any() and target.outside is None
    # A sphere far too small to reach the observed pixels gets no gradient from depth alone: it stays.
    result = fit_latent_to_depth(Sphere(), target, Sphere(0.05).latent, FitOptions(iterations=3, lr=0.02, w_l2=0.0))
    assert result.silhouette_losses == [0.0, 0.0, 0.0]
    assert torch.allclose(result.latent, Sphere(0.05).latent)


def test_normal_term_recovers_the_sphere_centre_from_normals():
    camera, depth, mask = _observation(width=24)
    truth = Sphere(0.5, (0.05, -0.05, 0.0))
    with torch.no_grad():
        normals = render(truth, truth.latent, camera, outputs=("normal",)).normal.numpy()
    target = depth_target(camera, depth, mask, mask, normal=normals)
    result = fit_latent_to_depth(Sphere(), target, Sphere(0.45).latent,
                                 FitOptions(iterations=40, lr=0.02, w_l2=0.0, w_normal=5.0))
    assert not result.failed and len(result.normal_losses) == 40
    # -n . n_gt: from above -1 at the start to about -1 at the end (unit normals agree).
    assert result.normal_losses[-1] < -0.99 and result.normal_losses[-1] <= result.normal_losses[0]
    assert np.allclose(result.latent[:3].numpy(), [0.05, -0.05, 0.0], atol=0.03)


def test_depth_fit_loss_is_the_loss_the_fit_records_and_is_zero_at_the_truth():
    camera, depth, mask = _observation()
    target = depth_target(camera, depth, mask, mask)
    options = FitOptions(iterations=2, lr=0.02, w_l2=0.5)
    start = Sphere(0.35).latent
    result = fit_latent_to_depth(Sphere(), target, start, options)
    at_start = depth_fit_loss(Sphere(), target, start, options)
    assert at_start["loss"] == pytest.approx(result.losses[0], rel=1e-6)
    assert at_start["depth"] == pytest.approx(result.depth_losses[0], rel=1e-6)
    assert at_start["silhouette"] == pytest.approx(result.silhouette_losses[0], rel=1e-6)
    assert at_start["l2"] == pytest.approx(float(start.pow(2).mean()))
    # The sphere that drew the observation: no depth error, no silhouette error; only the regulariser is left.
    truth = Sphere(0.5, (0.05, -0.05, 0.0)).latent
    at_truth = depth_fit_loss(Sphere(), target, truth, options)
    assert at_truth["depth"] < 1e-4 and at_truth["silhouette"] < 1e-3
    assert at_truth["loss"] == pytest.approx(10.0 * at_truth["depth"] + at_truth["silhouette"]
                                             + 0.5 * at_truth["l2"], rel=1e-6)
    assert at_truth["loss"] < at_start["loss"]
