"""Cross-view warping (paper eq. 6) on exact analytic scenes."""

import math

import pytest
import torch

from dist_core import Camera, Sphere, render
from dist_core.photometric import backproject_depth, bilinear_sample, photometric_loss, warp_view


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: torch's thread barriers cost more than they save on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _surface_colour(points: torch.Tensor) -> torch.Tensor:
    """A smooth colour field on the surface: the same in every view (a Lambertian-like texture)."""
    return 0.5 + 0.4 * torch.stack([torch.sin(5 * points[:, 0]), torch.cos(4 * points[:, 1]),
                                    torch.sin(3 * points[:, 2] + 1)], dim=-1)


def _view(sdf, latent, camera):
    """Exact depth (sphere) and a colour image painted from the surface points."""
    rendering = render(sdf, latent, camera, outputs=("depth",))
    depth = rendering.depth.detach()
    image = torch.zeros(camera.height * camera.width, 3)
    image[rendering.valid.reshape(-1)] = _surface_colour(rendering.points.detach())
    return depth, image.reshape(camera.height, camera.width, 3)


def _cameras(angles, size=40):
    return [Camera.look_at((2.2 * math.sin(a), 0.4, -2.2 * math.cos(a)), fov_degrees=40.0, width=size,
                           up=(0.0, 1.0, 0.0)).to(dtype=torch.float32) for a in angles]


def test_backprojected_points_project_to_their_pixel_centres():
    camera = _cameras([0.3])[0]
    depth = torch.full((camera.height, camera.width), 2.0)
    mask = torch.zeros_like(depth, dtype=torch.bool)
    mask[3, 7] = mask[20, 31] = True
    points = backproject_depth(depth, camera, mask)
    pixels, z = camera.project(points)
    assert torch.allclose(pixels, torch.tensor([[7.5, 3.5], [31.5, 20.5]]), atol=1e-4)
    assert torch.allclose(z, torch.full((2,), 2.0), atol=1e-5)


def test_bilinear_sample_is_exact_at_pixel_centres_and_between_them():
    image = torch.arange(12.0).reshape(3, 4)
    at = bilinear_sample(image, torch.tensor([[0.5, 0.5], [3.5, 2.5], [1.0, 0.5], [1.5, 1.0]]))
    assert torch.allclose(at, torch.tensor([0.0, 11.0, 0.5, 3.0]), atol=1e-5)


def test_bilinear_sample_gradient_matches_finite_differences():
    image = torch.rand(6, 7, 3, dtype=torch.float64)
    pixels = torch.tensor([[2.3, 3.1], [4.7, 1.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: bilinear_sample(image, p), (pixels,), eps=1e-6, atol=1e-5)


def test_warp_with_the_true_depth_reproduces_the_view():
    sphere, latent = Sphere(radius=0.6), torch.tensor([0.0, 0.0, 0.0, 0.6])
    cam_i, cam_j = _cameras([0.0, 0.5])
    depth_i, image_i = _view(sphere, latent, cam_i)
    depth_j, image_j = _view(sphere, latent, cam_j)
    warp = warp_view(depth_i, cam_i, image_i, depth_j, cam_j, image_j, depth_threshold=1e-3)
    # Most of the sphere is seen by both views; the part hidden from view j is dropped by the depth test.
    assert 0.4 * torch.isfinite(depth_i).sum() < warp.mask.sum() < torch.isfinite(depth_i).sum()
    assert photometric_loss(warp) < 0.01
    wrong = warp_view(depth_i * 1.05, cam_i, image_i, depth_j, cam_j, image_j, depth_threshold=1e-1)
    assert photometric_loss(wrong) > 3 * photometric_loss(warp)


def test_points_hidden_in_the_neighbour_fail_the_occlusion_test():
    sphere, latent = Sphere(radius=0.6), torch.tensor([0.0, 0.0, 0.0, 0.6])
    cam_i, cam_j = _cameras([0.0, math.pi])  # opposite sides: view i's surface is the back of view j's
    depth_i, image_i = _view(sphere, latent, cam_i)
    depth_j, image_j = _view(sphere, latent, cam_j)
    warp = warp_view(depth_i, cam_i, image_i, depth_j, cam_j, image_j, depth_threshold=1e-3)
    assert warp.mask.sum() < 0.03 * torch.isfinite(depth_i).sum()


def test_loss_gradient_reaches_the_latent_through_the_rendered_depth():
    sphere = Sphere(radius=0.6)
    truth = torch.tensor([0.0, 0.0, 0.0, 0.6])
    cam_i, cam_j = _cameras([0.0, 0.5])
    _, image_i = _view(sphere, truth, cam_i)
    depth_j, image_j = _view(sphere, truth, cam_j)
    latent = torch.tensor([0.0, 0.0, 0.0, 0.55], requires_grad=True)
    depth_i = render(sphere, latent, cam_i, outputs=("depth",)).depth
    loss = photometric_loss(warp_view(depth_i, cam_i, image_i, depth_j, cam_j, image_j, 1e-2), latent)
    loss.backward()
    assert latent.grad is not None and torch.isfinite(latent.grad).all() and latent.grad[3] != 0


def test_empty_warp_gives_a_zero_loss_that_still_backpropagates():
    latent = torch.ones(3, requires_grad=True)
    cam = _cameras([0.0], size=8)[0]
    empty = torch.full((8, 8), math.inf)
    warp = warp_view(empty, cam, torch.zeros(8, 8, 3), empty, cam, torch.zeros(8, 8, 3))
    loss = photometric_loss(warp, latent)
    loss.backward()
    assert float(loss.detach()) == 0.0 and latent.grad is not None
