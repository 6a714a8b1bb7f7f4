"""Analytic signed distance functions with the decoder's call signature.

Every shape here is called as ``shape(latent, points) -> sdf (N,)`` like a DeepSDF decoder, with the
shape's parameters as its latent code, so each renderer test can run on a shape with an exact answer and
gradients with respect to the "latent" are gradients with respect to radius, centre or size:

* :class:`Sphere`  latent ``[cx, cy, cz, r]``
* :class:`Box`     latent ``[cx, cy, cz, hx, hy, hz]`` (half extents)
* :class:`Torus`   latent ``[cx, cy, cz, R, r]`` (major, minor radius; the ring lies in the x-z plane)
* :class:`Union`   latent is the concatenation of its parts' latents

``shape.latent`` holds the parameters the shape was built with; pass another tensor of the same layout
to evaluate a different member of the family. ``latent`` may be (D,) or (N, D), one code per point, or
(B, D) with ``code_index`` (N,) naming each point's row (the batched renderer's call, as the decoder's).
All distances are exact Euclidean distances (the box and torus formulas are Inigo Quilez's), which makes
sphere tracing on them converge to closed-form intersections.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AnalyticSDF", "Sphere", "Box", "Torus", "Union"]


class AnalyticSDF(nn.Module):
    """Base class: subclasses implement :meth:`distance` for (N, D) parameters and (N, 3) points."""

    latent_size: int
    takes_code_index = True

    def __init__(self, latent: list[float]):
        super().__init__()
        self.register_buffer("latent", torch.tensor(latent, dtype=torch.float32))
        self.latent_size = len(latent)

    def forward(self, latent: torch.Tensor, points: torch.Tensor, code_index: torch.Tensor | None = None) -> torch.Tensor:
        if code_index is not None:
            latent = latent[code_index]
        elif latent.dim() == 1:
            latent = latent.unsqueeze(0).expand(points.shape[0], -1)
        if latent.shape[-1] != self.latent_size:
            raise ValueError(f"{type(self).__name__} takes a latent of size {self.latent_size}, got {latent.shape[-1]}")
        return self.distance(latent.to(points.dtype), points)

    def distance(self, params: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Sphere(AnalyticSDF):
    def __init__(self, radius: float = 0.5, center=(0.0, 0.0, 0.0)):
        super().__init__([*center, radius])

    def distance(self, params, points):
        return (points - params[:, :3]).norm(dim=-1) - params[:, 3]


class Box(AnalyticSDF):
    def __init__(self, half_extents=(0.4, 0.3, 0.2), center=(0.0, 0.0, 0.0)):
        super().__init__([*center, *half_extents])

    def distance(self, params, points):
        q = (points - params[:, :3]).abs() - params[:, 3:6]
        outside = q.clamp(min=0.0).norm(dim=-1)
        inside = q.max(dim=-1).values.clamp(max=0.0)
        return outside + inside


class Torus(AnalyticSDF):
    def __init__(self, major: float = 0.5, minor: float = 0.2, center=(0.0, 0.0, 0.0)):
        super().__init__([*center, major, minor])

    def distance(self, params, points):
        p = points - params[:, :3]
        ring = torch.sqrt(p[:, 0] ** 2 + p[:, 2] ** 2) - params[:, 3]
        return torch.sqrt(ring**2 + p[:, 1] ** 2) - params[:, 4]


class Union(AnalyticSDF):
    """Union of shapes: the minimum of their distances (exact outside the shapes, a bound inside)."""

    def __init__(self, *parts: AnalyticSDF):
        super().__init__(torch.cat([p.latent for p in parts]).tolist())
        self.parts = nn.ModuleList(parts)

    def distance(self, params, points):
        values, start = [], 0
        for part in self.parts:
            values.append(part.distance(params[:, start : start + part.latent_size], points))
            start += part.latent_size
        return torch.stack(values, dim=-1).min(dim=-1).values
