"""The "color" output of the renderer against closed-form shading, its gradients against finite
differences, and the implicit colour field trained on procedural colours."""

import math

import numpy as np
import pytest
import torch

from dist_core import Camera, Sphere, render
from dist_core.color import (ColorField, ColorSamples, load_color_field, save_color_field, surface_color_samples,
                             train_color_field)
from dist_core.data import deepsdf, synthetic
from dist_core.render import DirectionalLight

torch.set_num_threads(2)
CAMERA = Camera.look_at((0.3, -0.5, -1.8), fov_degrees=45, width=64)


def position_color(latent, points):
    """A colour field with an exact answer: the point itself mapped to [0, 1]."""
    return (points + 1.0) / 2.0


def closed_form_hits(radius, camera):
    """World-frame first intersection of every ray with a centred sphere (NaN where it misses)."""
    rays = camera.rays(dtype=torch.float64)
    o, v = rays.origins, rays.directions
    b = (o * v).sum(-1)
    disc = b * b - ((o * o).sum(-1) - radius**2)
    length = torch.where(disc > 0, -b - torch.sqrt(disc.clamp(min=0)), torch.full_like(b, math.nan))
    return (o + length[:, None] * v).reshape(camera.height, camera.width, 3)


def test_shaded_colour_of_a_sphere_matches_lambert_in_closed_form():
    sphere = Sphere(0.5)
    albedo = torch.tensor([0.8, 0.4, 0.2])
    light = DirectionalLight(direction=(0.2, -1.0, -0.7), ambient=0.25)
    out = render(sphere, sphere.latent, CAMERA, outputs=("color",), light=light,
                 color=lambda latent, p: albedo.expand(p.shape[0], 3))
    hits = closed_form_hits(0.5, CAMERA)
    missed = torch.isnan(hits[..., 0])
    assert out.valid.sum() > 500 and not (out.valid & missed).any()
    l = torch.tensor(light.direction, dtype=torch.float64)
    l = l / l.norm()
    normal = hits[out.valid] / 0.5
    expected = albedo.double() * (0.25 + 0.75 * (normal @ l).clamp(min=0))[:, None]
    assert torch.allclose(out.color[out.valid].double(), expected, atol=2e-3)
    assert (out.color[~out.valid] == 0).all() and out.stats["color_queries"] == int(out.valid.sum())


def test_unshaded_colour_is_the_field_at_the_hit_point():
    sphere = Sphere(0.5)
    out = render(sphere, sphere.latent, CAMERA, outputs=("color", "depth"), color=position_color)
    expected = (closed_form_hits(0.5, CAMERA)[out.valid] + 1.0) / 2.0
    assert torch.allclose(out.color[out.valid].double(), expected, atol=1e-3)
    assert torch.isfinite(out.depth[out.valid]).all()


def test_colour_gradient_through_the_surface_matches_finite_differences():
    sphere = Sphere(0.5)
    base = sphere.latent.clone()
    h = 5e-3
    masks = []
    for r in (0.5 - h, 0.5, 0.5 + h):
        latent = base.clone()
        latent[3] = r
        with torch.no_grad():
            masks.append(render(sphere, latent, CAMERA, outputs=("depth",)).valid)
    pixels = masks[0] & masks[1] & masks[2]

    def loss(latent):
        out = render(sphere, latent, CAMERA, outputs=("color",), color=position_color, gradient="implicit")
        return out.color[pixels].sum()

    latent = base.clone().requires_grad_(True)
    loss(latent).backward()
    analytic = latent.grad[3].item()
    with torch.no_grad():
        plus, minus = base.clone(), base.clone()
        plus[3] += h
        minus[3] -= h
        numeric = (loss(plus) - loss(minus)).item() / (2 * h)
    assert abs(numeric) > 1.0
    assert analytic == pytest.approx(numeric, rel=0.03)


def test_colour_output_without_a_field_names_the_fix():
    sphere = Sphere(0.5)
    with pytest.raises(ValueError, match="color=field"):
        render(sphere, sphere.latent, CAMERA, outputs=("color",))


def test_colour_field_learns_two_shapes_and_round_trips(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    points = [rng.uniform(-0.6, 0.6, size=(3000, 3)).astype(np.float32) for _ in range(2)]
    samples = [ColorSamples(points[0], ((points[0] + 1) / 2).astype(np.float32)),
               ColorSamples(points[1], np.tile(np.float32([0.9, 0.1, 0.2]), (3000, 1)))]
    field = ColorField(latent_size=2, hidden=32, layers=2, octaves=2)
    latents = torch.eye(2)
    training = train_color_field(field, latents, samples, iterations=400, lr=3e-3, batch=1024)
    assert training.final_rmse < 0.03 and training.losses[-1] < training.losses[0] / 20
    with torch.no_grad():
        red = field(latents[1], torch.zeros(5, 3))
    assert torch.allclose(red, torch.tensor([0.9, 0.1, 0.2]).expand(5, 3), atol=0.05)

    save_color_field(tmp_path / "field", field, {"shapes": ["a", "b"]})
    loaded, specs = load_color_field(tmp_path / "field")
    probe = torch.rand(10, 3)
    assert specs["shapes"] == ["a", "b"]
    assert torch.equal(loaded(latents[0], probe), field(latents[0], probe))
    (tmp_path / "field" / "color_field.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="color_field.pth"):
        load_color_field(tmp_path / "field")


def test_surface_colour_samples_carry_the_procedural_albedo_in_the_normalised_frame():
    shape = synthetic.generate("table", 0, "train", 0)
    normalization = deepsdf.normalization_parameters(shape.mesh.vertices, shape.mesh.faces)
    samples = surface_color_samples(shape, normalization, 500, seed=1, jitter=0.0)
    assert samples.points.shape == (500, 3) and samples.colors.shape == (500, 3)
    assert np.linalg.norm(samples.points, axis=1).max() < 1.0
    model = normalization.invert(samples.points)
    assert np.allclose(shape.albedo(model), samples.colors, atol=1e-5)
    assert samples.colors.min() >= 0.02 and samples.colors.max() <= 0.98 and samples.colors.std() > 0.02
