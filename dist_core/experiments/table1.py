"""The renderer's efficiency ablation (paper Table 1): queries, seconds per optimisation step, memory.

Each row of :data:`ABLATION_ROWS` turns on one more of the tracer's switches, as the paper's Table 1 does,
and ends with our additions. A row is measured by one full optimisation step of the latent code through
:func:`dist_core.render` (forward trace, backward pass that evaluates the differentiable samples again in
chunks, Adam update) against a depth and silhouette target; the forward queries of that step are the row's
query count. Peak memory is the CUDA allocator's peak on a GPU and the process's peak resident set on a
CPU, measured for the chunked step and, once more, for the same step with every sample at once.

The paper's first two rows (naive tracing, whose backward unrolls every step, and sequential tracing
with the practical gradient, 1.6 h per step) are not run: the first does not fit in memory and the
second is the parallel row's queries issued one ray at a time.
"""

from __future__ import annotations

import math
import time

import torch

from ..camera import Camera
from ..decoder import Decoder
from ..losses import depth_l1, silhouette_loss
from ..render import render
from ..sdf import Box, Sphere, Union

__all__ = ["ABLATION_ROWS", "comparison_scene", "decoder_scene_camera", "peak_memory_reset", "peak_memory_mb", "procedural_chair", "fit_decoder_to_sdf",
           "geometric_init_", "inference_throughput", "optimisation_step", "efficiency_ablation"]

PAPER = dict(refine=False, cone_split=False)
ABLATION_ROWS = [
    ("+ parallel", dict(PAPER, dynamic=False, aggressive=False, coarse_to_fine=False), 50),
    ("+ dynamic", dict(PAPER, aggressive=False, coarse_to_fine=False), 50),
    ("+ aggressive", dict(PAPER, coarse_to_fine=False), 50),
    ("+ coarse-to-fine", dict(PAPER), 50),
    ("+ coarse-to-fine", dict(PAPER), 100),
    ("+ refine, cone split (ours)", dict(), 50),
    ("+ refine, cone split (ours)", dict(), 100),
]


def comparison_scene(resolution: int, fov_degrees: float = 40.0, distance: float = 1.8):
    """Issue 2's fixed scene: a sphere of radius 0.6 at the origin seen from (0, 0, -distance) with a
    40 degree field of view; DIST's public tracer makes 2,160,264 forward queries on it at 512^2."""
    sphere = Sphere(0.6)
    return sphere, sphere.latent, Camera.look_at((0.0, 0.0, -distance), fov_degrees=fov_degrees, width=resolution)


def decoder_scene_camera(resolution: int, fov_degrees: float = 40.0, distance: float = 1.8) -> Camera:
    """A three-quarter view from above (azimuth 40, elevation 25), the kind of view the 3D-R2N2 renderings use."""
    return Camera.orbit(40.0, 25.0, distance, fov_degrees, resolution)


