"""Cross-view photometric consistency (paper eq. 6): warp a neighbouring view's colours into a view through
that view's rendered depth and the known cameras, and compare.

The loss follows DIST's public implementation (``SDFRenderer_warp.render_warp`` and ``compute_loss_color``):

* every pixel of view ``i`` where the surface was hit is lifted to 3D with its rendered depth (this depth
  carries the gradient) and projected into view ``j``;
* occlusion test: the squared difference between the projected depth and view ``j``'s own rendered depth,
  bilinearly sampled there (no gradient), must be below ``depth_threshold`` (DIST: 1e-3 in PMO's frame);
* view ``j``'s colour image is bilinearly sampled at the projections (differentiable in the projection,
  hence in the depth of view ``i``);
* the loss is the mean absolute difference over the kept pixels and the three channels.

Pixels are OpenCV pixel centres at +0.5 (:mod:`dist_core.camera`): a pixel coordinate ``u`` maps to
``grid_sample``'s normalised coordinate ``2 u / W - 1`` with ``align_corners=False``. DIST's sampler puts
pixel centres at integers; each convention is consistent with its own cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .camera import Camera

__all__ = ["Warp", "backproject_depth", "bilinear_sample", "warp_view", "photometric_loss", "DEPTH_THRESHOLD"]

#: DIST's occlusion threshold on the squared depth difference, in PMO's frame (ShapeNet, unit diagonal).
DEPTH_THRESHOLD = 1e-3
#: Stands in for the +inf background depth before bilinear sampling: any mix with it fails the occlusion test.
_FAR = 1e4


@dataclass
class Warp:
    """View ``j`` seen from view ``i``.

    Attributes:
        colors: (M, C) colours of view ``j`` sampled at the projections of view ``i``'s kept pixels;
            differentiable in view ``i``'s depth.
        target: (M, C) colours of view ``i`` at the same pixels.
        mask: (H, W) bool, the kept pixels of view ``i`` (hit, inside view ``j``, passing the occlusion test).
    """

    colors: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor


def backproject_depth(depth: torch.Tensor, camera: Camera, mask: torch.Tensor) -> torch.Tensor:
    """World points (M, 3) of the pixels ``mask`` (H, W) with camera-frame z ``depth`` (H, W), row-major order."""
    pixels = camera.pixel_grid(device=depth.device, dtype=depth.dtype)[mask.reshape(-1)]
    K = camera.K.to(depth)
    z = depth[mask]
    x = (pixels[:, 0] - K[0, 2]) / K[0, 0] * z
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1] * z
    cam = torch.stack([x, y, z], dim=-1)
    R, t = camera.R.to(depth), camera.t.to(depth)
    return (cam - t) @ R


def bilinear_sample(image: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (M, C) of ``image`` (H, W, C) or (H, W) at pixel coordinates ``pixels`` (M, 2), (x, y),
    pixel centres at +0.5; differentiable in ``pixels`` and ``image``. Outside the image: border values."""
    flat = image.dim() == 2
    img = (image[..., None] if flat else image).permute(2, 0, 1)[None]
    H, W = img.shape[-2:]
    grid = torch.stack([2.0 * pixels[:, 0] / W - 1.0, 2.0 * pixels[:, 1] / H - 1.0], dim=-1)
    out = F.grid_sample(img, grid[None, :, None, :].to(img.dtype), mode="bilinear", padding_mode="border",
                        align_corners=False)
    out = out[0, :, :, 0].transpose(0, 1)
    return out[:, 0] if flat else out


def warp_view(depth_i: torch.Tensor, camera_i: Camera, image_i: torch.Tensor, depth_j: torch.Tensor,
              camera_j: Camera, image_j: torch.Tensor, depth_threshold: float = DEPTH_THRESHOLD) -> Warp:
    """Warp ``image_j`` into view ``i`` through ``depth_i`` (see the module docstring).

    Args:
        depth_i: (H, W) rendered camera-frame z of view i, +inf on background; carries the gradient.
        image_i, image_j: (H, W, C) colour images of views i and j.
        depth_j: (H, W) rendered depth of view j (+inf background), used for the occlusion test only.
        depth_threshold: bound on the squared depth difference of the occlusion test.
    """
    hit = torch.isfinite(depth_i)
    points = backproject_depth(depth_i, camera_i, hit)
    pixels, z = camera_j.project(points)
    H, W = depth_j.shape
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] <= W) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= H) & (z > 0)
    far = torch.where(torch.isfinite(depth_j), depth_j, torch.full_like(depth_j, _FAR)).detach()
    seen = bilinear_sample(far, pixels.detach())
    keep = inside & ((z.detach() - seen) ** 2 < depth_threshold)
    mask = torch.zeros(H * W, dtype=torch.bool, device=depth_i.device)
    mask[torch.nonzero(hit.reshape(-1)).squeeze(1)[keep]] = True
    colors = bilinear_sample(image_j.to(depth_i), pixels[keep])
    target = image_i.to(depth_i).reshape(H * W, -1)[mask]
    return Warp(colors, target, mask.reshape(H, W))


def photometric_loss(warp: Warp, anchor: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute colour difference over the kept pixels and channels (DIST's ``loss_color``).

    With no kept pixel the loss is 0; ``anchor`` (any tensor of the graph, e.g. the latent code) keeps it
    attached to the graph so that ``backward`` still runs.
    """
    if warp.colors.numel() == 0:
        zero = warp.colors.sum()
        return zero if anchor is None else zero + 0.0 * anchor.sum()
    return (warp.target - warp.colors).abs().mean()
