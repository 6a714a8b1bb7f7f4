"""Batched rendering (B codes and/or B cameras in one trace), the chunked backward pass, and no query the
caller does not need."""

import pytest
import torch

from dist_core import Camera, Decoder, Sphere, Torus, render, sphere_trace

torch.set_num_threads(2)
RES = 40


def cameras(count=3, width=RES):
    return [Camera.look_at((0.4 * k - 0.4, -0.5, -1.8), fov_degrees=45, width=width) for k in range(count)]


def sphere_codes(count=3):
    """Sphere parameters [cx, cy, cz, r]: each image its own centre and radius."""
    base = Sphere(0.5).latent
    return torch.stack([base + torch.tensor([0.05 * k, -0.03 * k, 0.0, 0.03 * k]) for k in range(count)])


def image_loss(r):
    """A loss that touches every output: depth on hits, the silhouette everywhere, normals on hits."""
    return r.depth[r.valid].sum() + r.silhouette.sum() + r.normal[r.valid].sum()


def test_batch_equals_separate_renders_on_an_analytic_shape():
    shape, cams, codes = Torus(0.45, 0.15), cameras(), sphere_codes()
    codes = torch.stack([shape.latent + torch.tensor([0.02 * k, 0.0, 0.0, 0.01 * k, 0.0]) for k in range(3)])
    with torch.no_grad():
        batch = render(shape, codes, cams)
        single = [render(shape, codes[k], cams[k]) for k in range(3)]
    assert batch.depth.shape == (3, RES, RES) and batch.normal.shape == (3, RES, RES, 3)
    for k, r in enumerate(single):
        assert r.valid.any()
        assert torch.equal(batch.valid[k], r.valid) and torch.equal(batch.depth[k], r.depth)
        assert torch.equal(batch.silhouette[k], r.silhouette)
        # Normals come from autograd on differently sized batches: equal up to float rounding (SIMD tails).
        torch.testing.assert_close(batch.normal[k], r.normal, rtol=0, atol=1e-6)
        assert batch.stats["forward_queries_per_image"][k] == r.stats["forward_queries"]
        assert batch.stats["valid_pixels_per_image"][k] == int(r.valid.sum())
    assert batch.stats["forward_queries"] == sum(r.stats["forward_queries"] for r in single)
    # One trace: each level marches as long as its slowest image, far fewer steps than three traces.
    steps = [r.stats["steps"] for r in single]
    assert max(steps) <= batch.stats["steps"] < sum(steps)


def test_a_shared_code_or_a_shared_camera_broadcasts():
    shape, cams, codes = Sphere(0.5), cameras(), sphere_codes()
    with torch.no_grad():
        views = render(shape, codes[1], cams, outputs=("depth",))
        fits = render(shape, codes, cams[0], outputs=("depth",))
        one = render(shape, codes[1][None], cams[1], outputs=("depth",))
        for k in range(3):
            assert torch.equal(views.depth[k], render(shape, codes[1], cams[k], outputs=("depth",)).depth)
            assert torch.equal(fits.depth[k], render(shape, codes[k], cams[0], outputs=("depth",)).depth)
    # A (1, D) code is a batch of one: its images keep the batch axis.
    assert one.depth.shape == (1, RES, RES) and views.trace.batch_size == fits.trace.batch_size == 3


def test_gradients_per_code_equal_those_of_separate_renders():
    shape, cams = Sphere(0.5), cameras()
    codes = sphere_codes().requires_grad_(True)
    image_loss(render(shape, codes, cams)).backward()
    for k in range(3):
        code = codes[k].detach().clone().requires_grad_(True)
        image_loss(render(shape, code, cams[k])).backward()
        assert torch.allclose(codes.grad[k], code.grad, rtol=1e-5, atol=1e-5 * code.grad.abs().max())


def test_a_code_shared_by_several_views_receives_the_sum_of_their_gradients():
    shape, cams = Sphere(0.5), cameras()
    code = shape.latent.clone().requires_grad_(True)
    image_loss(render(shape, code, cams)).backward()
    total = torch.zeros_like(code)
    for cam in cams:
        separate = shape.latent.clone().requires_grad_(True)
        image_loss(render(shape, separate, cam)).backward()
        total += separate.grad
    assert torch.allclose(code.grad, total, rtol=1e-5, atol=1e-5 * total.abs().max())


