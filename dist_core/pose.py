"""Camera pose from depth and silhouette through the renderer: the paper's Fig. 6 sanity check (section 4.1).

The shape is known and fixed (a latent code of the prior, or an analytic SDF); the camera starts from a
random pose near the true one and Adam moves it, through :meth:`Camera.with_pose_delta` (an axis-angle
rotation ``w`` and a translation ``dt`` applied to the start pose), to minimise the losses of the
single-view experiment on the rendered depth and silhouette (:mod:`dist_core.losses`, paper eq. 5):
``w_depth * depth_l1 + w_silhouette * (inside + outside)``, with DIST's single-view weights 10 and 1 by
default (measured on the test shape: equal weights left 2.3-7.8 degrees of error after 30 steps from
12 degrees off, where 10 and 1 converge to 0.7-2.7 after 30 and below 0.2 after 60).

:func:`pose_error` measures how far a camera is from the true one: the angle of ``R_est R_true^T`` in
degrees and the distance between the camera centres.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .camera import Camera, axis_angle_to_matrix
from .losses import depth_l1, silhouette_loss
from .render import render

__all__ = ["PoseFit", "perturb_pose", "pose_error", "fit_pose", "camera_demo", "pose_figure"]


def pose_error(camera: Camera, reference: Camera) -> tuple[float, float]:
    """(rotation error in degrees, distance between the camera centres) of ``camera`` against ``reference``."""
    R = camera.R.detach().double() @ reference.R.detach().double().transpose(0, 1)
    cosine = ((torch.trace(R) - 1.0) / 2.0).clamp(-1.0, 1.0)
    distance = (camera.center.detach().double() - reference.center.detach().double()).norm()
    return math.degrees(math.acos(float(cosine))), float(distance)


def perturb_pose(camera: Camera, rotation_degrees: float, translation: float, seed: int) -> Camera:
    """``camera`` orbited about the object's origin by ``rotation_degrees`` around a random axis, then moved
    by ``translation`` in a random direction: a start that still sees the object."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    Q = axis_angle_to_matrix(torch.as_tensor(axis * math.radians(rotation_degrees), dtype=torch.float64))
    shift = rng.normal(size=3)
    shift = shift / np.linalg.norm(shift) * translation
    R = camera.R.detach().double() @ Q.transpose(0, 1)
    center = Q @ camera.center.detach().double() + torch.as_tensor(shift, dtype=torch.float64)
    return Camera(camera.K, R, -R @ center, camera.width, camera.height)


