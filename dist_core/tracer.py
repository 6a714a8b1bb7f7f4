"""Sphere tracing of an SDF network, the forward pass of DIST (paper section 3.2).

:func:`sphere_trace` marches every camera ray of an image, or of a batch of images, towards the zero level
set of ``sdf(latent, points)`` without building an autograd graph, and counts every network query. A batch
is B cameras of one image size and B codes (B, D), or one of them shared by every image: all rays of all
images march together, one network call per marching step, each ray with its image's code and its own
dynamic mask and coarse-to-fine pyramid, so a ray marches exactly as it would in its image alone. The
paper's switches, each of which can be turned off for the ablation of Table 1 (all off is the naive parallel
tracer):

``dynamic``
    only rays that are still marching are queried (the dynamic unfinished mask).
``aggressive``
    rays advance by ``alpha * f`` (alpha = 1.5) instead of ``f``, which reaches the surface sooner and
    samples both of its sides.
``coarse_to_fine``
    tracing starts on a grid of 1/4 of the resolution (``scales``), and each ray is split into four after
    ``steps_per_scale`` steps, the children starting where their parent stopped.
``refine`` (ours, beyond the paper)
    once a ray has samples on both sides of the surface, its next sample is the regula-falsi estimate
    inside that bracket (Illinois variant) instead of another ``alpha * f`` step. Aggressive marching
    brackets the surface after a step or two and the bracket converges superlinearly, where plain
    aggressive marching only halves its error per step around the root. A ray that approaches the
    surface (its last two samples fall) may jump further than the aggressive step, to the secant
    estimate of the root; such a jump leaves unchecked the part of the ray beyond ``|f|``, where a thin
    part can hide, so it has to be confirmed: if the sample after the landing already recedes (``f``
    rises) without the surface having been bracketed, the predicted root did not exist, the ray goes
    back to the end of the free space it had certified before the jump and marches that stretch again
    with certified steps (``|f|``, no jump), so it finds what it jumped over. A jump never carries a
    ray out of the unit sphere.

Convergence is ``|f| < eps`` (paper section 3.2, eps = 5e-5). Every ray starts where it enters the unit
sphere (DeepSDF shapes live inside it) and is background when it misses the sphere or leaves it. Steps are
limited to ``alpha * step_clamp``: DeepSDF decoders are trained on SDF values clamped at 0.1, so larger
values do not bound the distance to the surface (DIST's public tracer clamps the same way).

``cone_split`` (ours, beyond the paper)
    a coarse ray marches as the cone that holds its children's rays and splits when the surface comes
    within reach of that cone instead of after a fixed number of steps, so its children start where the
    free space it certified ends and cannot skip a surface it passed; a coarse ray that leaves the sphere
    leaves it for its children whose stretch in the sphere ends within the free space it certified (near the
    sphere's rim a child's chord can be longer than its parent's: that child marches on). Without it, children
    start where their parent stopped (DIST's rule) and children of a coarse ray that left the sphere restart
    from its last sample inside the sphere.

Each marching step waits for the device once (the ``nonzero`` that picks the rays still marching); the
camera-frame ray pyramid of an image size and intrinsics is computed once and reused
(:meth:`dist_core.camera.Camera.rays`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .camera import Camera, RayBundle
from .sdf_query import evaluate_sdf

__all__ = ["TracerOptions", "Trace", "sphere_trace", "resolve_batch", "evaluate_sdf", "unit_sphere_interval"]

ACTIVE, HIT, MISS, SPLIT = 0, 1, 2, 3
# How far past the aggressive step a secant estimate may carry a ray that approaches the surface:
# grazing rays (slope -0.1 means the root is 10 |f| away) otherwise shrink |f| only geometrically.
# Measured on the issue-2 sphere scene at 512^2: reach 1 -> 4.85, 2 -> 3.69 queries per pixel.
SECANT_REACH = 2.0


@dataclass
class TracerOptions:
    """The tracer's switches and constants; the defaults are the paper's plus ``refine`` and
    ``cone_split`` (ours; turn both off for the paper's tracer). ``chunk`` bounds the points of one
    network call of the trace; ``grad_chunk`` those of one recomputation in the backward pass of
    :func:`dist_core.render.render` (``None``: all differentiable samples at once)."""

    eps: float = 5e-5
    max_steps: int = 50
    alpha: float = 1.5
    aggressive: bool = True
    dynamic: bool = True
    coarse_to_fine: bool = True
    refine: bool = True
    cone_split: bool = True
    scales: tuple = (4, 2, 1)
    steps_per_scale: tuple = (3, 3)
    step_clamp: float | None = 0.1
    chunk: int = 65536
    grad_chunk: int | None = 16384
    grad_samples: int = 1

    @classmethod
    def from_kwargs(cls, **kwargs) -> "TracerOptions":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown tracer option(s) {unknown}; known options are {sorted(known)}")
        options = cls(**kwargs)
        if options.coarse_to_fine:
            if list(options.scales)[-1] != 1 or len(options.steps_per_scale) != len(options.scales) - 1:
                raise ValueError("scales must end with 1 and steps_per_scale give one count per coarser scale")
        if options.chunk < 1 or (options.grad_chunk is not None and options.grad_chunk < 1):
            raise ValueError(f"chunk and grad_chunk must be positive (got {options.chunk}, {options.grad_chunk})")
        return options


@dataclass
class Trace:
    """Per-ray result of :func:`sphere_trace`: the rays of image 0 in row-major pixel order, then those of
    image 1, and so on (one image: just its H * W rays).

    Attributes:
        length: (N,) ray length of the last sample; for hits the converged sample.
        hit: (N,) rays that converged to the surface (``|f| < eps``).
        inside_sphere: (N,) rays that meet the unit sphere.
        min_abs_sdf: (N,) smallest ``|f|`` of the ray's samples at full resolution (+inf for rays missing
            the sphere; a ray that a coarse ray's cone certified as background without a sample of its own
            has its parent's).
        min_abs_length: (N,) ray length of that sample.
        min_sdf: (N,) the signed ``f`` of that sample (+inf for rays missing the sphere).
        grad_lengths: (N, K) lengths of the K samples of smallest ``|f|`` (paper section 3.4), K =
            ``grad_samples``, best first (a slot the ray never filled has ``grad_sdf`` +inf).
        grad_sdf: (N, K) their signed ``f``.
        rays: the full-resolution :class:`RayBundle` of all images, detached.
        image: (N,) index of each ray's image.
        batch_size: B, the number of images; ``batched`` says whether the call was a batch (B images as
            (B, H, W) in :func:`~dist_core.render.render`) or one image.
        height, width: image size.
        stats: ``forward_queries``, ``steps``, ``queries_per_level``, ``seconds`` (totals) and
            ``forward_queries_per_image`` (a list of B counts).
        traced: (N,) bool, the rays asked for (``pixels`` of :func:`sphere_trace`), or None when all were.
    """

    length: torch.Tensor
    hit: torch.Tensor
    inside_sphere: torch.Tensor
    min_abs_sdf: torch.Tensor
    min_abs_length: torch.Tensor
    min_sdf: torch.Tensor
    grad_lengths: torch.Tensor
    grad_sdf: torch.Tensor
    rays: RayBundle
    image: torch.Tensor
    batch_size: int
    batched: bool
    height: int
    width: int
    stats: dict = field(default_factory=dict)
    traced: torch.Tensor | None = None


def resolve_batch(latent: torch.Tensor, camera) -> tuple[torch.Tensor, list[Camera], bool, bool]:
    """The images a call describes: ``(codes, cameras, batched, per_image_codes)``.

    ``latent`` (D,) with one :class:`Camera` is one image; (B, D) codes and/or a list of B cameras is a
    batch of B images, the camera or the code broadcast when only the other comes in B. ``codes`` is what
    the network is called with: ``latent``, or its one row of a (1, D) batch (a view, so gradients reach
    ``latent``), which the decoder folds once for every point; ``per_image_codes`` says that it holds one
    code per image.
    """
    if latent.dim() not in (1, 2):
        raise ValueError(f"latent must be one code (D,) or a batch of codes (B, D), not {tuple(latent.shape)}")
    cameras = list(camera) if isinstance(camera, (list, tuple)) else [camera]
    if not cameras or not all(isinstance(c, Camera) for c in cameras):
        raise TypeError("camera must be a Camera or a non-empty list of Cameras")
    per_image_codes = latent.dim() == 2
    batched = per_image_codes or isinstance(camera, (list, tuple))
    if per_image_codes:
        if len(cameras) == 1:
            cameras = cameras * latent.shape[0]
        elif latent.shape[0] != len(cameras):
            raise ValueError(f"{latent.shape[0]} codes for {len(cameras)} cameras: give one code per camera, "
                             "one code for all, or one camera for all")
    sizes = {(c.width, c.height) for c in cameras}
    if len(sizes) > 1:
        raise ValueError(f"cameras of one batch must share an image size; got {sorted(sizes)}")
    if per_image_codes and latent.shape[0] == 1:
        return latent[0], cameras, batched, False
    return latent, cameras, batched, per_image_codes


def unit_sphere_interval(origins: torch.Tensor, directions: torch.Tensor, radius: float = 1.0):
    """Entry and exit lengths of unit-direction rays with the sphere of ``radius`` at the origin.

    Returns ``(near, far, inside, distance)``: near/far (N,) (clamped at 0 for a camera inside the sphere),
    whether the ray meets the sphere, and the distance of the ray's line from the origin.
    """
    b = (origins * directions).sum(-1)
    closest = origins - b[:, None] * directions
    distance = closest.norm(dim=-1)
    half_chord = torch.sqrt((radius * radius - distance * distance).clamp(min=0.0))
    near = (-b - half_chord).clamp(min=0.0)
    far = -b + half_chord
    inside = (distance <= radius) & (far > 0)
    return near, far, inside, distance


@dataclass
class _Level:
    """Rays of one level of the coarse-to-fine pyramid of every image; pixel (i, j) of a level of scale s
    is the centre of the s x s block of full-resolution pixels starting at (s*i, s*j)."""

    scale: int
    height: int
    width: int
    images: int
    rays: RayBundle
    image: torch.Tensor


def _level_rays(cameras: list[Camera], scale: int, device, dtype) -> _Level:
    bundles = [camera.rays(device=device, dtype=dtype, scale=scale) for camera in cameras]
    height, width = math.ceil(cameras[0].height / scale), math.ceil(cameras[0].width / scale)
    if len(bundles) == 1:
        rays = bundles[0]
    else:
        rays = RayBundle(*(torch.cat([getattr(b, name) for b in bundles])
                           for name in ("origins", "directions", "z_per_length", "pixels")))
    image = torch.arange(len(cameras), device=device).repeat_interleave(height * width)
    return _Level(scale, height, width, len(cameras), rays, image)


def _parent_index(child: _Level, parent: _Level, device) -> torch.Tensor:
    ratio = parent.scale // child.scale
    i = torch.arange(child.height, device=device) // ratio
    j = torch.arange(child.width, device=device) // ratio
    local = (i[:, None] * parent.width + j[None, :]).reshape(-1)
    offsets = torch.arange(child.images, device=device) * (parent.height * parent.width)
    return (offsets[:, None] + local[None, :]).reshape(-1)


class _RayState:
    """Marching state of the rays of one level (all tensors (N,) unless noted)."""

    def __init__(self, level: _Level, grad_samples: int, needed: torch.Tensor | None = None):
        rays = level.rays
        n, device = rays.directions.shape[0], rays.directions.device
        self.origins, self.directions, self.image = rays.origins, rays.directions, level.image
        self.near, self.far, self.inside, self.distance = unit_sphere_interval(rays.origins, rays.directions)
        if needed is not None:  # rays no asked-for pixel depends on are not traced: as if they missed the sphere
            self.inside = self.inside & needed
        self.length = self.near.clone()
        self.status = torch.where(self.inside, ACTIVE, MISS).to(torch.int8)
        self.steps = torch.zeros(n, dtype=torch.int32, device=device)
        inf = torch.full((n,), math.inf, device=device)
        self.d_pos, self.f_pos = inf.clone(), inf.clone()
        self.d_neg, self.f_neg = inf.clone(), -inf.clone()
        self.last_side = torch.zeros(n, dtype=torch.int8, device=device)
        # Previous sample and the secant slope df/dd through the last two samples (NaN: unknown).
        self.d_prev, self.f_prev = torch.full((n,), math.nan, device=device), torch.full((n,), math.nan, device=device)
        self.slope = torch.full((n,), math.nan, device=device)
        self.buffer_abs = torch.full((n, grad_samples), math.inf, device=device)
        self.buffer_sdf = torch.full((n, grad_samples), math.inf, device=device)
        self.buffer_len = self.length[:, None].repeat(1, grad_samples)
        self.cone_rate = torch.zeros(n, device=device)
        # Secant jumps awaiting confirmation (``refine``): where the unchecked stretch of the jump made at the
        # previous sample (``jump_start``) and at the one before (``older_jump_start``) begins (NaN: no jump),
        # and up to where a rewound ray marches with certified steps.
        self.jump_start = torch.full((n,), math.nan, device=device)
        self.older_jump_start = torch.full((n,), math.nan, device=device)
        self.careful_until = torch.full((n,), -math.inf, device=device)

    def inherit(self, parent: "_RayState", index: torch.Tensor, options: TracerOptions) -> None:
        """Start each ray where its parent stopped (see the module docstring).

        A parent that never met the sphere marched nothing: its children that do meet it start at their own
        entry point."""
        entered = parent.inside[index]
        start = torch.where(entered, parent.length[index], self.near)
        parent_status = parent.status[index]
        self.length = torch.where(self.inside, torch.maximum(self.near, torch.minimum(start, self.far)), self.near)
        self.steps = parent.steps[index].clone()
        self.slope = parent.slope[index].clone()
        if options.cone_split:
            # The parent stayed farther from the surface than its children's rays are from it up to where it
            # left the sphere (its length: the end of its last free step). Children whose own stretch in the
            # sphere ends there miss too; one that is still inside (a longer chord near the sphere's rim)
            # marches on from there.
            certified = entered & (parent_status == MISS) & (start >= self.far)
            self.status = torch.where(certified, MISS, self.status).to(torch.int8)
            # They take no sample of their own, so they keep their parent's smallest-|f| samples: within the
            # cone radius c of their own values there, all above c > 0 (the parent split wherever f < 2c).
            keep = (self.status == MISS) & self.inside
            self.buffer_abs = torch.where(keep[:, None], parent.buffer_abs[index], self.buffer_abs)
            self.buffer_sdf = torch.where(keep[:, None], parent.buffer_sdf[index], self.buffer_sdf)
            self.buffer_len = torch.where(keep[:, None], parent.buffer_len[index], self.buffer_len)

    def set_cone_rate(self, children: _Level, index: torch.Tensor) -> None:
        """Largest distance per unit length between this level's rays and their children's rays.

        ``index``: for each child ray, its parent ray in this level (:func:`_parent_index`).
        """
        gap = (children.rays.directions - self.directions[index]).norm(dim=-1)
        self.cone_rate = torch.zeros_like(self.cone_rate).scatter_reduce(0, index, gap, reduce="amax")


class _Counter:
    """Queries and steps of one trace; the per-image counts stay on the device until the end."""

    def __init__(self, images: int, device):
        self.forward_queries, self.steps, self.queries_per_level = 0, 0, []
        self.per_image = torch.zeros(images, dtype=torch.int64, device=device)

    def add(self, image_of_queried_rays: torch.Tensor) -> None:
        self.forward_queries += image_of_queried_rays.numel()
        self.steps += 1
        # index_add, not bincount: bincount sizes its output from the data, which waits for the device.
        self.per_image.index_add_(0, image_of_queried_rays, torch.ones_like(image_of_queried_rays))


def _march(sdf, latent, per_image_codes: bool, state: _RayState, steps: int, options: TracerOptions, final: bool,
           counter: _Counter) -> None:
    """Up to ``steps`` marching steps on ``state``; on coarse levels (not ``final``) with ``cone_split`` a
    ray stops marching (SPLIT) once it is as close to the surface as its children are to it."""
    alpha = options.alpha if options.aggressive else 1.0
    clamp = options.step_clamp if options.step_clamp is not None else math.inf
    split = options.cone_split and not final
    queried = None if options.dynamic else torch.nonzero(state.inside).squeeze(1)
    for _ in range(steps):
        # The step's one wait for the device: how many rays are still marching.
        idx = torch.nonzero(state.status == ACTIVE).squeeze(1) if options.dynamic else queried
        if idx.numel() == 0:
            break
        d = state.length[idx]
        points = state.origins[idx] + d[:, None] * state.directions[idx]
        image = state.image[idx]
        f = evaluate_sdf(sdf, latent, points, options.chunk, image if per_image_codes else None).to(d.dtype)
        counter.add(image)
        if not options.dynamic:
            # The naive tracer queries finished rays too; only the active ones move.
            keep = state.status[idx] == ACTIVE
            idx, d, f = idx[keep], d[keep], f[keep]
        _update(state, idx, d, f, alpha, clamp, options, final, split)


def _update(state: _RayState, idx, d, f, alpha, clamp, options: TracerOptions, final: bool, split: bool) -> None:
    absf = f.abs()
    state.steps[idx] += 1
    # K smallest |f| samples: the new sample replaces the worst buffered one when it beats it.
    worst_abs, worst_slot = state.buffer_abs[idx].max(dim=1)
    better = absf < worst_abs
    state.buffer_abs[idx, worst_slot] = torch.where(better, absf, worst_abs)
    state.buffer_sdf[idx, worst_slot] = torch.where(better, f, state.buffer_sdf[idx, worst_slot])
    state.buffer_len[idx, worst_slot] = torch.where(better, d, state.buffer_len[idx, worst_slot])
    near, far = state.near[idx], state.far[idx]
    if split:
        _cone_step(state, idx, d, f, clamp, options)
        return

    converged = absf < options.eps
    positive = f > 0
    step = alpha * f.clamp(-clamp, clamp)
    if options.refine:
        d_next, bracket_closed = _refined_step(state, idx, d, f, positive, step, clamp, far)
        converged |= bracket_closed
    else:
        d_next = d + step
    d_next = torch.maximum(d_next, near)
    # A ray whose entry point is inside the shape (f < 0 there) cannot be rendered.
    stuck = (~positive) & (d <= near + 1e-7) & ~converged
    left = (d_next > far) | stuck
    new_status = torch.where(converged, HIT, torch.where(left, MISS, ACTIVE))
    out_of_steps = state.steps[idx] >= options.max_steps
    new_status = torch.where((new_status == ACTIVE) & out_of_steps, SPLIT if not final else ACTIVE, new_status)
    new_status = new_status.to(torch.int8)
    state.status[idx] = new_status
    moved = new_status == ACTIVE
    length = torch.where(moved, d_next, d)
    if options.refine:
        # A converged sample is within eps of the surface but, on a grazing ray, up to eps / |slope| from
        # the hit along the ray: one free secant correction removes most of that.
        slope = state.slope[idx]
        correction = torch.where(slope < -1e-3, -f / slope, torch.zeros_like(f)).clamp(-1e-2, 1e-2)
        length = torch.where(converged, d + correction, length)
    if final:
        length = torch.where(left & ~converged, far, length)
    state.length[idx] = length


def _cone_step(state: _RayState, idx, d, f, clamp, options: TracerOptions) -> None:
    """Cone tracing on a coarse level (``cone_split``): the ray stands for the cone that holds its
    children's rays, of radius ``c = d * cone_rate`` at length d. Stepping by ``f - c`` keeps that cone
    inside the sample's empty ball, so children cannot skip a surface the parent passed; once
    ``f < 2 c`` the cone is near the surface and the ray splits. A ray that leaves the sphere this way
    leaves it for the children whose own exit comes before the end of its last free step."""
    cone = d * state.cone_rate[idx]
    d_next = d + (f - cone).clamp(max=clamp)
    split_now = f < 2.0 * cone
    left = d_next > state.far[idx]
    out_of_steps = state.steps[idx] >= options.max_steps
    status = torch.where(split_now | out_of_steps, SPLIT, torch.where(left, MISS, ACTIVE)).to(torch.int8)
    state.status[idx] = status
    # A ray that left keeps the end of its last free step: its children's rays are certified empty up to there.
    state.length[idx] = torch.where(status == SPLIT, d, d_next)
    d_prev, f_prev = state.d_prev[idx], state.f_prev[idx]
    have_prev = torch.isfinite(d_prev) & ((d - d_prev).abs() > 1e-9)
    state.slope[idx] = torch.where(have_prev, (f - f_prev) / (d - d_prev), state.slope[idx])
    state.d_prev[idx], state.f_prev[idx] = d, f


def _refined_step(state: _RayState, idx, d, f, positive, step, clamp, far):
    """Our step rule (``refine``): Illinois regula falsi inside a bracket of the surface; outside one, the
    secant estimate of the root when the samples approach the surface (never below |f|, the step a true
    SDF guarantees to be free, never beyond ``SECANT_REACH`` aggressive steps), else the aggressive step;
    a secant jump beyond the aggressive step is confirmed or rewound (module docstring). Returns the next
    lengths and the rays whose bracket has shrunk below float resolution (hits, even where a grazing ray
    keeps |f| above eps)."""
    side = torch.where(positive, 1, -1).to(torch.int8)
    repeat = state.last_side[idx] == side
    state.f_neg[idx] = torch.where(positive & repeat, state.f_neg[idx] * 0.5, state.f_neg[idx])
    state.f_pos[idx] = torch.where(~positive & repeat, state.f_pos[idx] * 0.5, state.f_pos[idx])
    state.d_pos[idx] = torch.where(positive, d, state.d_pos[idx])
    state.f_pos[idx] = torch.where(positive, f, state.f_pos[idx])
    state.d_neg[idx] = torch.where(positive, state.d_neg[idx], d)
    state.f_neg[idx] = torch.where(positive, state.f_neg[idx], f)
    state.last_side[idx] = side

    d_prev, f_prev = state.d_prev[idx], state.f_prev[idx]
    have_prev = torch.isfinite(d_prev) & ((d - d_prev).abs() > 1e-9)
    slope = torch.where(have_prev, (f - f_prev) / (d - d_prev), state.slope[idx])
    state.slope[idx] = slope
    state.d_prev[idx], state.f_prev[idx] = d, f

    d_pos, f_pos, d_neg, f_neg = state.d_pos[idx], state.f_pos[idx], state.d_neg[idx], state.f_neg[idx]
    bracketed = torch.isfinite(d_pos) & torch.isfinite(d_neg)
    regula_falsi = d_pos + f_pos * (d_neg - d_pos) / (f_pos - f_neg)
    # Secant estimate of the distance to the root, usable when the samples approach the surface.
    approaching = slope < -0.05
    secant = (f.abs() / slope.abs()).clamp(min=f.abs().clamp(max=clamp))
    free = f.abs().clamp(max=clamp)
    careful = d < state.careful_until[idx]
    magnitude = torch.where(approaching & ~careful, torch.minimum(SECANT_REACH * step.abs(), secant),
                            torch.where(careful, free, step.abs()))
    # A jump is confirmed by the landing sample and the next one: either of them receding unbracketed sends
    # the ray back to where the free space certified before the (oldest unconfirmed) jump ended.
    older, last = state.older_jump_start[idx], state.jump_start[idx]
    rewind_to = torch.where(torch.isnan(older), last, older)
    rewind = torch.isfinite(rewind_to) & positive & ~bracketed & (slope > 0)
    jump = positive & ~bracketed & ~rewind & (magnitude > step.abs())
    magnitude = torch.where(jump & (d + magnitude > far), step.abs(), magnitude)
    jump &= magnitude > step.abs()
    nan = torch.full_like(d, math.nan)
    state.older_jump_start[idx] = torch.where(rewind, nan, last)
    state.jump_start[idx] = torch.where(jump, d + free, nan)
    state.careful_until[idx] = torch.where(rewind, d, state.careful_until[idx])
    d_next = torch.where(bracketed, regula_falsi, d + torch.sign(f) * magnitude)
    d_next = torch.where(rewind, rewind_to, d_next)
    closed = bracketed & ((d_neg - d_pos).abs() < 1e-6)
    return d_next, closed



def _needed_rays(levels: list[_Level], parents: list[torch.Tensor], pixels: torch.Tensor | None,
                 device) -> list[torch.Tensor | None]:
    """Per level, the rays that the asked-for full-resolution ``pixels`` descend from (None: all).

    ``parents[k]``: for each ray of level k + 1, its parent ray in level k (:func:`_parent_index`).
    """
    if pixels is None:
        return [None] * len(levels)
    needed = [pixels]
    for parent, index in zip(levels[::-1][1:], parents[::-1]):
        mark = torch.zeros(parent.rays.directions.shape[0], dtype=torch.bool, device=device)
        needed.append(mark.index_fill(0, index[needed[-1]], True))
    return needed[::-1]


def _pixel_mask(pixels, images: int, height: int, width: int, device) -> torch.Tensor | None:
    """``pixels`` (H, W) for every image or (B, H, W) as one flat (B * H * W,) bool tensor (None: all)."""
    if pixels is None:
        return None
    pixels = torch.as_tensor(pixels, dtype=torch.bool, device=device)
    if pixels.shape == (height, width):
        pixels = pixels.expand(images, height, width)
    if pixels.shape != (images, height, width):
        raise ValueError(f"pixels must be ({height}, {width}) or ({images}, {height}, {width}) booleans, "
                         f"not {tuple(pixels.shape)}")
    return pixels.reshape(-1)


def sphere_trace(sdf, latent: torch.Tensor, camera, options: TracerOptions | None = None, pixels=None,
                 **kwargs) -> Trace:
    """Trace every pixel of ``camera`` through ``sdf(latent, points)`` (no autograd graph is built).

    ``pixels`` ((H, W) bool for every image, or (B, H, W)) restricts the trace to those pixels: only their
    rays and the coarse rays they descend from march, each exactly as in the full trace (rays march
    independently), and the others are reported as rays that miss the sphere (``Trace.traced`` tells them
    apart). An optimisation whose loss reads a few pixels pays for those alone.

    Args:
        sdf: a decoder or analytic SDF, called as ``sdf(latent, points (N, 3)) -> (N,)`` (see
            :mod:`dist_core.sdf_query` for the per-image codes of a batch).
        latent: (D,) code, or (B, D) codes, one per image.
        camera: :class:`~dist_core.camera.Camera` in the object (unit-sphere) frame, or a list of B cameras
            of one image size (see :func:`resolve_batch`).
        options: :class:`TracerOptions`, or the same fields as keyword arguments.
    Returns:
        :class:`Trace` for the B * H * W full-resolution rays.
    """
    options = options or TracerOptions.from_kwargs(**kwargs)
    latent, cameras, batched, per_image_codes = resolve_batch(latent.detach(), camera)
    device = latent.device
    dtype = torch.float32
    counter = _Counter(len(cameras), device)
    start = time.perf_counter()
    scales = list(options.scales) if options.coarse_to_fine else [1]
    if options.cone_split:
        steps = [options.max_steps] * len(scales)
    else:
        steps = list(options.steps_per_scale) if options.coarse_to_fine else []
        steps.append(max(options.max_steps - sum(steps), 0))
    with torch.no_grad():
        levels = [_level_rays(cameras, s, device, dtype) for s in scales]
        parents = [_parent_index(child, parent, device) for parent, child in zip(levels[:-1], levels[1:])]
        traced = _pixel_mask(pixels, len(cameras), cameras[0].height, cameras[0].width, device)
        needed = _needed_rays(levels, parents, traced, device)
        state = None
        for number, (level, level_steps) in enumerate(zip(levels, steps)):
            final = number == len(levels) - 1
            child = _RayState(level, options.grad_samples, needed[number])
            if state is not None:
                child.inherit(state, parents[number - 1], options)
            state = child
            if not final:
                state.set_cone_rate(levels[number + 1], parents[number])
            before = counter.forward_queries
            _march(sdf, latent, per_image_codes, state, level_steps, options, final=final, counter=counter)
            counter.queries_per_level.append(counter.forward_queries - before)
        order = torch.argsort(state.buffer_abs, dim=1)
        grad_lengths = torch.gather(state.buffer_len, 1, order)
        grad_sdf = torch.gather(state.buffer_sdf, 1, order)
    stats = {"forward_queries": counter.forward_queries, "steps": counter.steps,
             "queries_per_level": counter.queries_per_level, "forward_queries_per_image": counter.per_image.tolist(),
             "seconds": time.perf_counter() - start}
    final_level = levels[-1]
    return Trace(
        length=state.length,
        hit=state.status == HIT,
        inside_sphere=state.inside,
        min_abs_sdf=grad_sdf[:, 0].abs(),
        min_abs_length=grad_lengths[:, 0],
        min_sdf=grad_sdf[:, 0],
        grad_lengths=grad_lengths,
        grad_sdf=grad_sdf,
        rays=final_level.rays,
        image=final_level.image,
        batch_size=len(cameras),
        batched=batched,
        height=cameras[0].height,
        width=cameras[0].width,
        stats=stats,
        traced=traced,
    )