def peak_memory_reset(device: torch.device) -> None:
    """Start a new peak-memory window (CUDA allocator, or the process's resident set on Linux)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory since :func:`peak_memory_reset` in MiB (NaN where the platform does not tell)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def procedural_chair() -> Union:
    """A chair of boxes (seat, back, four legs) inside the unit sphere: thin parts and concave corners."""
    legs = [Box((0.04, 0.22, 0.04), center=(x, 0.26, z)) for x in (-0.26, 0.26) for z in (-0.24, 0.24)]
    return Union(Box((0.32, 0.04, 0.30), center=(0.0, 0.0, 0.0)),
                 Box((0.32, 0.30, 0.04), center=(0.0, -0.34, 0.28)), *legs)


def _training_points(sdf, n: int, generator: torch.Generator) -> torch.Tensor:
    """Half uniform in the unit cube, half projected near the surface with DeepSDF-like noise."""
    uniform = torch.rand(n // 2, 3, generator=generator) * 2 - 1
    x = (torch.rand(n - n // 2, 3, generator=generator) * 2 - 1).requires_grad_(True)
    f = sdf(sdf.latent, x)
    (grad,) = torch.autograd.grad(f.sum(), x)
    surface = (x - f[:, None] * grad).detach()
    noise = torch.randn(surface.shape, generator=generator) * torch.where(
        torch.rand(surface.shape[0], 1, generator=generator) < 0.5, 0.0025, 0.01)
    return torch.cat([uniform, surface + noise])


def geometric_init_(decoder: Decoder, radius: float = 0.5) -> Decoder:
    """Geometric initialisation (Atzmon and Lipman, SAL, CVPR 2020): ``decoder`` starts as roughly the SDF of
    a sphere of ``radius`` for every code, so a short fit carves the target's inside instead of settling on
    an unsigned, all-positive field (what DeepSDF's default initialisation gives on thin shapes after a few
    hundred steps). Hidden layers N(0, 2 / fan_out), latent inputs and skip inputs zero, last layer mean
    sqrt(pi / fan_in) with bias -radius. Works on weight-normalised and plain layers; returns ``decoder``."""
    last = decoder.num_layers - 2
    with torch.no_grad():
        for layer in range(last + 1):
            lin = getattr(decoder, f"lin{layer}")
            out_dim, in_dim = lin.weight.shape
            if layer == last:
                weight = torch.randn(out_dim, in_dim) * 1e-4 + math.sqrt(math.pi / in_dim)
                bias = torch.full((out_dim,), -float(radius))
            else:
                weight = torch.randn(out_dim, in_dim) * math.sqrt(2.0 / out_dim)
                bias = torch.zeros(out_dim)
                if layer == 0:
                    weight[:, : decoder.latent_size] = 0.0  # only xyz drives the first layer
                elif layer in decoder.latent_in:
                    weight[:, in_dim - decoder.latent_size - 3 :] = 0.0  # the re-injected [latent, xyz]
            weight = weight.to(lin.bias)
            if hasattr(lin, "weight_v"):
                lin.weight_v.copy_(weight)
                lin.weight_g.copy_(weight.norm(dim=1, keepdim=True))
            else:
                lin.weight.copy_(weight)
            lin.bias.copy_(bias.to(lin.bias))
    return decoder


def fit_decoder_to_sdf(decoder: Decoder, sdf, latent: torch.Tensor, iterations: int, batch: int = 4096,
                       lr: float = 5e-4, clamp: float = 0.1, seed: int = 0, progress=None) -> list[float]:
    """Fit ``decoder(latent, .)`` to the analytic ``sdf`` with DeepSDF's clamped L1 loss; returns losses."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(decoder.parameters(), lr=lr)
    decoder.train()
    losses = []
    steps = range(iterations) if progress is None else progress(range(iterations))
    for _ in steps:
        points = _training_points(sdf, batch, generator).to(latent.device)
        target = sdf(sdf.latent.to(latent.device), points).clamp(-clamp, clamp)
        loss = (decoder(latent, points).clamp(-clamp, clamp) - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if hasattr(steps, "set_postfix"):
            steps.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    decoder.eval()
    return losses


def inference_throughput(sdf, latent: torch.Tensor, n: int, chunk: int) -> float:
    """Queries per second of plain batched inference of ``sdf`` on ``n`` points in the unit cube."""
    points = torch.rand(n, 3, device=latent.device) * 2 - 1
    with torch.no_grad():
        sdf(latent, points[:chunk])  # warm-up (allocator, kernels)
        _synchronise(latent.device)
        start = time.perf_counter()
        for s in range(0, n, chunk):
            sdf(latent, points[s : s + chunk])
        _synchronise(latent.device)
    return n / (time.perf_counter() - start)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def optimisation_step(sdf, latent: torch.Tensor, camera: Camera, target_depth: torch.Tensor,
                      target_mask: torch.Tensor, **options) -> dict:
    """One latent optimisation step through the renderer (DIST's single-view loss: L1 depth on pixels valid
    in both images, weight 10, plus the silhouette loss and the l2 code regulariser); returns the rendering's
    stats with ``seconds_step`` and the loss."""
    latent = latent.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=1e-3)
    _synchronise(latent.device)
    start = time.perf_counter()
    rendering = render(sdf, latent, camera, outputs=("depth", "silhouette"), **options)
    depth_loss = depth_l1(rendering.depth, target_depth, target_mask, rendering.valid)
    mask = silhouette_loss(rendering.silhouette, rendering.valid, target_mask, ~target_mask)
    loss = 10 * depth_loss + mask.inside + mask.outside + (latent**2).mean()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    _synchronise(latent.device)
    stats = dict(rendering.stats)
    stats["seconds_step"] = time.perf_counter() - start
    stats["loss"] = loss.item()
    stats["valid_pixels"] = int(rendering.valid.sum())
    return stats