@dataclass
class PoseFit:
    """Outcome of :func:`fit_pose`.

    Attributes:
        camera: the final camera (detached).
        losses: total loss of each iteration.
        rotation_error_degrees, translation_error: :func:`pose_error` of the camera rendered at each
            iteration (the start first) against the reference, when one was given.
        seconds: wall time of the loop.
        forward_queries: network queries of the traces, summed over the iterations.
        failed: why the loop stopped early (a non-finite loss), or ``None``.
        images: iteration -> {"normal" (H, W, 3), "valid" (H, W), "silhouette_error" (H, W)} of the
            iterations asked for with ``snapshots``.
    """

    camera: Camera
    losses: list = field(default_factory=list)
    rotation_error_degrees: list = field(default_factory=list)
    translation_error: list = field(default_factory=list)
    seconds: float = 0.0
    forward_queries: int = 0
    failed: str | None = None
    images: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dict per iteration: iteration, loss, rotation_error_degrees, translation_error."""
        return [{"iteration": i, "loss": loss,
                 "rotation_error_degrees": self.rotation_error_degrees[i] if self.rotation_error_degrees else math.nan,
                 "translation_error": self.translation_error[i] if self.translation_error else math.nan}
                for i, loss in enumerate(self.losses)]


def fit_pose(sdf, latent: torch.Tensor, target_depth: torch.Tensor, target_mask: torch.Tensor, start: Camera,
             iterations: int = 100, lr: float = 0.01, depth_weight: float = 10.0, silhouette_weight: float = 1.0,
             reference: Camera | None = None, progress=None, snapshots: tuple = (), **render_options) -> PoseFit:
    """Optimise the pose of ``start`` so that the rendering of the fixed shape matches the targets.

    Args:
        sdf, latent: the known shape (the latent is not optimised).
        target_depth: (H, W) observed camera z (any value outside ``target_mask``).
        target_mask: (H, W) bool, the object's silhouette.
        start: initial camera (its intrinsics and size are kept).
        iterations, lr: Adam steps and initial learning rate (cosine decay to lr / 100) on the axis-angle
            and translation of the pose delta.
        reference: the true camera, to record :func:`pose_error` per iteration.
        progress: optional wrapper of the iteration range (tqdm), told the current loss with ``set_postfix``.
        snapshots: iterations whose rendering (normal image and silhouette) is kept in ``PoseFit.images``.
        **render_options: passed to :func:`dist_core.render.render` (tracer switches).
    """
    device = latent.device
    latent = latent.detach()
    target_depth = target_depth.to(device)
    target_mask = target_mask.to(device)
    base = start.to(device=device, dtype=torch.float32)
    rotation = torch.zeros(3, device=device, requires_grad=True)
    translation = torch.zeros(3, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([rotation, translation], lr=lr)
    # Near the optimum, pixel-quantised silhouettes make a constant step oscillate by a degree or two;
    # a cosine decay to lr / 100 settles it.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(iterations, 1), eta_min=lr / 100)
    result = PoseFit(camera=start)
    steps = range(iterations + 1) if progress is None else progress(range(iterations + 1))
    begin = time.perf_counter()
    for it in steps:
        camera = base.with_pose_delta(rotation, translation)
        if reference is not None:
            r_err, t_err = pose_error(camera, reference)
            result.rotation_error_degrees.append(r_err)
            result.translation_error.append(t_err)
        out = render(sdf, latent, camera, outputs=("depth", "silhouette", "normal"), **render_options)
        result.forward_queries += int(out.stats["forward_queries"])
        silhouette = silhouette_loss(out.silhouette, out.valid, target_mask, ~target_mask)
        loss = depth_weight * depth_l1(out.depth, target_depth, target_mask, out.valid) + \
            silhouette_weight * (silhouette.inside + silhouette.outside)
        result.losses.append(float(loss.detach()))
        if it in snapshots:
            result.images[it] = {"normal": out.normal.detach().cpu(), "valid": out.valid.cpu(),
                                 "silhouette_error": (out.valid != target_mask).cpu()}
        if not math.isfinite(result.losses[-1]):
            result.failed = f"loss became {result.losses[-1]} at iteration {it}"
            break
        if hasattr(steps, "set_postfix"):
            steps.set_postfix(loss=f"{result.losses[-1]:.5f}", refresh=False)
        if it == iterations:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    result.seconds = time.perf_counter() - begin
    with torch.no_grad():
        final = base.with_pose_delta(rotation.detach(), translation.detach())
    result.camera = Camera(final.K, final.R.detach().double(), final.t.detach().double(), final.width, final.height)
    return result


def camera_demo(sdf, latent: torch.Tensor, camera: Camera, rotation_degrees: float, translation: float, seed: int,
                iterations: int, lr: float, depth_weight: float = 10.0, silhouette_weight: float = 1.0,
                snapshots: tuple = (), progress=None, **render_options) -> PoseFit:
    """Fig. 6: render the true depth and silhouette of the shape seen by ``camera``, start from
    :func:`perturb_pose` and recover the pose with :func:`fit_pose` (errors recorded against ``camera``)."""
    with torch.no_grad():
        truth = render(sdf, latent, camera, outputs=("depth",), **render_options)
    if not bool(truth.valid.any()):
        raise ValueError(f"the shape is not visible from the demo camera {camera}; move the camera closer")
    depth = torch.where(truth.valid, truth.depth, torch.zeros_like(truth.depth))
    start = perturb_pose(camera, rotation_degrees, translation, seed)
    return fit_pose(sdf, latent, depth, truth.valid, start, iterations, lr, depth_weight, silhouette_weight,
                    reference=camera, progress=progress, snapshots=tuple(snapshots), **render_options)


def pose_figure(path, fit: PoseFit) -> None:
    """The paper's Fig. 6 layout: rendered normals (top) and silhouette error (bottom) at the snapshot
    iterations, and the pose errors per iteration (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    shots = sorted(fit.images)
    fig = plt.figure(figsize=(2.2 * len(shots) + 4.5, 4.6))
    grid = fig.add_gridspec(2, len(shots) + 2)
    for column, it in enumerate(shots):
        image = fit.images[it]
        normal = ((image["normal"].numpy() * np.array([1, -1, -1]) + 1.0) / 2.0).clip(0, 1)
        normal[~image["valid"].numpy()] = 1.0
        top = fig.add_subplot(grid[0, column])
        top.imshow(normal)
        top.set_title(f"iteration {it}\n{fit.rotation_error_degrees[it]:.1f} deg" if fit.rotation_error_degrees
                      else f"iteration {it}", fontsize=8)
        bottom = fig.add_subplot(grid[1, column])
        bottom.imshow(image["silhouette_error"].numpy(), cmap="Reds", vmin=0, vmax=1)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
    curve = fig.add_subplot(grid[:, len(shots):])
    curve.plot(fit.rotation_error_degrees, label="rotation error (deg)")
    curve.plot([100 * t for t in fit.translation_error], label="camera centre error (x 0.01)")
    curve.set_xlabel("iteration")
    curve.set_yscale("log")
    curve.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
