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
