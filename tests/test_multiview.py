"""Multi-view photometric optimisation (paper section 4.2.2) on an exact sphere scene."""

import math

import numpy as np
import pytest
import torch

from dist_core import Camera, Sphere, render
from dist_core.multiview import (FitDiverged, MultiViewSettings, SimilaritySDF, neighbour_pairs, optimize_multi_view,
                                 optimize_photometric, random_latent)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: torch's thread barriers cost more than they save on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_neighbour_pairs_follow_dists_schedule():
    # 8 images, 8 views per round: consecutive pairs, the last view paired with the one before it.
    assert neighbour_pairs(8, 8, 0) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 6)]
    # 16 images: every other view per round, the second round shifted by one.
    assert neighbour_pairs(16, 8, 0) == [(2 * k, 2 * k + 1) for k in range(8)]
    assert neighbour_pairs(16, 8, 1) == [(2 * k + 1, 2 * k + 2) for k in range(7)] + [(15, 14)]
    with pytest.raises(ValueError):
        neighbour_pairs(1, 8, 0)


def test_random_latent_is_seeded():
    a, b, c = random_latent(64, 0.1, 3), random_latent(64, 0.1, 3), random_latent(64, 0.1, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0.05 < float(a.std()) < 0.2


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="unknown multi-view setting"):
        MultiViewSettings.from_dict({"epoch": 3})


def _scene(views=4, size=28, radius=0.55):
    """Colour images of a sphere with a smooth surface texture in front of a textured far background."""
    sphere, truth = Sphere(radius=radius), torch.tensor([0.0, 0.0, 0.0, radius])
    cameras = [Camera.look_at((2.2 * math.sin(a), 0.5, -2.2 * math.cos(a)), fov_degrees=40.0, width=size,
                              up=(0.0, 1.0, 0.0)) for a in np.linspace(0, 1.2, views)]
    images = []
    for camera in cameras:
        rendering = render(sphere, truth, camera.to(dtype=torch.float32), outputs=("depth",))
        rays = camera.rays()
        far = 0.5 + 0.3 * torch.sin(9 * rays.directions[:, :1] + torch.tensor([0.0, 1.0, 2.0]))
        image = far.clone()
        p = rendering.points.detach()
        image[rendering.valid.reshape(-1)] = 0.5 + 0.4 * torch.stack(
            [torch.sin(6 * p[:, 0]), torch.cos(5 * p[:, 1]), torch.sin(4 * p[:, 2])], -1)
        images.append(image.reshape(size, size, 3))
    return sphere, truth, torch.stack(images).numpy(), cameras


def test_photometric_optimisation_recovers_the_sphere_radius():
    sphere, truth, images, cameras = _scene()
    settings = MultiViewSettings(epochs=24, views_per_round=4, lr=1e-2, l2_weight=0.0, depth_threshold=1e-2,
                                 snapshot_every=8)
    start = torch.tensor([0.0, 0.0, 0.0, 0.45])
    result = optimize_multi_view(sphere, images, cameras, settings, seed=0, latent_size=4, init=start, progress=False,
                                 renderer_options={"coarse_to_fine": False})
    assert abs(float(result.code[3]) - 0.55) < 0.5 * abs(0.45 - 0.55)
    assert result.losses[-1] < result.losses[0]
    assert result.steps == 24 and result.forward_queries_per_step > 0 and result.seconds_per_step > 0
    assert [epoch for epoch, _ in result.snapshots] == [0, 8, 16, 24]


def test_similarity_sdf_is_identity_at_zero_and_differentiable():
    sphere = Sphere(radius=0.5)
    latent = torch.tensor([0.0, 0.0, 0.0, 0.5])
    params = [torch.zeros((), requires_grad=True), torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)]
    moved = SimilaritySDF(sphere, *params)
    points = torch.randn(50, 3)
    assert torch.allclose(moved(latent, points), sphere(latent, points), atol=1e-6)
    # Scaling by e^0.2 makes the sphere of radius 0.5 e^0.2; translating moves its centre.
    with torch.no_grad():
        params[0].fill_(0.2)
        params[2].copy_(torch.tensor([0.1, 0.0, 0.0]))
    expected = (points - torch.tensor([0.1, 0.0, 0.0])).norm(dim=-1) - 0.5 * math.exp(0.2)
    assert torch.allclose(moved(latent, points), expected, atol=1e-5)
    moved(latent, points).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_similarity_option_optimises_the_transform():
    sphere, _, images, cameras = _scene(views=3, size=20)
    settings = MultiViewSettings(epochs=1, views_per_round=3, similarity=True, similarity_lr=1e-2)
    result = optimize_multi_view(sphere, images, cameras, settings, seed=0, latent_size=4,
                                 init=torch.tensor([0.0, 0.0, 0.0, 0.5]), progress=False,
                                 renderer_options={"coarse_to_fine": False})
    scale, rotation, translation = result.similarity
    assert scale != 1.0 and rotation.shape == (3,) and translation.abs().sum() > 0


def test_nan_loss_raises_fit_diverged():
    cameras = [Camera.look_at((0.0, 0.0, -2.0), width=8), Camera.look_at((0.5, 0.0, -2.0), width=8)]

    def render_depth(code, views):
        return torch.full((len(views), 8, 8), 2.0) + code.sum(), {}

    with pytest.raises(FitDiverged, match="loss became nan"):
        optimize_photometric(render_depth, torch.zeros(2), np.full((2, 8, 8, 3), np.nan), cameras,
                             MultiViewSettings(epochs=1, views_per_round=2), progress=False)


def test_a_step_renders_its_views_in_one_batch_and_matches_one_view_at_a_time():
    sphere, _, images, cameras = _scene(views=4, size=16)
    calls = []

    def batched(code, views):
        calls.append(len(views))
        rendering = render(sphere, code, [c.to(dtype=torch.float32) for c in views], outputs=("depth",),
                           coarse_to_fine=False)
        return rendering.depth, rendering.stats

    def one_at_a_time(code, views):
        depths = [render(sphere, code, c.to(dtype=torch.float32), outputs=("depth",), coarse_to_fine=False).depth
                  for c in views]
        return torch.stack(depths), {}

    settings = MultiViewSettings(epochs=2, views_per_round=2, lr=1e-2, depth_threshold=1e-2)
    start = torch.tensor([0.0, 0.0, 0.0, 0.45])
    together = optimize_photometric(batched, start, images, cameras, settings, progress=False)
    alone = optimize_photometric(one_at_a_time, start, images, cameras, settings, progress=False)
    assert calls == [4, 3, 4, 3]  # pairs (0, 1) (2, 3), then (1, 2) (3, 2): each step's views in one trace
    np.testing.assert_allclose(together.losses, alone.losses, rtol=1e-4)
    assert torch.allclose(together.code, alone.code, atol=1e-5)
