"""Differentiable depth, normal and silhouette images from a sphere trace (paper sections 3.3 and 3.4).

:func:`render` traces without a graph (:func:`dist_core.tracer.sphere_trace`), then attaches to one sample
per ray that meets the unit sphere the gradient of ``f`` there: the converged surface point of a hit ray
(where ``f`` is taken to be 0, the surface the trace converged to), the sample of smallest ``|f|`` of any
other ray (its signed value as the trace measured it). No sample is evaluated again in the forward pass;
the network runs once more in the backward pass, ``grad_chunk`` samples at a time, so the memory of an
optimisation step follows the chunk, not the image (:func:`dist_core.sdf_query.differentiable_sdf`).
Under ``torch.no_grad()``, or when nothing requires a gradient, depth and silhouette cost no query beyond
the trace. That one sample carries every gradient:

* depth, ``gradient="approximate"`` (the paper's, section 3.4): the ray length is
  ``d = d0 + alpha * sum_k (f(p_k) - sg[f(p_k)])`` over the ``grad_samples`` samples of smallest
  ``|f|`` (``sg`` = stop-gradient): only the first term of eq. (4) is kept.
* depth, ``gradient="implicit"``: the exact derivative of the hit point of the implicit surface,
  ``d = d0 - (f(p) - sg[f(p)]) / sg[grad f(p) . v]`` (the implicit function theorem, as in IDR); it costs
  the spatial gradient at the hit points, which the normals need anyway.
* silhouette: ``s = f(p_min) - eps`` at the sample ``p_min`` of smallest ``|f|`` along a ray meeting the
  sphere, with the **signed** value of ``f`` there, as DIST's ``get_min_sdf_sample`` returns it (``-eps``
  on hit rays); on the others ``s = dist(ray, 0) - 1 + eps``. ``s > 0`` is background; a ray that reaches
  the surface (or steps into the shape) has ``s <= 0``. The sign matters for the silhouette loss
  (:func:`dist_core.losses.silhouette_loss`): with ``|f|`` a rendered pixel outside the mask whose sample
  lies just inside the surface (``f < 0``) would push the surface in the wrong direction. Differentiable in
  the latent and the camera pose;
* normal: the normalised spatial gradient of f at the hit point by autograd (eq. 3 takes central
  differences, six queries; autograd costs one backward), differentiable in the latent when it requires
  gradients (then evaluated at all hit points at once, with its graph).
* color (paper section 3.3, "Color and Semantics", Fig. 8): a colour field ``color(latent, points) -> (N, 3)``
  evaluated at the hit points, which move with the differentiable depth above (so colour gradients reach
  the latent through the surface as well as through the field), optionally shaded by a
  :class:`DirectionalLight` from the world-frame normal (Lambert plus ambient).

Batches (:func:`dist_core.tracer.resolve_batch`): B codes (B, D) and/or B cameras of one size render as
(B, H, W[, 3]) images from one trace; a code shared by B cameras receives the gradients of all of them.

Depth is the camera z (eq. 2): ray length times ``z_per_length``. Points carry gradients to the camera
pose whenever ``camera.R`` / ``camera.t`` do (see :meth:`Camera.with_pose_delta`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .camera import RayBundle
from .sdf_query import call_sdf, differentiable_sdf, sdf_gradient
from .tracer import Trace, TracerOptions, resolve_batch, sphere_trace, unit_sphere_interval

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
    """Images rendered by :func:`render` for H x W cameras: (H, W[, 3]) for one image, (B, H, W[, 3]) for a
    batch of B.

    Attributes:
        depth: camera-frame z of the surface, +inf on background; differentiable.
        normal: (..., 3) unit surface normal (``normal_frame``: "camera" or "world"), 0 on background.
        silhouette: signed ``f`` at the sample of smallest ``|f|`` along the ray, minus eps; > 0 is
            background; differentiable.
        valid: bool, rays that converged to the surface.
        points: (M, 3) world-frame surface points of the valid pixels, image by image in row-major pixel
            order, carrying gradients to the camera pose.
        stats: totals ``forward_queries`` (the trace), ``backward_queries`` (samples evaluated in the
            backward pass), ``normal_queries`` (spatial gradients taken in the forward pass), ``queries``
            (all of them), ``steps``, ``seconds_forward``, ``seconds_graph``, ...; per-image lists
            ``forward_queries_per_image``, ``backward_queries_per_image``, ``valid_pixels_per_image``.
        trace: the underlying :class:`~dist_core.tracer.Trace`.
        color: (..., 3) shaded colour of the "color" output, 0 on background; differentiable.
    """

    depth: torch.Tensor | None
    normal: torch.Tensor | None
    silhouette: torch.Tensor | None
    valid: torch.Tensor
    points: torch.Tensor
    stats: dict = field(default_factory=dict)
    trace: Trace | None = None
    color: torch.Tensor | None = None


def _needs_graph(sdf, latent: torch.Tensor, cameras) -> bool:
    """Whether any input of the SDF samples requires a gradient (else they cost no query at all). A callable
    that is not an ``nn.Module`` may close over such tensors: it is assumed to."""
    if not torch.is_grad_enabled():
        return False
    if latent.requires_grad or any(c.R.requires_grad or c.t.requires_grad for c in cameras):
        return True
    return not isinstance(sdf, nn.Module) or any(p.requires_grad for p in sdf.parameters())


def render(sdf, latent: torch.Tensor, camera, outputs=OUTPUTS, gradient: str = "approximate",
           normal_frame: str = "camera", color=None, light: DirectionalLight | None = None, pixels=None,
           **tracer_options) -> Rendering:
    """Render ``sdf(latent, .)`` seen by ``camera``, or a batch of images in one trace.

    Args:
        sdf: decoder or analytic SDF, ``sdf(latent, points (N, 3)) -> (N,)``.
        latent: (D,) code, or (B, D) codes (one per image); gradients flow to it when it requires grad.
        camera: :class:`Camera` in the object frame, or a list of B cameras of one image size; gradients
            flow to their ``R``/``t`` when they require grad. One camera with (B, D) codes, or one (D,) code
            with B cameras, is shared by every image of the batch.
        outputs: any of "depth", "normal", "silhouette", "color".
        gradient: "approximate" (paper section 3.4) or "implicit" (exact hit-point derivative).
        normal_frame: "camera" (x right, y down, z forward) or "world".
        color: colour field ``color(latent, points (N, 3)) -> (N, 3)``, needed by the "color" output.
        light: :class:`DirectionalLight` shading the "color" output; ``None`` renders the unshaded albedo.
        pixels: (H, W) bool for every image, or (B, H, W): render only these pixels (the ones a loss reads;
            each exactly as in the full image); the others are not traced and render as background with a
            NaN silhouette (unknown). None: every pixel.
        **tracer_options: fields of :class:`~dist_core.tracer.TracerOptions`.
    Returns:
        :class:`Rendering`, images (H, W[, 3]) for one code and one camera, (B, H, W[, 3]) for a batch.
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
    codes, cameras, batched, per_image_codes = resolve_batch(latent, camera)
    trace = sphere_trace(sdf, latent, camera, options, pixels=pixels)
    start = time.perf_counter()
    images, height, width = len(cameras), trace.height, trace.width
    shape = (images, height, width) if batched else (height, width)
    device, dtype = latent.device, torch.float32

    # Rays again, now differentiable in the pose (the trace used detached copies).
    rays = _differentiable_rays(cameras, device, dtype)
    inside, hit = trace.inside_sphere, trace.hit
    need_graph = _needs_graph(sdf, latent, cameras)
    shaded_color = "color" in outputs and light is not None
    need_normal = "normal" in outputs or gradient == "implicit" or shaded_color
    # Normals that must carry gradients are taken with their graph, at all hit points at once.
    normal_graph = need_graph and ("normal" in outputs or shaded_color)

    idx = torch.nonzero(inside).squeeze(1)
    hit_in = hit[idx]
    hit_rows = torch.nonzero(hit_in).squeeze(1)
    code_index = trace.image[idx] if per_image_codes else None
    sample_length = torch.where(hit, trace.length, trace.min_abs_length)[idx]
    origins, directions = rays.origins[idx], rays.directions[idx]
    points = origins + sample_length[:, None] * directions
    known = torch.where(hit_in, torch.zeros_like(sample_length), trace.min_sdf[idx])

    stats = dict(trace.stats)
    backward_rows = []
    f = known
    grad_f = None
    if need_normal:
        rows_points, rows_codes = points[hit_rows], _rows(code_index, hit_rows)
        if normal_graph:
            p = rows_points if rows_points.requires_grad else rows_points.detach().requires_grad_(True)
            f_hit = call_sdf(sdf, codes, p, rows_codes)
            grad_f = torch.autograd.grad(f_hit.sum(), p, create_graph=True)[0] if hit_rows.numel() else p
            # Their f carries the depth and silhouette gradients of the hit rows as well.
            f = f.index_put((hit_rows,), f_hit - f_hit.detach())
        else:
            grad_f = sdf_gradient(sdf, codes, rows_points, options.chunk, rows_codes)
        stats["normal_queries"] = int(hit_rows.numel())
    if need_graph:
        wanted = "silhouette" in outputs or (("depth" in outputs or "color" in outputs) and not normal_graph)
        if "silhouette" in outputs:
            rows = torch.nonzero(~hit_in).squeeze(1) if normal_graph else torch.arange(idx.numel(), device=device)
        else:
            rows = hit_rows
        if wanted and rows.numel():
            f_rows = differentiable_sdf(sdf, codes, points[rows], known[rows], options.grad_chunk,
                                        _rows(code_index, rows))
            f = f.index_put((rows,), f_rows)
            backward_rows.append(rows)

    depth = normal = silhouette = shaded = None
    if "depth" in outputs or "color" in outputs:
        length, extra_rows = _differentiable_length(sdf, codes, trace, idx, hit_rows, code_index, sample_length, f,
                                                    grad_f, directions, origins, options, gradient, need_graph)
        if extra_rows is not None:
            backward_rows.append(extra_rows)
    if "depth" in outputs:
        z = length[hit_rows] * rays.z_per_length[idx[hit_rows]]
        depth = torch.full((images * height * width,), math.inf, device=device, dtype=dtype)
        depth = depth.index_put((idx[hit_rows],), z).reshape(shape)
    if "color" in outputs:
        surface = origins[hit_rows] + length[hit_rows, None] * directions[hit_rows]
        rgb = call_sdf_color(color, codes, surface, _rows(code_index, hit_rows)).to(dtype)
        if shaded_color and rgb.shape[0] > 0:
            rgb = rgb * light.shade(torch.nn.functional.normalize(grad_f, dim=-1))[:, None]
        stats["color_queries"] = int(hit_rows.numel())
        shaded = torch.zeros(images * height * width, 3, device=device, dtype=dtype)
        shaded = shaded.index_put((idx[hit_rows],), rgb).reshape(*shape, 3)
    if "silhouette" in outputs:
        _, _, _, distance = unit_sphere_interval(rays.origins, rays.directions)
        outside_value = distance - 1.0 + options.eps
        silhouette = outside_value.index_put((idx,), f - options.eps)
        if trace.traced is not None:
            silhouette = silhouette.masked_fill(~trace.traced, math.nan)
        silhouette = silhouette.reshape(shape)
    if "normal" in outputs:
        n = torch.nn.functional.normalize(grad_f, dim=-1) if hit_rows.numel() else grad_f.reshape(0, 3)
        if normal_frame == "camera":
            n = _to_camera_frame(n, cameras, trace.image[idx[hit_rows]], device, dtype)
        normal = torch.zeros(images * height * width, 3, device=device, dtype=dtype)
        normal = normal.index_put((idx[hit_rows],), n).reshape(*shape, 3)

    per_image = torch.zeros(images, dtype=torch.int64, device=device)
    for rows in backward_rows:
        per_image.index_add_(0, trace.image[idx[rows]], torch.ones_like(rows))
    stats["backward_queries"] = int(per_image.sum())
    stats["backward_queries_per_image"] = per_image.tolist()
    stats["valid_pixels_per_image"] = hit.reshape(images, -1).sum(1).tolist()
    stats["queries"] = (stats["forward_queries"] + stats["backward_queries"] + stats.get("normal_queries", 0)
                        + stats.get("color_queries", 0))
    stats["seconds_forward"] = stats.pop("seconds")
    stats["seconds_graph"] = time.perf_counter() - start
    return Rendering(depth=depth, normal=normal, silhouette=silhouette, valid=hit.reshape(shape),
                     points=points[hit_rows], stats=stats, trace=trace, color=shaded)


