"""Querying an SDF on many points: per-point codes, chunks, and gradients that recompute in the backward pass.

Every SDF in dist is called as ``sdf(latent, points (N, 3)) -> (N,)`` with ``latent`` (D,) or (N, D). A
batch of images adds a third form: B codes (B, D) and ``code_index`` (N,), each point's row. SDFs that take
it directly (``sdf.takes_code_index``: :class:`~dist_core.decoder.Decoder` folds each code into its biases
once, the analytic shapes of :mod:`dist_core.sdf`) get the index; any other callable gets the gathered
(N, D) codes.

:func:`differentiable_sdf` is the renderer's memory bound (paper section 3.4 evaluates one differentiable
sample per ray; at 512 x 512 with DeepSDF's 8 x 512 decoder the activations of 262,144 samples at once
take gigabytes): its forward pass returns values the tracer has already computed without building a graph,
and its backward pass evaluates the network again, ``chunk`` points at a time, each chunk's activations
freed before the next (a vector-Jacobian product per chunk). Peak memory follows the chunk, the
gradients are those of one evaluation of all points, and no sample is evaluated twice in the forward pass.
The gradients it computes are those of the latent, the points and the parameters of an ``nn.Module`` SDF;
any other callable (a function that closes over tensors that require gradients, for example) is evaluated
directly, with its graph, so that every tensor it uses gets its gradient (memory is then not bounded).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["call_sdf", "evaluate_sdf", "sdf_gradient", "differentiable_sdf"]


def call_sdf(sdf, latent: torch.Tensor, points: torch.Tensor, code_index: torch.Tensor | None = None) -> torch.Tensor:
    """``sdf(latent, points)`` with ``latent`` (D,) / (N, D), or (B, D) codes picked per point by ``code_index``."""
    if code_index is None:
        return sdf(latent, points).reshape(-1)
    if getattr(sdf, "takes_code_index", False):
        return sdf(latent, points, code_index=code_index).reshape(-1)
    return sdf(latent[code_index], points).reshape(-1)


def evaluate_sdf(sdf, latent: torch.Tensor, points: torch.Tensor, chunk: int,
                 code_index: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`call_sdf` in chunks of at most ``chunk`` points (bounds activation memory); (N,)."""
    if points.shape[0] <= chunk:
        return call_sdf(sdf, latent, points, code_index)
    return torch.cat([call_sdf(sdf, latent, points[s : s + chunk], None if code_index is None else code_index[s : s + chunk])
                      for s in range(0, points.shape[0], chunk)])


def sdf_gradient(sdf, latent: torch.Tensor, points: torch.Tensor, chunk: int,
                 code_index: torch.Tensor | None = None) -> torch.Tensor:
    """Spatial gradient ``grad_x f`` (N, 3) at ``points``, in chunks, detached (no graph is kept)."""
    latent = latent.detach()
    parts = []
    with torch.enable_grad():
        for s in range(0, points.shape[0], chunk):
            p = points[s : s + chunk].detach().requires_grad_(True)
            f = call_sdf(sdf, latent, p, None if code_index is None else code_index[s : s + chunk])
            parts.append(torch.autograd.grad(f.sum(), p)[0])
    return torch.cat(parts) if parts else points.new_zeros(0, 3)


def _trainable_parameters(sdf) -> tuple:
    return tuple(p for p in sdf.parameters() if p.requires_grad) if isinstance(sdf, nn.Module) else ()


class _RecomputedSDF(torch.autograd.Function):
    """Returns the given values; backward recomputes ``sdf`` chunk by chunk (see the module docstring)."""

    @staticmethod
    def forward(ctx, sdf, chunk, code_index, values, latent, points, *params):
        ctx.sdf, ctx.chunk, ctx.code_index = sdf, chunk, code_index
        ctx.save_for_backward(latent, points)
        return values.detach().clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        latent, points = ctx.saved_tensors
        need_latent, need_points = ctx.needs_input_grad[4], ctx.needs_input_grad[5]
        params = _trainable_parameters(ctx.sdf)
        need_params = [p for p, need in zip(params, ctx.needs_input_grad[6:]) if need]
        latent_grad = torch.zeros_like(latent) if need_latent else None
        points_grad = torch.zeros_like(points) if need_points else None
        params_grad = [torch.zeros_like(p) for p in need_params]
        chunk = points.shape[0] if ctx.chunk is None else ctx.chunk
        with torch.enable_grad():
            z = latent.detach().requires_grad_(need_latent)
            for s in range(0, points.shape[0], max(chunk, 1)):
                p = points[s : s + chunk].detach().requires_grad_(need_points)
                index = None if ctx.code_index is None else ctx.code_index[s : s + chunk]
                f = call_sdf(ctx.sdf, z, p, index)
                inputs = ([z] if need_latent else []) + ([p] if need_points else []) + need_params
                grads = list(torch.autograd.grad(f, inputs, grad[s : s + chunk], allow_unused=True))
                if need_latent:
                    g = grads.pop(0)
                    if g is not None:
                        latent_grad += g
                if need_points:
                    g = grads.pop(0)
                    if g is not None:
                        points_grad[s : s + chunk] = g
                for total, g in zip(params_grad, grads):
                    if g is not None:
                        total += g
        params_iter = iter(params_grad)
        param_grads = [next(params_iter) if need else None for need in ctx.needs_input_grad[6:]]
        return (None, None, None, None, latent_grad, points_grad, *param_grads)


def differentiable_sdf(sdf, latent: torch.Tensor, points: torch.Tensor, values: torch.Tensor, chunk: int | None,
                       code_index: torch.Tensor | None = None) -> torch.Tensor:
    """``values`` (N,), differentiable as ``sdf(latent, points)`` in ``latent``, ``points`` and the SDF's
    trainable parameters, with the network evaluated only in the backward pass, ``chunk`` points at a time
    (``None``: all at once).

    Args:
        values: (N,) the SDF at ``points`` as the tracer measured it (or the value the caller assigns there).
        latent: (D,) code, (N, D) per point, or (B, D) with ``code_index``.
        points: (N, 3) world-frame points; their gradient reaches the camera pose when they carry one.
    """
    if not isinstance(sdf, nn.Module):
        f = call_sdf(sdf, latent, points, code_index)
        return values.detach() + (f - f.detach())
    return _RecomputedSDF.apply(sdf, chunk, code_index, values, latent, points, *_trainable_parameters(sdf))