def efficiency_ablation(sdf, latent: torch.Tensor, camera: Camera, scene: str, rows=ABLATION_ROWS,
                        perturbation: float = 0.05, seed: int = 0, progress=None, unchunked: bool = True,
                        grad_chunk: int | None = 16384) -> list[dict]:
    """Measure every row of ``rows`` on one scene; returns one dict per row (the columns of table1.csv).

    The step starts from ``latent`` plus ``perturbation`` x N(0, 1) per dimension, against the rendering of
    ``latent``; a scene whose target or start renders no surface is refused (its figures would time an
    empty image). Each row's step runs with the backward pass in chunks of ``grad_chunk`` samples and, with
    ``unchunked``, once more with all samples at once (``peak_memory_unchunked_mb``,
    ``seconds_per_step_unchunked``: what the chunking saves)."""
    device = latent.device
    with torch.no_grad():
        target = render(sdf, latent, camera, outputs=("depth",))
    if not target.valid.any():
        raise ValueError(f"{scene}: the target renders no surface pixel; check the SDF and the camera")
    generator = torch.Generator().manual_seed(seed)
    start_latent = latent + perturbation * torch.randn(latent.shape, generator=generator).to(latent)
    pixels = camera.width * camera.height
    results = []
    iterator = rows if progress is None else progress(rows)
    for method, options, max_steps in iterator:
        peak_memory_reset(device)
        stats = optimisation_step(sdf, start_latent, camera, target.depth, target.valid,
                                  max_steps=max_steps, grad_chunk=grad_chunk, **options)
        peak = peak_memory_mb(device)
        if stats["valid_pixels"] == 0:
            raise ValueError(f"{scene}: the perturbed start code renders no surface pixel (of "
                             f"{int(target.valid.sum())} in the target); use a smaller perturbation than {perturbation}")
        whole = {"seconds_step": math.nan}
        peak_whole = math.nan
        if unchunked:
            peak_memory_reset(device)
            whole = optimisation_step(sdf, start_latent, camera, target.depth, target.valid,
                                      max_steps=max_steps, grad_chunk=None, **options)
            peak_whole = peak_memory_mb(device)
        results.append({
            "scene": scene,
            "method": method,
            "size": f"{camera.width}x{camera.height}",
            "max_steps": max_steps,
            "forward_queries": stats["forward_queries"],
            "queries_per_pixel": stats["forward_queries"] / pixels,
            "backward_queries": stats["backward_queries"],
            "marching_steps": stats["steps"],
            "seconds_forward": stats["seconds_forward"],
            "seconds_per_step": stats["seconds_step"],
            "tracer_queries_per_second": stats["forward_queries"] / max(stats["seconds_forward"], 1e-9),
            "peak_memory_mb": peak,
            "grad_chunk": grad_chunk,
            "seconds_per_step_unchunked": whole["seconds_step"],
            "peak_memory_unchunked_mb": peak_whole,
            "valid_pixels": stats["valid_pixels"],
            "device": str(device),
        })
    return results
