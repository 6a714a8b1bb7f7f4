"""Differentiable depth, normal and silhouette images from a sphere trace (paper sections 3.3 and 3.4).

:func:`render` traces without a graph (:func:`dist_core.tracer.sphere_trace`), then evaluates the network
once more, with autograd, at one sample per ray that meets the unit sphere: the converged surface point
of a hit ray, the sample of smallest ``|f|`` of any other ray. That single evaluation carries every
gradient:

* depth, ``gradient="approximate"`` (the paper's, section 3.4): the ray length is
  ``d = d0 + alpha * sum_k (f(p_k) - sg[f(p_k)])`` over the ``grad_samples`` samples of smallest
  ``|f|`` (``sg`` = stop-gradient): only the first term of eq. (4) is kept.
* depth, ``gradient="implicit"``: the exact derivative of the hit point of the implicit surface,
  ``d = d0 - (f(p) - sg[f(p)]) / sg[grad f(p) . v]`` (the implicit function theorem, as in IDR); it costs
  the same single evaluation plus the spatial gradient that the normals need anyway.
* silhouette: ``s = f(p_min) - eps`` at the sample ``p_min`` of smallest ``|f|`` along a ray meeting the
  sphere, with the **signed** value of ``f`` there, as DIST's ``get_min_sdf_sample`` returns it; on the
  others ``s = dist(ray, 0) - 1 + eps``. ``s > 0`` is background; a ray that reaches the surface (or
  steps into the shape) has ``s <= 0``. The sign matters for the silhouette loss
  (:func:`dist_core.losses.silhouette_loss`): with ``|f|`` a rendered pixel outside the mask whose sample
  lies just inside the surface (``f < 0``) would push the surface in the wrong direction. Differentiable in
  the latent and the camera pose;
* normal: the normalised spatial gradient of f at the hit point by autograd (eq. 3 takes central
  differences, six queries; autograd costs one backward), differentiable in the latent when it requires
  gradients (``create_graph``).
* color (paper section 3.3, "Color and Semantics", Fig. 8): a colour field ``color(latent, points) -> (N, 3)``
  evaluated at the hit points, which move with the differentiable depth above (so colour gradients reach
  the latent through the surface as well as through the field), optionally shaded by a
  :class:`DirectionalLight` from the world-frame normal (Lambert plus ambient).

Depth is the camera z (eq. 2): ray length times ``z_per_length``. Points carry gradients to the camera
pose whenever ``camera.R`` / ``camera.t`` do (see :meth:`Camera.with_pose_delta`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .camera import Camera
from .tracer import Trace, TracerOptions, sphere_trace, unit_sphere_interval

__all__ = ["Rendering", "render", "OUTPUTS", "DirectionalLight"]

OUTPUTS = ("depth", "normal", "silhouette")
# Outputs that need more than the SDF: "color" needs render(..., color=field).
EXTRA_OUTPUTS = ("color",)


@dataclass
class DirectionalLight:
    """A light at infinity for the "color" output: ``albedo * (ambient + (1 - ambient) * intensity * max(n . l, 0))``.

    Attributes:
        direction: (3,) world-frame direction from the surface towards the light (normalised on use).
        ambient: share of the albedo seen whatever the normal, in [0, 1].
        intensity: scale of the diffuse term.
    """

    direction: tuple = (0.0, -1.0, -1.0)
    ambient: float = 0.3
    intensity: float = 1.0

    def shade(self, normal: torch.Tensor) -> torch.Tensor:
        """(N,) shading factor for (N, 3) unit world-frame normals."""
        light = torch.nn.functional.normalize(torch.as_tensor(self.direction, dtype=normal.dtype, device=normal.device),
                                              dim=0)
        diffuse = (normal @ light).clamp(min=0.0)
        return self.ambient + (1.0 - self.ambient) * self.intensity * diffuse


@dataclass
class Rendering:
    """Images rendered by :func:`render` for an H x W camera.

    Attributes:
        depth: (H, W) camera-frame z of the surface, +inf on background; differentiable.
        normal: (H, W, 3) unit surface normal (``normal_frame``: "camera" or "world"), 0 on background.
        silhouette: (H, W) signed ``f`` at the sample of smallest ``|f|`` along the ray, minus eps; > 0 is
            background; differentiable.
        valid: (H, W) bool, rays that converged to the surface.
        points: (M, 3) world-frame surface points of the valid pixels, in row-major pixel order, carrying
            gradients to the latent and the camera pose.
        stats: forward_queries, backward_queries, steps, seconds_forward, seconds_backward_graph, ...
        trace: the underlying :class:`~dist_core.tracer.Trace`.
        color: (H, W, 3) shaded colour of the "color" output, 0 on background; differentiable.
    """

    depth: torch.Tensor | None
    normal: torch.Tensor | None
    silhouette: torch.Tensor | None
    valid: torch.Tensor
    points: torch.Tensor
    stats: dict = field(default_factory=dict)
    trace: Trace | None = None
    color: torch.Tensor | None = None


def render(sdf, latent: torch.Tensor, camera: Camera, outputs=OUTPUTS, gradient: str = "approximate",
           normal_frame: str = "camera", color=None, light: DirectionalLight | None = None,
           **tracer_options) -> Rendering:
    """Render ``sdf(latent, .)`` seen by ``camera``.

    Args:
        sdf: decoder or analytic SDF, ``sdf(latent, points (N, 3)) -> (N,)``.
        latent: (D,) code; gradients flow to it when it requires grad.
        camera: :class:`Camera` in the object frame; gradients flow to its ``R``/``t`` when they require grad.
        outputs: any of "depth", "normal", "silhouette".
        gradient: "approximate" (paper section 3.4) or "implicit" (exact hit-point derivative).
        normal_frame: "camera" (x right, y down, z forward) or "world".
        color: colour field ``color(latent, points (N, 3)) -> (N, 3)``, needed by the "color" output.
        light: :class:`DirectionalLight` shading the "color" output; ``None`` renders the unshaded albedo.
        **tracer_options: fields of :class:`~dist_core.tracer.TracerOptions`.
    """
    unknown = sorted(set(outputs) - set(OUTPUTS) - set(EXTRA_OUTPUTS))
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}; choose from {OUTPUTS + EXTRA_OUTPUTS}")
    if "color" in outputs and color is None:
        raise ValueError("the 'color' output needs a colour field: render(..., color=field) with "
                         "field(latent, points (N, 3)) -> (N, 3), e.g. dist_core.color.ColorField")
    if gradient not in ("approximate", "implicit"):
        raise ValueError(f"gradient must be 'approximate' or 'implicit', not {gradient!r}")
    if normal_frame not in ("camera", "world"):
        raise ValueError(f"normal_frame must be 'camera' or 'world', not {normal_frame!r}")
    if not torch.isfinite(latent).all():
        raise ValueError("the latent code contains NaN or inf: the optimisation diverged; lower the learning rate")
    options = TracerOptions.from_kwargs(**tracer_options)
    trace = sphere_trace(sdf, latent, camera, options)
    start = time.perf_counter()
    height, width = camera.height, camera.width
    device, dtype = latent.device, torch.float32

    # Rays again, now differentiable in the pose (the trace used detached copies).
    rays = camera.rays(device=device, dtype=dtype)
    inside = trace.inside_sphere
    hit = trace.hit
    need_normal = "normal" in outputs or gradient == "implicit" or ("color" in outputs and light is not None)
    need_graph = torch.is_grad_enabled()

    idx = torch.nonzero(inside).squeeze(1)
    sample_length = torch.where(hit, trace.length, trace.min_abs_length)[idx]
    origins, directions = rays.origins[idx], rays.directions[idx]
    points = origins + sample_length[:, None] * directions
    if need_normal:
        points = points if points.requires_grad else points.detach().requires_grad_(True)
    grad_f = None
    # The spatial gradient needs a graph even when the caller renders under no_grad.
    with torch.set_grad_enabled(need_graph or need_normal):
        f = sdf(latent, points).reshape(-1)
        if need_normal and idx.numel() > 0:
            grad_f = torch.autograd.grad(f.sum(), points, create_graph=need_graph and latent.requires_grad,
                                         retain_graph=need_graph)[0]
    if not need_graph:
        f = f.detach()
    backward_queries = idx.numel()

    stats = dict(trace.stats)
    depth = normal = silhouette = shaded = None
    hit_in = hit[idx]
    if "depth" in outputs or "color" in outputs:
        length = _differentiable_length(sdf, latent, trace, idx, hit_in, f, grad_f, directions, origins,
                                        options, gradient)
        backward_queries += (options.grad_samples - 1) * int(hit_in.sum()) if gradient == "approximate" else 0
    if "depth" in outputs:
        z = length * rays.z_per_length[idx]
        depth = torch.full((height * width,), math.inf, device=device, dtype=dtype)
        depth = depth.index_put((idx[hit_in],), z[hit_in]).reshape(height, width)
    if "color" in outputs:
        surface = origins[hit_in] + length[hit_in, None] * directions[hit_in]
        rgb = color(latent, surface).reshape(-1, 3).to(dtype)
        if light is not None and rgb.shape[0] > 0:
            rgb = rgb * light.shade(torch.nn.functional.normalize(grad_f[hit_in], dim=-1))[:, None]
        stats["color_queries"] = int(hit_in.sum())
        shaded = torch.zeros(height * width, 3, device=device, dtype=dtype)
        shaded = shaded.index_put((idx[hit_in],), rgb).reshape(height, width, 3)
    if "silhouette" in outputs:
        _, _, _, distance = unit_sphere_interval(rays.origins, rays.directions)
        outside_value = distance - 1.0 + options.eps
        silhouette = outside_value.index_put((idx,), f - options.eps).reshape(height, width)
    if "normal" in outputs:
        n = torch.nn.functional.normalize(grad_f[hit_in], dim=-1) if idx.numel() else grad_f
        if normal_frame == "camera":
            n = n @ camera.R.to(device=device, dtype=dtype).transpose(0, 1)
        normal = torch.zeros(height * width, 3, device=device, dtype=dtype)
        normal = normal.index_put((idx[hit_in],), n).reshape(height, width, 3)
    stats["backward_queries"] = backward_queries
    stats["seconds_forward"] = stats.pop("seconds")
    stats["seconds_graph"] = time.perf_counter() - start
    return Rendering(depth=depth, normal=normal, silhouette=silhouette, valid=hit.reshape(height, width),
                     points=(origins + sample_length[:, None] * directions)[hit_in], stats=stats, trace=trace,
                     color=shaded)


def _differentiable_length(sdf, latent, trace: Trace, idx, hit_in, f, grad_f, directions, origins,
                           options: TracerOptions, gradient: str) -> torch.Tensor:
    """Ray lengths of the rays ``idx`` whose value is the traced length and whose gradient is the chosen
    approximation (see the module docstring)."""
    length0 = torch.where(trace.hit, trace.length, trace.min_abs_length)[idx]
    if gradient == "implicit":
        slope = (grad_f.detach() * directions.detach()).sum(-1)
        # Grazing rays have a vanishing slope; bound it away from 0, keeping its sign, as implicitron does.
        guard = torch.where(slope < 0, -1e-4, 1e-4).to(slope)
        slope = torch.where(slope.abs() < 1e-4, guard, slope)
        return length0 - (f - f.detach()) / slope
    alpha = options.alpha if options.aggressive else 1.0
    length = length0 + alpha * (f - f.detach())
    if options.grad_samples > 1:
        extra = trace.grad_lengths[idx][hit_in, 1:]
        rows = torch.nonzero(hit_in).squeeze(1)
        pts = origins[rows, None, :] + extra[..., None] * directions[rows, None, :]
        g = sdf(latent, pts.reshape(-1, 3)).reshape(extra.shape)
        bonus = alpha * (g - g.detach()).sum(1)
        length = length.index_add(0, rows, bonus)
    return length
