"""Rendering a subset of pixels: each asked-for pixel is exactly what the full image has there (value and
gradient), the others are not traced, and the fits that read only their given pixels are unchanged."""

import dataclasses
import math

import pytest
import torch

from dist_core import Camera, Sphere, Torus, Union, render, sphere_trace
from dist_core.fit import FitOptions, depth_target, fit_latents_to_depth

torch.set_num_threads(2)
RES = 64


def camera(eye=(0.3, -0.5, -1.8), width=RES):
    return Camera.look_at(eye, fov_degrees=45, width=width)


def scattered_pixels(seed=0, count=150, width=RES):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.zeros(width * width, dtype=torch.bool)
    pixels[torch.randperm(width * width, generator=generator)[:count]] = True
    return pixels.reshape(width, width)


@pytest.mark.parametrize("options", [{}, {"coarse_to_fine": False}, {"cone_split": False, "refine": False},
                                     {"dynamic": False}])
def test_asked_pixels_equal_the_full_image_and_cost_less(options):
    shape = Union(Sphere(0.35, (0.2, 0.0, 0.0)), Torus(0.45, 0.12))
    cam = camera()
    pixels = scattered_pixels()
    full = render(shape, shape.latent, cam, outputs=("depth", "normal", "silhouette"), **options)
    part = render(shape, shape.latent, cam, outputs=("depth", "normal", "silhouette"), pixels=pixels, **options)
    assert full.valid[pixels].any() and (~full.valid[pixels] & full.trace.inside_sphere.reshape(RES, RES)[pixels]).any()
    assert torch.equal(part.valid[pixels], full.valid[pixels])
    assert torch.equal(part.depth[pixels], full.depth[pixels])
    assert torch.equal(part.normal[pixels], full.normal[pixels])
    assert torch.equal(part.silhouette[pixels], full.silhouette[pixels])
    # The others are not traced: no hit, unknown silhouette.
    assert not part.valid[~pixels].any() and torch.isnan(part.silhouette[~pixels]).all()
    assert part.stats["forward_queries"] < 0.5 * full.stats["forward_queries"]


def test_gradients_of_a_loss_on_the_asked_pixels_equal_the_full_images():
    shape = Sphere(0.4, (0.05, -0.02, 0.1))
    cam = camera()
    pixels = scattered_pixels(seed=1, count=300)
    grads = []
    for asked in (None, pixels):
        latent = shape.latent.clone().requires_grad_(True)
        r = render(shape, latent, cam, outputs=("depth", "silhouette"), pixels=asked)
        hit = r.valid & pixels
        loss = r.depth[hit].sum() + torch.relu(r.silhouette[pixels & ~r.valid]).sum()
        loss.backward()
        grads.append(latent.grad)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-7)


def test_a_batch_takes_one_pixel_set_per_image_or_one_for_all():
    shape = Sphere(0.45)
    cams = [camera(), camera(eye=(-1.0, -0.4, -1.5))]
    pixels = torch.stack([scattered_pixels(seed=2), torch.ones(RES, RES, dtype=torch.bool)])
    batch = render(shape, shape.latent, cams, outputs=("depth",), pixels=pixels)
    for b, cam in enumerate(cams):
        alone = render(shape, shape.latent, cam, outputs=("depth",))
        assert torch.equal(batch.depth[b][pixels[b]], alone.depth[pixels[b]])
    shared = sphere_trace(shape, shape.latent, cams, pixels=pixels[0])
    assert shared.traced.reshape(2, RES, RES)[1].equal(pixels[0])
    with pytest.raises(ValueError, match="pixels must be"):
        render(shape, shape.latent, cams, pixels=torch.ones(3, RES, RES, dtype=torch.bool))


def test_fits_that_read_only_their_given_pixels_follow_the_same_path():
    """Depth-only and given-pixel fits trace only their pixels; a fit with a mask (outside term) traces all."""
    truth = Sphere(0.42, (0.03, 0.0, 0.0))
    cam = camera(width=48)
    with torch.no_grad():
        r = render(truth, truth.latent, cam, outputs=("depth", "normal", "silhouette"))
    depth = torch.where(r.valid, r.depth, torch.zeros_like(r.depth)).numpy()
    mask = r.valid.numpy()
    sparse = mask & scattered_pixels(seed=3, count=900, width=48).numpy()
    targets = [depth_target(cam, depth, sparse, observed_silhouette=False),
               depth_target(cam, depth, sparse, observed_silhouette=True),
               depth_target(cam, depth, sparse, mask=mask)]
    assert targets[0].read_pixels().sum() == sparse.sum() and targets[2].read_pixels() is None
    start = Sphere(0.3).latent
    fits = {}
    for only in (False, True):
        options = dataclasses.replace(FitOptions(iterations=15, lr=1e-2), batch_render=True, loss_pixels_only=only)
        fits[only] = fit_latents_to_depth(truth, targets, start, options)
    for a, b in zip(fits[False], fits[True]):
        assert not a.failed and math.isclose(a.losses[-1], b.losses[-1], rel_tol=1e-5)
        torch.testing.assert_close(b.latent, a.latent, rtol=1e-5, atol=1e-6)
    assert fits[True][0].forward_queries[0] < 0.5 * fits[False][0].forward_queries[0]
    assert fits[True][2].forward_queries[0] == fits[False][2].forward_queries[0]
