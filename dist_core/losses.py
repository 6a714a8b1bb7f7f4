"""Image losses of the single-view shape optimisation (paper eq. 5), as DIST's public code defines them.

* :func:`depth_l1` is ``L_d``: the mean absolute difference between rendered and observed depth over the
  pixels where both exist (DIST's ``compute_loss_depth``: observed pixels the rendering misses carry no
  depth gradient; the silhouette loss takes care of them).
* :func:`silhouette_loss` is ``L_s`` from the SDF sample of smallest ``|f|`` along each ray, ``s`` (the
  ``silhouette`` of :func:`dist_core.render.render`: the **signed** ``f`` there minus eps; > 0 on
  background). It has two terms, as DIST's ``compute_loss_mask``: ``inside`` (object pixels the rendering
  misses: mean of ``max(f - eps, 0)``, pulls the surface towards those rays) and ``outside`` (rendered
  pixels outside the object: mean of ``max(eps - f, 0)``, pushes the surface off them). Each term is 0
  when no pixel needs it. The outside term's gradient is ``-df`` on every such pixel, whatever side of
  the surface its converged sample lies on (``|f| < eps``); with ``|f|`` it would have the sign of ``f``
  and push the surface in wherever the sample lies just inside it.
* :func:`normal_loss` is DIST's ``compute_loss_normal``: the mean of ``-n . n_gt`` over the pixels where
  both normals exist. Paper eq. 5 has no normal term; DIST's ``run_single_shape.py`` adds it with weight 5
  when ground-truth normals are given (the optimisation of the paper's Fig. 5).

Images are (H, W) tensors (normals (H, W, 3)); masks are (H, W) bool tensors on the same device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["depth_l1", "normal_loss", "SilhouetteLoss", "silhouette_loss"]


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not bool(mask.any()):
        return values.new_zeros(())
    return values[mask].mean()


def depth_l1(depth: torch.Tensor, target: torch.Tensor, observed: torch.Tensor, rendered: torch.Tensor) -> torch.Tensor:
    """Mean ``|depth - target|`` over the ``observed & rendered`` pixels (0 when they do not overlap).

    Args:
        depth: (H, W) rendered camera-frame z (+inf on background).
        target: (H, W) observed depth (any value where not observed).
        observed: (H, W) bool, the pixels whose depth is given (a sparse setting keeps a subset).
        rendered: (H, W) bool, the pixels the rendering hits (``Rendering.valid``).
    """
    overlap = observed & rendered
    if not bool(overlap.any()):
        return depth.new_zeros(())
    return (depth[overlap] - target[overlap]).abs().mean()


def normal_loss(normal: torch.Tensor, target: torch.Tensor, observed: torch.Tensor,
                rendered: torch.Tensor) -> torch.Tensor:
    """Mean ``-n . n_gt`` of the unit normals over the ``observed & rendered`` pixels (0 when none): -1 when
    every rendered normal equals its target.

    Args:
        normal: (H, W, 3) rendered normals (``Rendering.normal``, camera frame).
        target: (H, W, 3) observed normals in the same frame (any value where not observed).
        observed: (H, W) bool, pixels whose normal is given.
        rendered: (H, W) bool, ``Rendering.valid``.
    """
    overlap = observed & rendered
    if not bool(overlap.any()):
        return normal.new_zeros(())
    n = torch.nn.functional.normalize(normal[overlap], dim=-1, eps=1e-12)
    t = torch.nn.functional.normalize(target[overlap], dim=-1, eps=1e-12)
    return -(n * t).sum(-1).mean()


@dataclass
class SilhouetteLoss:
    """The two terms of :func:`silhouette_loss` (each a 0-d tensor)."""

    inside: torch.Tensor
    outside: torch.Tensor


def silhouette_loss(silhouette: torch.Tensor, rendered: torch.Tensor, inside: torch.Tensor,
                    outside: torch.Tensor | None = None) -> SilhouetteLoss:
    """DIST's silhouette loss.

    Args:
        silhouette: (H, W) signed ``f - eps`` at the sample of smallest ``|f|`` along each ray
            (``Rendering.silhouette``).
        rendered: (H, W) bool, rays that hit the surface.
        inside: (H, W) bool, pixels known to show the object (the full mask, or only the given depth pixels).
        outside: (H, W) bool, pixels known to be background, or None when unknown (sparse depth without
            a mask says nothing about background).
    """
    missed = inside & ~rendered
    inside_term = _masked_mean(torch.relu(silhouette), missed)
    if outside is None:
        return SilhouetteLoss(inside_term, silhouette.new_zeros(()))
    extra = outside & rendered
    return SilhouetteLoss(inside_term, _masked_mean(torch.relu(-silhouette), extra))
