"""Camera conventions (OpenCV pinhole, the README's "Conventions") and their converters."""

import math

import pytest
import torch

from dist_core.camera import Camera, axis_angle_to_matrix, opencv_to_opengl, opengl_to_opencv


def test_look_at_projects_target_to_centre_with_positive_depth():
    cam = Camera.look_at((0.5, -0.4, -1.7), target=(0.1, 0.0, 0.0), fov_degrees=40, width=64, height=48)
    uv, depth = cam.project(torch.tensor([[0.1, 0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(uv, torch.tensor([[32.0, 24.0]], dtype=torch.float64), atol=1e-9)
    assert depth.item() == pytest.approx(math.dist((0.5, -0.4, -1.7), (0.1, 0.0, 0.0)))


def test_image_axes_point_right_and_down():
    cam = Camera.look_at((0.0, 0.0, -2.0), fov_degrees=40, width=64)
    # Default up is -y (world y points down in the image, as in OpenCV); +x appears to the right.
    uv, _ = cam.project(torch.tensor([[0.2, 0.0, 0.0], [0.0, 0.2, 0.0]], dtype=torch.float64))
    assert uv[0, 0] > 32 and abs(uv[0, 1] - 32) < 1e-9
    assert uv[1, 1] > 32 and abs(uv[1, 0] - 32) < 1e-9
    assert torch.det(cam.R).item() == pytest.approx(1.0)


def test_rays_pass_through_their_pixels_and_give_z_depth():
    cam = Camera.look_at((0.3, 0.2, -1.5), fov_degrees=50, width=40, height=30)
    rays = cam.rays(dtype=torch.float64)
    length = 1.3
    points = rays.origins + length * rays.directions
    uv, z = cam.project(points)
    assert torch.allclose(uv, rays.pixels, atol=1e-8)
    assert torch.allclose(z, length * rays.z_per_length, atol=1e-10)
    assert torch.allclose(rays.pixels[0], torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_axis_angle_matches_rodrigues_and_is_smooth_at_zero():
    w = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    R = axis_angle_to_matrix(w)
    assert torch.allclose(R @ R.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    axis = w / w.norm()
    assert torch.allclose(R @ axis, axis, atol=1e-12)
    assert torch.det(R).item() == pytest.approx(1.0)
    w0 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(w0)[0, 1].backward()
    assert torch.isfinite(w0.grad).all() and w0.grad[2].item() == pytest.approx(-1.0)


def test_opengl_round_trip_and_pose_delta():
    cam = Camera.look_at((1.0, 0.5, -1.2), fov_degrees=40, width=32)
    R_gl, t_gl = opencv_to_opengl(cam.R, cam.t)
    R_cv, t_cv = opengl_to_opencv(R_gl, t_gl)
    assert torch.allclose(R_cv, cam.R) and torch.allclose(t_cv, cam.t)
    # An OpenGL camera looks down -z: the target is at negative camera z.
    target_gl = R_gl @ torch.zeros(3, dtype=torch.float64) + t_gl
    assert target_gl[2] < 0
    same = cam.with_pose_delta(torch.zeros(3), torch.zeros(3))
    assert torch.allclose(same.R, cam.R) and torch.allclose(same.t, cam.t)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="Camera needs"):
        Camera(torch.eye(3), torch.eye(3), torch.zeros(4), 10, 10)


def test_cached_ray_pyramid_equals_direct_rays_and_keeps_pose_gradients():
    cam = Camera.look_at((0.3, 0.2, -1.5), fov_degrees=50, width=20, height=12)
    for scale in (1, 2, 4):
        cached = cam.rays(scale=scale)
        direct = cam.rays(pixels=cam.pixel_grid(scale=scale))
        assert cached.directions.shape[0] == math.ceil(20 / scale) * math.ceil(12 / scale)
        assert torch.equal(cached.directions, direct.directions) and torch.equal(cached.z_per_length, direct.z_per_length)
    # Block centres: pixel (i, j) of scale 4 is the centre of the 4 x 4 block at (4i, 4j).
    assert torch.equal(cam.pixel_grid(scale=4)[1], torch.tensor([6.0, 2.0]))
    # The cache holds the camera-frame part only: a moved camera gets its own rays, with gradients.
    t = torch.zeros(3, requires_grad=True)
    moved = cam.with_pose_delta(torch.zeros(3), t)
    moved.rays().origins.sum().backward()
    assert torch.allclose(t.grad, -cam.R.sum(1).float() * 240, atol=1e-4)
