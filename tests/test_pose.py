"""Camera pose optimisation through the renderer (paper Fig. 6) on an exact, asymmetric analytic shape."""

import math

import torch

from dist_core import Box, Camera, Sphere, Union, render
from dist_core.pose import fit_pose, perturb_pose, pose_error

torch.set_num_threads(2)
# No rotational symmetry: every pose gives another depth image.
SHAPE = Union(Box((0.45, 0.15, 0.25)), Sphere(0.2, center=(0.3, -0.25, 0.0)),
              Box((0.08, 0.35, 0.08), center=(-0.3, 0.1, 0.1)))
TRUE = Camera.look_at((0.4, -0.6, -1.8), fov_degrees=40, width=40)


def targets():
    with torch.no_grad():
        gt = render(SHAPE, SHAPE.latent, TRUE, outputs=("depth",))
    return torch.where(gt.valid, gt.depth, torch.zeros_like(gt.depth)), gt.valid


def test_perturbed_pose_is_an_orbit_of_the_requested_angle():
    start = perturb_pose(TRUE, 12.0, 0.0, seed=3)
    rotation, distance = pose_error(start, TRUE)
    assert rotation == pytest_approx(12.0)
    assert float(start.center.norm()) == pytest_approx(float(TRUE.center.norm()))
    assert 0 < distance < 2 * float(TRUE.center.norm()) * math.sin(math.radians(6.0)) + 1e-9
    moved = perturb_pose(TRUE, 0.0, 0.1, seed=3)
    assert pose_error(moved, TRUE) == (pytest_approx(0.0, abs=1e-6), pytest_approx(0.1))


def test_pose_from_depth_and_silhouette_converges_to_the_true_camera():
    depth, mask = targets()
    start = perturb_pose(TRUE, 12.0, 0.1, seed=3)
    fit = fit_pose(SHAPE, SHAPE.latent, depth, mask, start, iterations=30, lr=0.01, reference=TRUE, snapshots=(0, 30))
    assert fit.failed is None and len(fit.losses) == 31
    assert fit.rotation_error_degrees[0] == pytest_approx(12.0, abs=1e-3)
    assert fit.rotation_error_degrees[-1] < 1.5 and fit.translation_error[-1] < 0.03
    assert fit.losses[-1] < fit.losses[0] / 5
    assert pose_error(fit.camera, TRUE)[0] < 1.5
    assert set(fit.images) == {0, 30} and fit.images[30]["silhouette_error"].sum() < fit.images[0]["silhouette_error"].sum()
    assert fit.forward_queries > 0 and len(fit.rows()) == 31


def test_a_non_finite_loss_stops_the_fit_with_the_reason():
    depth, mask = targets()
    depth[mask] = math.nan
    fit = fit_pose(SHAPE, SHAPE.latent, depth, mask, perturb_pose(TRUE, 5.0, 0.0, seed=1), iterations=10)
    assert fit.failed == "loss became nan at iteration 0" and len(fit.losses) == 1


def pytest_approx(value, **kwargs):
    import pytest

    return pytest.approx(value, **({"rel": 1e-6} | kwargs))