def call_sdf_color(color, latent: torch.Tensor, points: torch.Tensor, code_index: torch.Tensor | None) -> torch.Tensor:
    """The colour field at ``points`` (N, 3) -> (N, 3), with the batch's per-image codes."""
    if code_index is None:
        return color(latent, points).reshape(-1, 3)
    if getattr(color, "takes_code_index", False):
        return color(latent, points, code_index=code_index).reshape(-1, 3)
    return color(latent[code_index], points).reshape(-1, 3)


def _rows(code_index: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    return None if code_index is None else code_index[rows]


def _differentiable_rays(cameras, device, dtype) -> RayBundle:
    bundles = [c.rays(device=device, dtype=dtype) for c in cameras]
    if len(bundles) == 1:
        return bundles[0]
    return RayBundle(*(torch.cat([getattr(b, name) for b in bundles])
                       for name in ("origins", "directions", "z_per_length", "pixels")))


def _to_camera_frame(n: torch.Tensor, cameras, image: torch.Tensor, device, dtype) -> torch.Tensor:
    """World-frame vectors (M, 3) of the images ``image`` (M,) in their cameras' frames."""
    if len(cameras) == 1:
        return n @ cameras[0].R.to(device=device, dtype=dtype).transpose(0, 1)
    R = torch.stack([c.R.to(device=device, dtype=dtype) for c in cameras])
    return torch.einsum("mij,mj->mi", R[image], n)


def _differentiable_length(sdf, latent, trace: Trace, idx, hit_rows, code_index, length0, f, grad_f, directions,
                           origins, options: TracerOptions, gradient: str, need_graph: bool):
    """Ray lengths of the rays ``idx`` whose value is the traced length and whose gradient is the chosen
    approximation (see the module docstring); also the rows whose extra samples (``grad_samples`` > 1)
    are evaluated in the backward pass (``None`` when there are none)."""
    if gradient == "implicit":
        slope = torch.zeros_like(length0)
        if hit_rows.numel():
            slope = slope.index_put((hit_rows,), (grad_f.detach() * directions[hit_rows].detach()).sum(-1))
        # Grazing rays have a vanishing slope; bound it away from 0, keeping its sign, as implicitron does.
        guard = torch.where(slope < 0, -1e-4, 1e-4).to(slope)
        slope = torch.where(slope.abs() < 1e-4, guard, slope)
        return length0 - (f - f.detach()) / slope, None
    alpha = options.alpha if options.aggressive else 1.0
    length = length0 + alpha * (f - f.detach())
    if options.grad_samples > 1 and need_graph and hit_rows.numel():
        extra = trace.grad_lengths[idx[hit_rows], 1:]
        values = trace.grad_sdf[idx[hit_rows], 1:]
        # Slots a ray that converged in fewer samples never filled carry no term.
        filled = torch.nonzero(torch.isfinite(values).reshape(-1)).squeeze(1)
        owner = hit_rows.repeat_interleave(extra.shape[1])[filled]
        pts = (origins[owner] + extra.reshape(-1)[filled, None] * directions[owner])
        g = differentiable_sdf(sdf, latent, pts, values.reshape(-1)[filled], options.grad_chunk, _rows(code_index, owner))
        length = length.index_add(0, owner, alpha * (g - g.detach()))
        return length, owner
    return length, None
