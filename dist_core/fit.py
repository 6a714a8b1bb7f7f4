"""Latent-code optimisation through the differentiable renderer (paper section 4.2.1, eq. 5).

:func:`fit_latent_to_depth` solves ``argmin_z  w_d L_d(R_d(f(z)), I_d) + L_s(R_s(f(z)), I_s) + w_z mean(z^2)``
with Adam on the latent code ``z`` of a frozen decoder ``f``, the camera known, as DIST's
``optimize_single_view`` does (``run_single_shape.py``: depth weight 10, silhouette weights 1 and 1, l2
code regulariser 1, lr 1e-3, 200 iterations, latent from the prior's mean shape). What the optimiser sees
is a :class:`DepthTarget`: the depth pixels it is given, the pixels known to show the object and, when a
mask is given, those known to be background.

A NaN, infinite or exploding loss (or a latent that turns non-finite) stops the optimisation; the result
says so in ``failed`` / ``reason`` instead of raising, so one bad instance does not stop a table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .camera import Camera
from .losses import depth_l1, silhouette_loss
from .render import Rendering, render

__all__ = ["DepthTarget", "FitOptions", "DepthFitResult", "depth_target", "fit_latent_to_depth"]


@dataclass
class DepthTarget:
    """What a single-view optimisation is given.

    Attributes:
        camera: the view (object frame).
        depth: (H, W) float32 camera-frame z; only read where ``observed``.
        observed: (H, W) bool, pixels with a depth value (every object pixel for dense input, a subset for
            sparse input).
        inside: (H, W) bool, pixels known to show the object (silhouette loss, inside term).
        outside: (H, W) bool pixels known to be background, or None (no outside term).
    """

    camera: Camera
    depth: torch.Tensor
    observed: torch.Tensor
    inside: torch.Tensor
    outside: torch.Tensor | None = None

    def to(self, device) -> "DepthTarget":
        move = (lambda x: None if x is None else x.to(device))
        return DepthTarget(self.camera, move(self.depth), move(self.observed), move(self.inside), move(self.outside))


def depth_target(camera: Camera, depth: np.ndarray, observed: np.ndarray, mask: np.ndarray | None = None) -> DepthTarget:
    """The target of paper eq. 5 from a depth image.

    Without ``mask`` the silhouette is what the given pixels imply: they show the object (inside term) and
    nothing is known about the others. With ``mask`` (the full object silhouette) every mask pixel is
    inside and every other pixel is background. A dense depth image implies its own mask: pass it.
    """
    observed = torch.as_tensor(np.asarray(observed, dtype=bool))
    depth = torch.as_tensor(np.where(observed, depth, 0.0), dtype=torch.float32)
    if mask is None:
        return DepthTarget(camera, depth, observed, observed.clone(), None)
    mask = torch.as_tensor(np.asarray(mask, dtype=bool))
    return DepthTarget(camera, depth, observed, mask, ~mask)


@dataclass
class FitOptions:
    """Settings of :func:`fit_latent_to_depth` (defaults: DIST's ``run_single_shape.py``).

    Attributes:
        iterations, lr: Adam steps and learning rate on the latent.
        w_depth, w_mask_gt, w_mask_out, w_l2: weights of L_d, the inside and outside silhouette terms and
            the l2 code regulariser ``mean(z^2)``.
        gradient: the renderer's depth gradient ("approximate", paper section 3.4, or "implicit").
        diverge_factor: the loss counts as exploding above ``diverge_factor`` times its first value.
        renderer: tracer options passed to :func:`dist_core.render.render`.
    """

    iterations: int = 200
    lr: float = 1e-3
    w_depth: float = 10.0
    w_mask_gt: float = 1.0
    w_mask_out: float = 1.0
    w_l2: float = 1.0
    gradient: str = "approximate"
    diverge_factor: float = 1e3
    renderer: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, settings: dict, renderer: dict | None = None) -> "FitOptions":
        known = set(cls.__dataclass_fields__) - {"renderer"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown fit setting(s) {unknown} in the config; known: {sorted(known)}")
        return cls(**settings, renderer=dict(renderer or {}))


@dataclass
class DepthFitResult:
    """One single-view optimisation.

    Attributes:
        latent: (D,) final code (the last finite one when the optimisation failed).
        losses: total loss per iteration; ``depth_losses``, ``silhouette_losses`` its L_d and L_s parts.
        forward_queries, backward_queries: network queries of each step's rendering.
        seconds: wall time of the optimisation; ``seconds_per_step`` its mean per step.
        rendering: the rendering of the final code (no gradients), or None when it failed.
        failed, reason: whether the optimisation diverged, and why.
    """

    latent: torch.Tensor
    losses: list[float] = field(default_factory=list)
    depth_losses: list[float] = field(default_factory=list)
    silhouette_losses: list[float] = field(default_factory=list)
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


def _objective(decoder, latent: torch.Tensor, target: DepthTarget, options: FitOptions):
    rendering = render(decoder, latent, target.camera, outputs=("depth", "silhouette"), gradient=options.gradient,
                       **options.renderer)
    l_depth = depth_l1(rendering.depth, target.depth, target.observed, rendering.valid)
    sil = silhouette_loss(rendering.silhouette, rendering.valid, target.inside, target.outside)
    l_sil = options.w_mask_gt * sil.inside + options.w_mask_out * sil.outside
    loss = options.w_depth * l_depth + l_sil + options.w_l2 * latent.pow(2).mean()
    return loss, l_depth, l_sil, rendering


def fit_latent_to_depth(decoder, target: DepthTarget, init: torch.Tensor, options: FitOptions | None = None,
                        progress: bool = False, callback=None, description: str = "depth fit") -> DepthFitResult:
    """Optimise a latent code so that its rendering matches ``target`` (paper eq. 5).

    Args:
        decoder: frozen SDF network, ``decoder(latent (D,), points (N, 3)) -> (N,)``.
        target: :class:`DepthTarget` (moved to the latent's device here).
        init: (D,) initial code (the paper: the prior's mean shape), on the decoder's device.
        options: :class:`FitOptions`.
        progress: show a tqdm bar with the current loss.
        callback: called as ``callback(iteration, latent)`` after each step with the code whose loss that
            step computed (e.g. to mesh and score it for a loss-vs-Chamfer curve), ``iteration`` from 1.
    """
    from tqdm import tqdm

    options = options or FitOptions()
    target = target.to(init.device)
    frozen = [p for p in decoder.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    latent = init.detach().clone().float().requires_grad_(True)
    optimizer = torch.optim.Adam([latent], lr=options.lr)
    result = DepthFitResult(latent.detach().clone())
    started = time.perf_counter()
    first = None
    try:
        bar = tqdm(range(options.iterations), desc=description, disable=not progress, mininterval=2.0, leave=False)
        for iteration in bar:
            try:
                loss, l_depth, l_sil, rendering = _objective(decoder, latent, target, options)
            except ValueError as err:  # the renderer refuses a non-finite latent
                result.failed, result.reason = True, f"iteration {iteration}: {err}"
                break
            value = float(loss.detach())
            first = value if first is None else first
            if not math.isfinite(value):
                result.failed, result.reason = True, f"iteration {iteration}: loss is {value}"
                break
            if value > options.diverge_factor * max(first, 1e-12):
                result.failed, result.reason = True, (f"iteration {iteration}: loss exploded to {value:.3g} "
                                                      f"(first {first:.3g}); lower the learning rate")
                break
            evaluated = latent.detach().clone()
            optimizer.zero_grad()
            loss.backward()
            if not torch.isfinite(latent.grad).all():
                result.failed, result.reason = True, f"iteration {iteration}: gradient is not finite"
                break
            optimizer.step()
            result.latent = latent.detach().clone()
            result.losses.append(value)
            result.depth_losses.append(float(l_depth.detach()))
            result.silhouette_losses.append(float(l_sil.detach()))
            result.forward_queries.append(int(rendering.stats["forward_queries"]))
            result.backward_queries.append(int(rendering.stats["backward_queries"]))
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
            if callback is not None:
                callback(iteration + 1, evaluated)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    result.seconds = time.perf_counter() - started
    if not result.failed:
        with torch.no_grad():
            result.rendering = render(decoder, result.latent, target.camera, outputs=("depth", "normal", "silhouette"),
                                      gradient=options.gradient, **options.renderer)
    return result