def test_pose_gradients_reach_every_camera_of_a_batch():
    shape = Sphere(0.5)
    deltas = [torch.zeros(3, requires_grad=True) for _ in range(2)]
    cams = [c.with_pose_delta(torch.zeros(3), d) for c, d in zip(cameras(2), deltas)]
    r = render(shape, shape.latent, cams, outputs=("depth", "silhouette"), gradient="implicit")
    (r.depth[r.valid].sum() + r.silhouette.sum()).backward()
    for k, delta in enumerate(deltas):
        alone = torch.zeros(3, requires_grad=True)
        s = render(shape, shape.latent, cameras(2)[k].with_pose_delta(torch.zeros(3), alone),
                   outputs=("depth", "silhouette"), gradient="implicit")
        (s.depth[s.valid].sum() + s.silhouette.sum()).backward()
        assert torch.allclose(delta.grad, alone.grad, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def small_decoder():
    torch.manual_seed(0)
    decoder = Decoder(4, [32, 32, 32], latent_in=[2], norm_layers=[0, 1, 2], weight_norm=True)
    opt = torch.optim.Adam(decoder.parameters(), lr=5e-3)
    for _ in range(150):
        z = torch.rand(256, 4) - 0.5
        radius = 0.45 + 0.2 * z[:, 0]
        x = torch.nn.functional.normalize(torch.randn(256, 3), dim=-1) * (radius + 0.2 * torch.randn(256))[:, None]
        loss = (decoder(z, x) - (x.norm(dim=-1) - radius).clamp(-0.1, 0.1)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in decoder.parameters():
        p.requires_grad_(False)
    return decoder.eval()


def test_decoder_batch_matches_separate_renders(small_decoder):
    cams = cameras(width=24)
    codes = torch.tensor([[0.1, 0.0, 0.0, 0.0], [-0.1, 0.1, 0.0, 0.0], [0.0, -0.1, 0.1, 0.0]], requires_grad=True)
    batch = render(small_decoder, codes, cams, outputs=("depth", "silhouette"))
    (batch.depth[batch.valid].sum() + batch.silhouette.sum()).backward()
    for k in range(3):
        code = codes[k].detach().clone().requires_grad_(True)
        r = render(small_decoder, code, cams[k], outputs=("depth", "silhouette"))
        (r.depth[r.valid].sum() + r.silhouette.sum()).backward()
        # The folded per-code biases round differently from the one-code fold: a few ulps, no pixel lost.
        assert r.valid.sum() > 50 and (batch.valid[k] != r.valid).sum() <= 2
        both = batch.valid[k] & r.valid
        assert (batch.depth[k][both] - r.depth[both]).abs().max() < 1e-4
        assert abs(batch.stats["forward_queries_per_image"][k] - r.stats["forward_queries"]) <= 0.01 * r.stats["forward_queries"]
        assert torch.allclose(codes.grad[k], code.grad, rtol=1e-3, atol=1e-3 * code.grad.abs().max())


def test_depth_under_no_grad_costs_no_query_beyond_the_trace():
    shape, cam = Sphere(0.5), cameras(1)[0]
    with torch.no_grad():
        r = render(shape, shape.latent, cam, outputs=("depth", "silhouette"))
    assert r.stats["backward_queries"] == 0 and r.stats["queries"] == r.stats["forward_queries"]
    # With a gradient to compute, the samples are evaluated in the backward pass only, once per ray.
    code = shape.latent.clone().requires_grad_(True)
    g = render(shape, code, cam, outputs=("depth", "silhouette"))
    assert g.stats["backward_queries"] == int(g.trace.inside_sphere.sum())
    assert torch.equal(g.depth, r.depth) and torch.equal(g.silhouette.detach(), r.silhouette)
    # Nothing that requires a gradient: no samples either.
    assert render(shape, shape.latent, cam, outputs=("depth",)).stats["backward_queries"] == 0


@pytest.mark.parametrize("gradient", ["approximate", "implicit"])
def test_chunked_backward_equals_unchunked(small_decoder, gradient):
    decoder = small_decoder
    for p in decoder.parameters():
        p.requires_grad_(True)
    try:
        cams = cameras(2, width=24)
        delta = torch.zeros(3, requires_grad=True)
        cams[1] = cams[1].with_pose_delta(torch.zeros(3), delta)
        grads = []
        for grad_chunk in (None, 97):
            code = torch.tensor([0.1, -0.1, 0.0, 0.05], requires_grad=True)
            decoder.zero_grad()
            delta.grad = None
            r = render(decoder, code, cams, outputs=("depth", "silhouette"), gradient=gradient, grad_chunk=grad_chunk,
                       grad_samples=2)
            (r.depth[r.valid].sum() + 0.5 * r.silhouette.sum()).backward()
            grads.append([code.grad.clone(), delta.grad.clone()] + [p.grad.clone() for p in decoder.parameters()])
        for whole, chunked in zip(*grads):
            assert torch.allclose(whole, chunked, rtol=1e-5, atol=1e-6 * max(whole.abs().max().item(), 1.0))
        assert any(g.abs().sum() > 0 for g in grads[0][2:])
    finally:
        for p in decoder.parameters():
            p.requires_grad_(False)


def test_bad_batches_are_refused():
    shape = Sphere(0.5)
    with pytest.raises(ValueError, match="share an image size"):
        render(shape, shape.latent, [cameras(1)[0], cameras(1, width=RES + 2)[0]])
    with pytest.raises(ValueError, match="2 codes for 3 cameras"):
        render(shape, sphere_codes(2), cameras(3))
    with pytest.raises(ValueError, match=r"\(D,\) or a batch of codes"):
        sphere_trace(shape, torch.zeros(2, 2, 4), cameras(1)[0])
    with pytest.raises(ValueError, match="grad_chunk must be positive"):
        render(shape, shape.latent, cameras(1)[0], grad_chunk=0)


def test_a_plain_function_sdf_passes_gradients_to_the_tensors_it_closes_over():
    """Only an nn.Module's parameters are known to the chunked backward pass; a plain function is evaluated
    with its graph, so a tensor it uses still gets its gradient (a larger sphere is nearer)."""
    radius = torch.tensor(0.5, requires_grad=True)

    def sphere(latent, points):
        return points.norm(dim=-1) - radius

    r = render(sphere, torch.zeros(1), cameras(1)[0], outputs=("depth", "silhouette"))
    (r.depth[r.valid].sum() + r.silhouette.sum()).backward()
    assert radius.grad < 0
