"""Shape from several posed colour images by cross-view photometric consistency (paper section 4.2.2, eq. 6).

The latent code starts at random (:func:`random_latent`, DIST: N(0, 0.1^2)); each step renders the depth of
the step's views with :func:`dist_core.render` (all of them in one batched trace), warps each view's neighbour
into it
(:func:`dist_core.photometric.warp_view`) and takes an Adam step on

    sum over pairs (i, j) of  color_weight * |I_i - I_{j->i}|  +  l2_weight * mean(z^2)

with DIST's pairs (:func:`neighbour_pairs`, ``optimize_multi.py``: ``views_per_round`` pairs of
consecutive views per round) and weights (colour 5, l2 1, Adam lr 1e-2, 20 epochs). No mask is used.

Optionally a similarity transform of the object (scale, rotation, translation; paper Fig. 12, real data) is
optimised with the code: :class:`SimilaritySDF` moves the shape instead of the cameras, which is the same
thing for the images.

The loop is generic in the depth renderer (``render_depth(code, camera) -> (depth, stats)``): any
differentiable depth renderer can be optimised with DIST's schedule and loss.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from .camera import Camera, axis_angle_to_matrix
from .photometric import DEPTH_THRESHOLD, photometric_loss, warp_view
from .render import render

__all__ = [
    "MultiViewSettings",
    "MultiViewResult",
    "FitDiverged",
    "SimilaritySDF",
    "random_latent",
    "neighbour_pairs",
    "optimize_photometric",
    "optimize_multi_view",
]


class FitDiverged(RuntimeError):
    """The loss became NaN or inf; the instance is recorded as failed with this message."""


@dataclass
class MultiViewSettings:
    """Optimisation settings (defaults: DIST's ``run_multi_pmodata.py``).

    Attributes:
        epochs: passes over the rounds (DIST: 20).
        views_per_round: view pairs per step (DIST: 8).
        separation: index distance of a view and its neighbour (DIST's ``sep_dist``: 1).
        lr: Adam learning rate on the code (DIST: 1e-2).
        color_weight, l2_weight: loss weights (DIST: 5 and 1).
        init_std: standard deviation of the random initial code (DIST: 0.1).
        depth_threshold: occlusion test bound on the squared depth difference, in the data's units.
        similarity: also optimise a similarity transform of the object (paper Fig. 12).
        similarity_lr: Adam learning rate of the similarity parameters.
        snapshot_every: keep the code every this many epochs (and the last) for figures.
    """

    epochs: int = 20
    views_per_round: int = 8
    separation: int = 1
    lr: float = 1e-2
    color_weight: float = 5.0
    l2_weight: float = 1.0
    init_std: float = 0.1
    depth_threshold: float = DEPTH_THRESHOLD
    similarity: bool = False
    similarity_lr: float = 1e-3
    snapshot_every: int = 5

    @classmethod
    def from_dict(cls, values: dict) -> "MultiViewSettings":
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown multi-view setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**values)


@dataclass
class MultiViewResult:
    """Outcome of :func:`optimize_photometric`.

    Attributes:
        code: the final code (detached).
        losses: total loss of every step.
        snapshots: ``(epoch, code)`` pairs, epoch 0 = the initial code.
        similarity: (scale, axis-angle (3,), translation (3,)) when optimised, else None.
        seconds_per_step, forward_queries_per_step: means over the steps (queries: 0 for non-SDF renderers).
        steps: number of optimiser steps.
    """

    code: torch.Tensor
    losses: list
    snapshots: list
    similarity: tuple | None = None
    seconds_per_step: float = 0.0
    forward_queries_per_step: float = 0.0
    steps: int = 0
    stats: dict = field(default_factory=dict)


class SimilaritySDF:
    """``sdf`` moved by ``x_world = scale * Rot(rotation) x + translation``; same call as the decoder.

    The distance scales with the object, ``f'(p) = scale * f(Rot^T (p - translation) / scale)``, so it stays a
    distance. Gradients reach ``log_scale``, ``rotation`` and ``translation`` through the renderer's single
    differentiable evaluation.
    """

    def __init__(self, sdf, log_scale: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor):
        self.sdf, self.log_scale, self.rotation, self.translation = sdf, log_scale, rotation, translation

    def __call__(self, latent: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        scale = self.log_scale.exp()
        R = axis_angle_to_matrix(self.rotation).to(points)
        local = (points - self.translation.to(points)) @ R / scale
        return scale * self.sdf(latent, local)


def random_latent(size: int, std: float, seed: int, device=None) -> torch.Tensor:
    """A seeded random code N(0, std^2) of length ``size`` (DIST's multi-view initialisation)."""
    generator = torch.Generator().manual_seed(int(seed) % (2**63))
    return (torch.randn(size, generator=generator) * std).to(device)


def neighbour_pairs(num_images: int, views_per_round: int, round_index: int, separation: int = 1) -> list:
    """DIST's view pairs ``(i, j)`` of one round (``optimize_multi.py``): views spread over the sequence,
    each with the view ``separation`` frames later; at the end of the sequence, the last view and the one
    ``separation`` before it."""
    if num_images < 2:
        raise ValueError(f"multi-view optimisation needs at least 2 views, got {num_images}")
    step = num_images / views_per_round
    pairs = []
    for k in range(views_per_round):
        i = round_index + int(math.floor(k * step))
        j = i + separation
        if j >= num_images:
            i, j = num_images - 1, num_images - 1 - separation
        pairs.append((i, j))
    return pairs


def optimize_photometric(render_depth, code: torch.Tensor, images, cameras: list, settings: MultiViewSettings,
                         extra_parameters: list | None = None, progress: bool = True,
                         description: str = "multi-view") -> MultiViewResult:
    """Minimise eq. (6) over ``code`` (and ``extra_parameters``) with DIST's schedule.

    Args:
        render_depth: ``render_depth(code, cameras) -> (depths (B, H, W), stats dict)`` for a list of B
            cameras (every view of a step at once), depth +inf on background, differentiable in ``code``.
        code: initial code (copied).
        images: (V, H, W, 3) colour images (tensor or array) in [0, 1].
        cameras: V :class:`Camera`.
        extra_parameters: list of ``(tensor, lr)`` optimised jointly (e.g. the similarity transform).
    Raises:
        FitDiverged: when the loss becomes NaN or inf.
    """
    images = torch.as_tensor(np.asarray(images), dtype=torch.float32, device=code.device)
    code = code.detach().clone().requires_grad_(True)
    groups = [{"params": [code], "lr": settings.lr}]
    groups += [{"params": [p], "lr": lr} for p, lr in (extra_parameters or [])]
    optimizer = torch.optim.Adam(groups)
    num_images = len(cameras)
    rounds = range(0, int(math.ceil(num_images / settings.views_per_round)), settings.separation)
    losses, snapshots = [], [(0, code.detach().clone())]
    seconds, queries, steps = 0.0, 0.0, 0
    bar = tqdm(range(1, settings.epochs + 1), desc=description, disable=not progress, mininterval=2)
    for epoch in bar:
        for round_index in rounds:
            start = time.perf_counter()
            optimizer.zero_grad()
            pairs = neighbour_pairs(num_images, settings.views_per_round, round_index, settings.separation)
            views = sorted({v for pair in pairs for v in pair})
            rendered, stats = render_depth(code, [cameras[v] for v in views])
            depths = dict(zip(views, rendered))
            queries += stats.get("forward_queries", 0)
            l2 = code.pow(2).mean()
            total = 0.0
            for i, j in pairs:
                warp = warp_view(depths[i], cameras[i], images[i], depths[j].detach(), cameras[j], images[j],
                                 settings.depth_threshold)
                total = total + settings.color_weight * photometric_loss(warp, code) + settings.l2_weight * l2
            if not torch.isfinite(total):
                raise FitDiverged(f"photometric loss became {float(total.detach())} at epoch {epoch}")
            total.backward()
            optimizer.step()
            if not torch.isfinite(code).all():
                raise FitDiverged(f"the code became non-finite at epoch {epoch}; lower the learning rate")
            losses.append(float(total.detach()))
            seconds += time.perf_counter() - start
            steps += 1
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        if epoch % settings.snapshot_every == 0 or epoch == settings.epochs:
            snapshots.append((epoch, code.detach().clone()))
    return MultiViewResult(code.detach(), losses, snapshots, seconds_per_step=seconds / max(steps, 1),
                           forward_queries_per_step=queries / max(steps, 1), steps=steps)


def optimize_multi_view(sdf, images, cameras: list, settings: MultiViewSettings, seed: int, latent_size: int,
                        renderer_options: dict | None = None, init: torch.Tensor | None = None,
                        progress: bool = True, description: str = "ours") -> MultiViewResult:
    """Ours (rand init): eq. (6) through :func:`dist_core.render` from a seeded random code.

    Args:
        sdf: decoder or analytic SDF, ``sdf(latent, points) -> (N,)``; its parameters are not optimised.
        seed: seed of the random initial code (DIST: N(0, ``settings.init_std``^2)).
        init: start from this code instead (e.g. the prior's mean code).
        renderer_options: tracer switches of :func:`dist_core.render` (config ``renderer``).
    """
    parameters = list(sdf.parameters()) if isinstance(sdf, torch.nn.Module) else []
    device = parameters[0].device if parameters else torch.device("cpu")
    code = random_latent(latent_size, settings.init_std, seed, device) if init is None else init.to(device)
    options = dict(renderer_options or {})
    extra, similarity = [], None
    target = sdf
    if settings.similarity:
        similarity = (torch.zeros((), device=device, requires_grad=True),
                      torch.zeros(3, device=device, requires_grad=True),
                      torch.zeros(3, device=device, requires_grad=True))
        target = SimilaritySDF(sdf, *similarity)
        extra = [(p, settings.similarity_lr) for p in similarity]

    def render_depth(latent, views):
        # Every view of the step in one trace: one (D,) code shared by the B cameras.
        rendering = render(target, latent, [c.to(device=device, dtype=torch.float32) for c in views],
                           outputs=("depth",), **options)
        return rendering.depth, rendering.stats

    result = optimize_photometric(render_depth, code, images, cameras, settings, extra, progress, description)
    if similarity is not None:
        result.similarity = (float(similarity[0].detach().exp()), similarity[1].detach().cpu(), similarity[2].detach().cpu())
    return result
