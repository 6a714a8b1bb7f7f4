"""The DeepSDF baseline of Table 2: shape completion from a depth image by DeepSDF's latent fit.

DeepSDF cannot use a depth image directly: its pixels are back-projected to 3D and SDF samples are placed
at fixed distances along the surface normal on both sides (value ``+d`` outside, ``-d`` inside), as DeepSDF
prepares a partial scan for shape completion. ``surface=True`` also keeps the surface points themselves
(value 0), which DeepSDF does not (a switch, off for the paper's protocol). The paper gives DeepSDF the
ground-truth normals, since they cannot be estimated reliably from sparse depth. The code is then fitted
with DeepSDF's ``reconstruct`` (:func:`dist_core.prior.fit_latent_to_sdf_samples`: clamped L1, l2 code
regulariser, Adam).
"""

from __future__ import annotations

import numpy as np
import torch

from ..camera import Camera
from ..data.groundtruth import backproject
from ..prior import FitResult, SdfSamples, fit_latent_to_sdf_samples

__all__ = ["depth_sdf_samples", "fit_depth_deepsdf"]


def depth_sdf_samples(depth: np.ndarray, normal: np.ndarray, observed: np.ndarray, camera: Camera,
                      offsets=(0.025,), surface: bool = False) -> SdfSamples:
    """SDF samples from the ``observed`` pixels of a depth image and their normals.

    Args:
        depth: (H, W) camera-frame z.
        normal: (H, W, 3) unit outward normals in the camera frame (x right, y down, z forward).
        observed: (H, W) bool, the pixels to use.
        camera: the view; samples are in its world (object) frame.
        offsets: distances along the normal; each gives a sample at ``p + d n`` (SDF ``d``) and ``p - d n``
            (SDF ``-d``) per pixel.
        surface: also keep the back-projected points (SDF 0; counted with the positive samples).
    Returns:
        :class:`~dist_core.prior.SdfSamples`, ``pos`` / ``neg`` (N, 4) rows ``x, y, z, sdf``.
    """
    observed = np.asarray(observed, dtype=bool)
    if not observed.any():
        raise ValueError("no observed depth pixel: DeepSDF has no sample to fit")
    points = backproject(np.asarray(depth, dtype=np.float64), observed, camera)
    R = camera.R.detach().double().numpy()
    normals = np.asarray(normal, dtype=np.float64)[observed] @ R  # camera -> world: R^T n
    normals /= np.linalg.norm(normals, axis=1, keepdims=True).clip(min=1e-12)
    pos = [np.concatenate([points, np.zeros((len(points), 1))], axis=1)] if surface else []
    neg = []
    for d in offsets:
        column = np.full((len(points), 1), float(d))
        pos.append(np.concatenate([points + d * normals, column], axis=1))
        neg.append(np.concatenate([points - d * normals, -column], axis=1))
    return SdfSamples.from_arrays(np.concatenate(pos).astype(np.float32), np.concatenate(neg).astype(np.float32))


def fit_depth_deepsdf(decoder, depth: np.ndarray, normal: np.ndarray, observed: np.ndarray, camera: Camera,
                      offsets=(0.025,), surface: bool = False, seed: int = 0, **fit) -> FitResult:
    """DeepSDF's latent fit to the SDF samples of a depth image (:func:`depth_sdf_samples`).

    ``fit`` goes to :func:`dist_core.prior.fit_latent_to_sdf_samples` (iterations, lr, samples_per_step,
    l2_reg, clamp, init_std, init, progress). A depth image gives far fewer samples than DeepSDF's 8000
    per step (a 128 x 128 view about 2 x 1,200, 20 points 40): ``reconstruct`` would draw the same few samples
    over and over, so a step here draws at most as many as there are (same expected loss, a fraction of
    the cost).
    """
    samples = depth_sdf_samples(depth, normal, observed, camera, offsets, surface)
    available = 2 * max(len(samples.pos), len(samples.neg))
    fit["samples_per_step"] = min(int(fit.get("samples_per_step", 8000)), available)
    return fit_latent_to_sdf_samples(decoder, samples, seed=seed, **fit)
