"""The images and cameras a multi-view optimisation sees: backgrounds composited under the masks, the
focal-length crop of the robustness test (paper Fig. 10(a)) and the resize to the optimisation's resolution.

The embedded sequences are rendered on black, which is photo-consistent with any surface placed in front
of it and leaves the photometric loss (paper eq. 6) blind there. PMO's sequences are composited on SUN360
panoramas, so :func:`environment_background` composites a seeded procedural panorama (a colour field of the
viewing direction, i.e. at infinity) under the masks (``background: environment``); real PMO sequences
already have one (``background: none``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..camera import Camera
from .inputs import MultiViewInput

__all__ = ["environment_background", "prepare_views"]


def environment_background(cameras: list, seed: int, waves: int = 16, frequencies=(4.0, 24.0)) -> np.ndarray:
    """(V, H, W, 3) colour of a seeded procedural panorama at infinity seen by each camera: per channel a sum of
    ``waves`` sinusoids of the unit viewing direction (a stand-in for PMO's SUN360 backgrounds)."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(3, waves, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    axes *= rng.uniform(*frequencies, size=(3, waves, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(3, waves))
    views = []
    for camera in cameras:
        d = camera.rays(dtype=torch.float64).directions.numpy()
        value = np.sin(np.einsum("nd,cwd->ncw", d, axes) + phase).sum(-1) / math.sqrt(waves / 2.0)
        views.append(np.clip(0.5 + 0.2 * value, 0.0, 1.0).reshape(camera.height, camera.width, 3))
    return np.stack(views).astype(np.float32)


def prepare_views(data: MultiViewInput, resolution: int, background: str, seed: int,
                  focal_scale: float = 1.0, frames=None) -> tuple[np.ndarray, list]:
    """Images (V, r, r, 3) and cameras of the optimisation.

    Args:
        resolution: side in pixels; the images are area-averaged down to it and the cameras scaled so that
            pixel centres still match (:meth:`Camera.scaled`).
        background: "environment" (composite :func:`environment_background` under the masks) or "none".
            The panorama depends on the viewing direction only, so a frame gets the same background
            whichever ``frames`` are chosen.
        focal_scale: the robustness test of paper Fig. 10(a): keep the central ``1 / focal_scale`` of the
            image (a longer focal length) before resizing; 1 keeps the data's cameras.
        frames: indices of the sequence's frames to keep, in order (None: all).
    """
    frames = range(len(data.cameras)) if frames is None else list(frames)
    if len(frames) and not 0 <= min(frames) <= max(frames) < len(data.cameras):
        raise ValueError(f"frames {min(frames)}..{max(frames)} requested from a {len(data.cameras)}-frame sequence; "
                         "check table3.frames and table3.pmo.encoder_view")
    images = np.asarray(data.images, dtype=np.float32)[list(frames)]
    masks = np.asarray(data.masks)[list(frames)]
    cameras = [data.cameras[k] for k in frames]
    if background == "environment":
        images = np.where(masks[..., None], images, environment_background(cameras, seed))
    elif background != "none":
        raise ValueError(f"table3.background must be 'environment' or 'none', got {background!r}")
    if focal_scale != 1.0:
        H, W = images.shape[1:3]
        h, w = int(round(H / focal_scale)), int(round(W / focal_scale))
        top, left = (H - h) // 2, (W - w) // 2
        images = images[:, top:top + h, left:left + w]
        shift = torch.tensor([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]], dtype=torch.float64)
        cameras = [Camera(shift @ c.K, c.R, c.t, w, h) for c in cameras]
    H, W = images.shape[1:3]
    if (H, W) != (resolution, resolution):
        tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        images = F.interpolate(tensor, size=(resolution, resolution), mode="area").permute(0, 2, 3, 1).numpy()
        cameras = [Camera(torch.diag(torch.tensor([resolution / W, resolution / H, 1.0], dtype=torch.float64)) @ c.K,
                          c.R, c.t, resolution, resolution) for c in cameras]
    return images, cameras
