"""Depth L1 and silhouette losses (dist_core.losses): exact values on small images, gradients on a sphere."""

import math

import pytest
import torch

from dist_core.camera import Camera
from dist_core.losses import depth_l1, normal_loss, silhouette_loss
from dist_core.render import render
from dist_core.sdf import Sphere, Union


@pytest.fixture(autouse=True)
def single_thread():
    """One torch thread, as the Table 2 jobs run: these tiny images only pay thread start-up for a second."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_depth_l1_averages_only_pixels_both_observed_and_rendered():
    depth = torch.tensor([[1.0, 2.0], [math.inf, 4.0]])
    target = torch.tensor([[1.5, 0.0], [3.0, 3.0]])
    observed = torch.tensor([[True, False], [True, True]])
    rendered = torch.isfinite(depth)
    # Overlap: (0, 0) |1 - 1.5| and (1, 1) |4 - 3|; (0, 1) is not observed, (1, 0) not rendered.
    assert torch.isclose(depth_l1(depth, target, observed, rendered), torch.tensor(0.75))
    assert depth_l1(depth, target, torch.zeros_like(observed), rendered) == 0.0


def test_silhouette_terms_follow_dists_definition():
    s = torch.tensor([[0.2, -0.1], [0.05, -0.3]])
    rendered = s < 0
    inside = torch.tensor([[True, True], [True, False]])
    loss = silhouette_loss(s, rendered, inside, ~inside)
    # Missed object pixels: (0, 0) 0.2 and (1, 0) 0.05; rendered background: (1, 1) max(0.3, 0).
    assert torch.isclose(loss.inside, torch.tensor(0.125))
    assert torch.isclose(loss.outside, torch.tensor(0.3))
    unknown = silhouette_loss(s, rendered, inside, None)
    assert unknown.outside == 0.0 and torch.isclose(unknown.inside, torch.tensor(0.125))
    assert silhouette_loss(s, rendered, torch.zeros_like(inside), None).inside == 0.0


def test_silhouette_loss_grows_a_sphere_that_misses_its_mask():
    camera = Camera.look_at((0.0, 0.0, -2.0), fov_degrees=40.0, width=24)
    small = Sphere(0.3)
    latent = small.latent.clone().requires_grad_(True)
    with torch.no_grad():
        mask = render(Sphere(0.5), Sphere(0.5).latent, camera, outputs=("depth",)).valid
    r = render(small, latent, camera, outputs=("silhouette",))
    loss = silhouette_loss(r.silhouette, r.valid, mask, ~mask)
    loss.inside.backward()
    assert loss.inside > 0 and loss.outside == 0
    # Only a larger radius brings the missed mask pixels onto the sphere.
    assert latent.grad[3] < 0


def test_outside_term_removes_a_blob_that_the_mask_excludes():
    # A body sphere and a small blob beside it; the mask shows the body only. DIST's outside term,
    # max(eps - f, 0) with the signed f of each rendered pixel outside the mask, must shrink the blob
    # until it no longer renders, on every pixel whatever side of the surface its converged sample lies.
    camera = Camera.look_at((0.0, 0.0, -2.0), fov_degrees=40.0, width=32)
    shape = Union(Sphere(0.35), Sphere(0.15, center=(0.45, 0.0, 0.0)))
    with torch.no_grad():
        mask = render(Sphere(0.35), Sphere(0.35).latent, camera, outputs=("depth",)).valid
        start = render(shape, shape.latent, camera, outputs=("depth",)).valid
    assert (start & ~mask).sum() > 20
    blob_radius = shape.latent[7:8].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([blob_radius], lr=0.01)
    body = shape.latent[:7]
    outside_pixels = []
    for _ in range(40):
        r = render(shape, torch.cat([body, blob_radius]), camera, outputs=("silhouette",))
        outside_pixels.append(int((r.valid & ~mask).sum()))
        loss = silhouette_loss(r.silhouette, r.valid, mask, ~mask)
        if outside_pixels[-1] == 0:
            break
        optimizer.zero_grad()
        (loss.inside + loss.outside).backward()
        # Every rendered pixel outside the mask asks for a smaller blob.
        assert blob_radius.grad.item() > 0
        optimizer.step()
    assert outside_pixels[-1] == 0, outside_pixels
    assert float(blob_radius.detach()) < 0.15


def test_rendered_pixels_carry_the_signed_sdf_of_their_sample():
    # Converged samples lie within eps of the surface on both sides: the silhouette keeps the sign.
    camera = Camera.look_at((0.0, 0.0, -2.0), fov_degrees=40.0, width=48)
    shape = Sphere(0.5)
    r = render(shape, shape.latent, camera, outputs=("silhouette",), eps=5e-5)
    f = r.silhouette[r.valid] + 5e-5
    assert (f.abs() < 5e-5 + 1e-7).all()
    assert (r.silhouette[~r.valid] > 0).all()


def test_normal_loss_is_minus_the_mean_cosine_over_observed_rendered_pixels():
    normal = torch.tensor([[[0.0, 0.0, -2.0], [1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])
    target = torch.tensor([[[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    observed = torch.tensor([[True, True], [True, True]])
    rendered = torch.tensor([[True, True], [False, False]])
    # Overlap: (0, 0) cosine 1 (lengths do not matter), (0, 1) cosine -1.
    assert torch.isclose(normal_loss(normal, target, observed, rendered), torch.tensor(0.0))
    assert torch.isclose(normal_loss(normal, target, torch.tensor([[True, False], [False, False]]), rendered),
                         torch.tensor(-1.0))
    assert normal_loss(normal, target, observed, torch.zeros_like(rendered)) == 0.0
