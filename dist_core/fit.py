"""Latent-code optimisation through the differentiable renderer (paper section 4.2.1, eq. 5).

:func:`fit_latent_to_depth` solves

    argmin_z  w_d L_d(R_d(f(z)), I_d) + w_in L_in + w_out L_out + w_n L_n(R_n(f(z)), I_n) + w_z mean(z^2)

with Adam on the latent code ``z`` of a frozen decoder ``f``, the camera known: ``L_d`` the depth L1,
``L_in`` / ``L_out`` the two terms of the silhouette loss ``L_s``, ``L_n`` DIST's normal term (not in eq. 5;
``w_n = 0`` unless ground-truth normals are given, as in the paper's Fig. 5) and the l2 code regulariser.
DIST's ``run_single_shape.py`` uses depth weight 10, normal 5, silhouette 1 and 1, l2 1, lr 1e-3 and 200
iterations from the prior's mean shape. What the optimiser sees is a :class:`DepthTarget`: the depth pixels
it is given, the pixels known to show the object and, when a mask is given, those known to be background.

:func:`fit_latents_to_depth` runs several such optimisations at once (one code per target, all of the same
decoder): the loss is the sum of the per-code losses, so each code's gradient is that of its own loss, and
Adam's moments are per element, so every code follows exactly the path it would follow alone. With
``batch_render`` the codes are rendered by one call of :func:`dist_core.render.render` (the renderer's
batched path); otherwise one call per code.

A NaN, infinite or exploding loss (or a latent that turns non-finite) stops that code's optimisation; its
result says so in ``failed`` / ``reason`` instead of raising, so one bad instance does not stop a table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .camera import Camera
from .losses import depth_l1, normal_loss, silhouette_loss
from .render import Rendering, render

__all__ = ["DepthTarget", "FitOptions", "DepthFitResult", "depth_target", "fit_latent_to_depth",
           "fit_latents_to_depth", "depth_fit_loss"]


@dataclass
class DepthTarget:
    """What a single-view optimisation is given.

    Attributes:
        camera: the view (object frame).
        depth: (H, W) float32 camera-frame z; only read where ``observed``.
        observed: (H, W) bool, pixels with a depth value (every object pixel for dense input, a subset for
            sparse input).
        inside: (H, W) bool, pixels known to show the object (silhouette loss, inside term); all False for
            a depth-only fit.
        outside: (H, W) bool pixels known to be background, or None (no outside term).
        normal: (H, W, 3) float32 camera-frame unit normals of the ``observed`` pixels, or None (no normal
            term).
    """

    camera: Camera
    depth: torch.Tensor
    observed: torch.Tensor
    inside: torch.Tensor
    outside: torch.Tensor | None = None
    normal: torch.Tensor | None = None

    def read_pixels(self) -> torch.Tensor | None:
        """(H, W) bool, the pixels the loss reads (observed depth or normals, inside pixels), or None when it
        reads every pixel (an outside term: any rendered pixel outside the mask counts)."""
        return None if self.outside is not None else self.observed | self.inside

    def to(self, device) -> "DepthTarget":
        move = (lambda x: None if x is None else x.to(device))
        return DepthTarget(self.camera, move(self.depth), move(self.observed), move(self.inside), move(self.outside),
                           move(self.normal))


def depth_target(camera: Camera, depth: np.ndarray, observed: np.ndarray, mask: np.ndarray | None = None,
                 observed_silhouette: bool = True, normal: np.ndarray | None = None) -> DepthTarget:
    """The target of paper eq. 5 from a depth image.

    With ``mask`` (the full object silhouette) every mask pixel is inside and every other pixel is
    background; a dense depth image implies its own mask: pass it. Without ``mask``, nothing is known about
    the pixels without depth; with ``observed_silhouette`` the given pixels count as inside (they show the
    object), without it the fit sees depth only (the paper's "Ours" on sparse input). ``normal`` (H, W, 3)
    adds the normal term on the observed pixels.
    """
    observed = torch.as_tensor(np.asarray(observed, dtype=bool))
    depth = torch.as_tensor(np.where(observed, depth, 0.0), dtype=torch.float32)
    normals = None if normal is None else torch.as_tensor(np.asarray(normal), dtype=torch.float32)
    if mask is None:
        inside = observed.clone() if observed_silhouette else torch.zeros_like(observed)
        return DepthTarget(camera, depth, observed, inside, None, normals)
    mask = torch.as_tensor(np.asarray(mask, dtype=bool))
    return DepthTarget(camera, depth, observed, mask, ~mask, normals)


@dataclass
class FitOptions:
    """Settings of :func:`fit_latent_to_depth` (defaults: DIST's ``run_single_shape.py``, except the
    normal weight, 0 as in paper eq. 5).

    Attributes:
        iterations, lr: Adam steps and learning rate on the latent.
        w_depth, w_mask_gt, w_mask_out, w_normal, w_l2: weights of L_d, the inside and outside silhouette
            terms, the normal term and the l2 code regulariser ``mean(z^2)`` (a mean over the code's
            dimensions: DIST's 1.0 is over 256 of them).
        gradient: the renderer's depth gradient ("approximate", paper section 3.4, or "implicit").
        diverge_factor: the loss counts as exploding above ``diverge_factor`` times its first value.
        batch_render: render the codes of :func:`fit_latents_to_depth` in one call of the renderer.
        loss_pixels_only: trace only the pixels the loss reads (:meth:`DepthTarget.read_pixels`: the given
            pixels of a fit without a mask), each exactly as in the full image, so the optimisation is the
            same at a fraction of the queries; the final rendering is always the full image.
        renderer: tracer options passed to :func:`dist_core.render.render`.
    """

    iterations: int = 200
    lr: float = 1e-3
    w_depth: float = 10.0
    w_mask_gt: float = 1.0
    w_mask_out: float = 1.0
    w_normal: float = 0.0
    w_l2: float = 1.0
    gradient: str = "approximate"
    diverge_factor: float = 1e3
    batch_render: bool = False
    loss_pixels_only: bool = True
    renderer: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, settings: dict, renderer: dict | None = None, **overrides) -> "FitOptions":
        known = set(cls.__dataclass_fields__) - {"renderer"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown fit setting(s) {unknown} in the config; known: {sorted(known)}")
        return cls(**{**settings, **overrides}, renderer=dict(renderer or {}))


@dataclass
class DepthFitResult:
    """One single-view optimisation.

    Attributes:
        latent: (D,) final code (the last finite one when the optimisation failed).
        losses: total loss per iteration; ``depth_losses``, ``silhouette_losses``, ``normal_losses`` its
            L_d, L_s and L_n parts (unweighted L_d and L_n; L_s weighted by ``w_mask_gt`` / ``w_mask_out``).
        forward_queries, backward_queries: network queries of each step's rendering of this code.
        seconds: wall time of the optimisation; when several codes were fitted together, the batch's time
            divided by the number of codes. ``seconds_per_step`` its mean per step.
        rendering: the rendering of the final code (no gradients), or None when it failed.
        failed, reason: whether the optimisation diverged, and why.
    """

    latent: torch.Tensor
    losses: list[float] = field(default_factory=list)
    depth_losses: list[float] = field(default_factory=list)
    silhouette_losses: list[float] = field(default_factory=list)
    normal_losses: list[float] = field(default_factory=list)
    forward_queries: list[int] = field(default_factory=list)
    backward_queries: list[int] = field(default_factory=list)
    seconds: float = 0.0
    rendering: Rendering | None = None
    failed: bool = False
    reason: str = ""

    @property
    def steps(self) -> int:
        return len(self.losses)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)


def _outputs(options: FitOptions) -> tuple[str, ...]:
    return ("depth", "silhouette", "normal") if options.w_normal else ("depth", "silhouette")


def _renderings(decoder, latents: torch.Tensor, cameras: list[Camera], options: FitOptions, outputs,
                pixels: list | None = None) -> list[Rendering]:
    """One :class:`Rendering` per row of ``latents`` (B, D), each seen by its camera and restricted to its
    ``pixels`` ((H, W) bool, or None for the full image)."""
    pixels = pixels or [None] * len(cameras)
    if options.batch_render and len(cameras) > 1:
        batch_pixels = None
        if any(p is not None for p in pixels):
            full = torch.ones(cameras[0].height, cameras[0].width, dtype=torch.bool, device=latents.device)
            batch_pixels = torch.stack([full if p is None else p for p in pixels])
        batch = render(decoder, latents, cameras, outputs=outputs, gradient=options.gradient, pixels=batch_pixels,
                       **options.renderer)
        return _split_batch(batch, len(cameras))
    return [render(decoder, latents[b], cameras[b], outputs=outputs, gradient=options.gradient, pixels=pixels[b],
                   **options.renderer) for b in range(len(cameras))]


def _split_batch(batch: Rendering, count: int) -> list[Rendering]:
    """Per-image renderings of a batched one ((B, H, W) images and per-image query counts in ``stats``);
    ``points`` are not split (the fits do not use them)."""
    out = []
    for b in range(count):
        stats = {"forward_queries": batch.stats["forward_queries_per_image"][b],
                 "backward_queries": batch.stats["backward_queries_per_image"][b]}
        out.append(Rendering(depth=None if batch.depth is None else batch.depth[b],
                             normal=None if batch.normal is None else batch.normal[b],
                             silhouette=None if batch.silhouette is None else batch.silhouette[b],
                             valid=batch.valid[b], points=batch.points[:0], stats=stats))
    return out


def _terms(rendering: Rendering, latent: torch.Tensor, target: DepthTarget, options: FitOptions):
    """The weighted loss of one code and its unweighted parts (paper eq. 5 plus DIST's normal term)."""
    l_depth = depth_l1(rendering.depth, target.depth, target.observed, rendering.valid)
    sil = silhouette_loss(rendering.silhouette, rendering.valid, target.inside, target.outside)
    l_sil = options.w_mask_gt * sil.inside + options.w_mask_out * sil.outside
    l_normal = (normal_loss(rendering.normal, target.normal, target.observed, rendering.valid)
                if options.w_normal and target.normal is not None else l_depth.new_zeros(()))
    loss = options.w_depth * l_depth + l_sil + options.w_normal * l_normal + options.w_l2 * latent.pow(2).mean()
    return loss, l_depth, l_sil, l_normal


def depth_fit_loss(decoder, target: DepthTarget, latent: torch.Tensor, options: FitOptions | None = None) -> dict:
    """The loss that :func:`fit_latent_to_depth` minimises, evaluated at one (D,) ``latent``: ``{"loss",
    "depth", "silhouette", "normal", "l2"}`` as floats (``depth`` and ``normal`` unweighted, ``silhouette``
    weighted as in :class:`DepthFitResult`, ``l2`` = ``mean(z^2)`` unweighted). The fit records the same
    value for the code it starts from as its first loss."""
    options = options or FitOptions()
    latent = latent.detach().float().reshape(-1)
    target = target.to(latent.device)
    read = target.read_pixels() if options.loss_pixels_only else None
    with torch.no_grad():
        rendering = _renderings(decoder, latent[None], [target.camera], options, _outputs(options), [read])[0]
        loss, l_depth, l_sil, l_normal = _terms(rendering, latent, target, options)
    return {"loss": float(loss), "depth": float(l_depth), "silhouette": float(l_sil), "normal": float(l_normal),
            "l2": float(latent.pow(2).mean())}


def fit_latents_to_depth(decoder, targets: list[DepthTarget], inits: torch.Tensor, options: FitOptions | None = None,
                         progress: bool = False, callback=None, description: str = "depth fit") -> list[DepthFitResult]:
    """Optimise one latent code per target so that its rendering matches the target (paper eq. 5).

    Args:
        decoder: frozen SDF network, ``decoder(latent (D,), points (N, 3)) -> (N,)``.
        targets: B :class:`DepthTarget` (moved to the latents' device here); each may have its own camera.
        inits: (B, D) initial codes (the paper: the prior's mean shape), or (D,) for every target, on the
            decoder's device.
        options: :class:`FitOptions`.
        progress: show a tqdm bar with the summed loss.
        callback: called as ``callback(iteration, latents (B, D))`` after each step with the codes whose
            losses that step computed (e.g. to mesh and score them), ``iteration`` from 1.
    Returns:
        one :class:`DepthFitResult` per target, in order.
    """
    from tqdm import tqdm

    options = options or FitOptions()
    count = len(targets)
    inits = inits.detach().float()
    inits = inits.expand(count, -1) if inits.dim() == 1 else inits
    if inits.shape[0] != count:
        raise ValueError(f"{inits.shape[0]} initial codes for {count} targets")
    device = inits.device
    targets = [t.to(device) for t in targets]
    cameras = [t.camera for t in targets]
    read = [t.read_pixels() if options.loss_pixels_only else None for t in targets]
    outputs = _outputs(options)
    frozen = [p for p in decoder.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    latents = inits.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([latents], lr=options.lr)
    results = [DepthFitResult(inits[b].clone()) for b in range(count)]
    first: list[float | None] = [None] * count
    active = list(range(count))
    started = time.perf_counter()
    try:
        bar = tqdm(range(options.iterations), desc=description, disable=not progress, mininterval=2.0, leave=False)
        for iteration in bar:
            for b in [b for b in active if not torch.isfinite(latents[b]).all()]:
                results[b].failed, results[b].reason = True, f"iteration {iteration}: the latent code is not finite"
                active.remove(b)
            if not active:
                break
            evaluated = latents.detach().clone()
            try:
                renderings = _renderings(decoder, latents[active], [cameras[b] for b in active], options, outputs,
                                         [read[b] for b in active])
            except ValueError as err:  # the renderer refuses a non-finite latent
                for b in active:
                    results[b].failed, results[b].reason = True, f"iteration {iteration}: {err}"
                break
            total, kept = 0.0, []
            for b, rendering in zip(active, renderings):
                loss, l_depth, l_sil, l_normal = _terms(rendering, latents[b], targets[b], options)
                value = float(loss.detach())
                first[b] = value if first[b] is None else first[b]
                reason = ""
                if not math.isfinite(value):
                    reason = f"iteration {iteration}: loss is {value}"
                elif value > options.diverge_factor * max(first[b], 1e-12):
                    reason = (f"iteration {iteration}: loss exploded to {value:.3g} (first {first[b]:.3g}); "
                              "lower the learning rate")
                if reason:
                    results[b].failed, results[b].reason = True, reason
                    continue
                total = total + loss
                kept.append(b)
                r = results[b]
                r.losses.append(value)
                r.depth_losses.append(float(l_depth.detach()))
                r.silhouette_losses.append(float(l_sil.detach()))
                r.normal_losses.append(float(l_normal.detach()))
                r.forward_queries.append(int(rendering.stats["forward_queries"]))
                r.backward_queries.append(int(rendering.stats["backward_queries"]))
            if not kept:
                break
            optimizer.zero_grad()
            total.backward()
            for b in list(kept):
                if not torch.isfinite(latents.grad[b]).all():
                    results[b].failed, results[b].reason = True, f"iteration {iteration}: gradient is not finite"
                    for series in (results[b].losses, results[b].depth_losses, results[b].silhouette_losses,
                                   results[b].normal_losses, results[b].forward_queries, results[b].backward_queries):
                        series.pop()
                    kept.remove(b)
            stopped = [b for b in range(count) if b not in kept]
            optimizer.step()
            if stopped:  # a stopped code keeps its last finite value: Adam's momentum would still move it
                with torch.no_grad():
                    latents[stopped] = torch.stack([results[b].latent for b in stopped]).to(latents)
            for b in kept:
                results[b].latent = latents[b].detach().clone()
            active = kept
            bar.set_postfix(loss=f"{float(total.detach()):.4f}", refresh=False)
            if callback is not None:
                callback(iteration + 1, evaluated)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    seconds = (time.perf_counter() - started) / count
    finished = [b for b in range(count) if not results[b].failed]
    if finished:
        with torch.no_grad():
            final = _renderings(decoder, torch.stack([results[b].latent for b in finished]),
                                [cameras[b] for b in finished], options, ("depth", "normal", "silhouette"))
        for b, rendering in zip(finished, final):
            results[b].rendering = rendering
    for r in results:
        r.seconds = seconds
    return results


def fit_latent_to_depth(decoder, target: DepthTarget, init: torch.Tensor, options: FitOptions | None = None,
                        progress: bool = False, callback=None, description: str = "depth fit") -> DepthFitResult:
    """Optimise one latent code so that its rendering matches ``target`` (paper eq. 5); see
    :func:`fit_latents_to_depth`. ``init`` is (D,); ``callback(iteration, latent (D,))``."""
    relay = None if callback is None else (lambda iteration, latents: callback(iteration, latents[0]))
    return fit_latents_to_depth(decoder, [target], init.reshape(1, -1), options, progress, relay, description)[0]
