"""An implicit colour field beside the SDF prior: the paper's "Color and Semantics" (section 3.3, Fig. 8).

:class:`ColorField` maps a shape's latent code and a point of DeepSDF's normalised frame to an RGB albedo,
``color(latent, points (N, 3)) -> (N, 3)`` in [0, 1], the call that :func:`dist_core.render.render` takes
for its ``"color"`` output. The point goes through a sinusoidal encoding (octaves ``2^k pi``, as texture
fields and NeRF do) so that the network can follow the procedural textures of
:mod:`dist_core.data.synthetic`, whose waves reach about 30 radians per unit.

Training data (:func:`surface_color_samples`): points on a procedural shape's mesh with their albedo
(:meth:`SyntheticShape.albedo`), moved into the normalised frame of the prior, jittered off the surface
by a few thousandths so that the field is defined where the tracer stops (``|f| < eps`` of the prior's
surface, not the mesh's). :func:`train_color_field` fits one field to several shapes at once, each
conditioned on its fixed prior code.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["ColorField", "ColorSamples", "ColorTraining", "surface_color_samples", "train_color_field",
           "save_color_field", "load_color_field", "render_color_views", "color_figure"]

WEIGHTS_FILE = "color_field.pth"
SPECS_FILE = "color_specs.json"


class ColorField(nn.Module):
    """RGB albedo of a family of shapes: ``sigmoid(MLP([latent, encode(x)]))``.

    Args:
        latent_size: size of the shape code it is conditioned on (the prior's CodeLength).
        hidden: width of the hidden layers.
        layers: number of hidden layers.
        octaves: sinusoidal encoding of x with frequencies ``2^k pi``, k < octaves (0: raw x only).
    """

    def __init__(self, latent_size: int, hidden: int = 128, layers: int = 4, octaves: int = 5):
        super().__init__()
        self.specs = {"latent_size": int(latent_size), "hidden": int(hidden), "layers": int(layers),
                      "octaves": int(octaves)}
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(octaves, dtype=torch.float32))
        width = latent_size + 3 + 6 * octaves
        blocks = []
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(width, 3))

    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 3) -> (N, 3 + 6 * octaves): x, sin and cos of every octave."""
        angles = (points[:, :, None] * self.frequencies).reshape(points.shape[0], -1)
        return torch.cat([points, torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, latent: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Albedo (N, 3) in [0, 1] at ``points`` (N, 3) for ``latent`` (D,) or (N, D)."""
        points = points.to(self.frequencies.dtype)
        if latent.dim() == 1:
            latent = latent.unsqueeze(0).expand(points.shape[0], -1)
        return torch.sigmoid(self.net(torch.cat([latent.to(points.dtype), self.encode(points)], dim=-1)))


@dataclass
class ColorSamples:
    """Coloured points of one shape in the normalised frame.

    Attributes:
        points: (N, 3) float32 points near the surface.
        colors: (N, 3) float32 albedo in [0, 1].
    """

    points: np.ndarray
    colors: np.ndarray


def surface_color_samples(shape, normalization, count: int, seed: int, jitter: float = 0.003) -> ColorSamples:
    """``count`` points on ``shape.mesh`` (a :class:`~dist_core.data.synthetic.SyntheticShape`) with their albedo.

    Args:
        shape: the procedural shape (its mesh and colours live in the ShapeNet model frame).
        normalization: :class:`~dist_core.data.deepsdf.Normalization` of the instance (model -> prior frame).
        count: number of points.
        seed: seed of the surface sampling and of the jitter.
        jitter: standard deviation of the Gaussian offset of each point, in the normalised frame; the colour
            is the one of the surface point it came from.
    """
    import trimesh

    rng = np.random.default_rng(seed)
    model_points, _ = trimesh.sample.sample_surface(shape.mesh, count, seed=int(rng.integers(2**31)))
    colors = shape.albedo(model_points)
    points = normalization.apply(model_points) + rng.normal(0.0, jitter, size=(count, 3))
    return ColorSamples(points.astype(np.float32), colors.astype(np.float32))


@dataclass
class ColorTraining:
    """Outcome of :func:`train_color_field`.

    Attributes:
        losses: mean squared RGB error of each iteration's batch.
        seconds: wall time of the loop.
        final_rmse: RGB root mean squared error over every training sample after the last iteration.
    """

    losses: list = field(default_factory=list)
    seconds: float = 0.0
    final_rmse: float = math.nan


def train_color_field(color_field: ColorField, latents: torch.Tensor, samples: list, iterations: int,
                      lr: float = 1e-3, batch: int = 4096, seed: int = 0, progress=None) -> ColorTraining:
    """Fit ``color_field`` to the samples of several shapes, shape ``i`` conditioned on ``latents[i]``.

    Adam on the field's weights (the codes stay fixed: they are the prior's), mean squared RGB error,
    learning rate divided by 10 for the last quarter of the iterations.

    Args:
        color_field: the network, trained in place on the device of its parameters.
        latents: (S, D) codes, one per shape.
        samples: S :class:`ColorSamples`.
        iterations: optimisation steps.
        batch: points per step, drawn uniformly over all shapes.
        progress: optional wrapper of the iteration range (tqdm), told the current loss with ``set_postfix``.
    """
    if len(samples) != len(latents):
        raise ValueError(f"train_color_field got {len(latents)} latent codes for {len(samples)} shapes")
    device = next(color_field.parameters()).device
    points = torch.cat([torch.as_tensor(s.points) for s in samples]).to(device)
    colors = torch.cat([torch.as_tensor(s.colors) for s in samples]).to(device)
    owner = torch.cat([torch.full((len(s.points),), i, dtype=torch.long) for i, s in enumerate(samples)]).to(device)
    codes = latents.detach().to(device=device, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(color_field.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [max(1, (3 * iterations) // 4)], gamma=0.1)
    result = ColorTraining()
    steps = range(iterations) if progress is None else progress(range(iterations))
    start = time.perf_counter()
    for _ in steps:
        pick = torch.randint(len(points), (min(batch, len(points)),), generator=generator).to(device)
        loss = (color_field(codes[owner[pick]], points[pick]) - colors[pick]).pow(2).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"colour field loss became {loss.item()} after {len(result.losses)} "
                                     f"iterations; lower the learning rate (now {lr})")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        result.losses.append(float(loss.detach()))
        if hasattr(steps, "set_postfix"):
            steps.set_postfix(loss=f"{result.losses[-1]:.5f}", refresh=False)
    result.seconds = time.perf_counter() - start
    with torch.no_grad():
        errors = [(color_field(codes[owner[i:i + 65536]], points[i:i + 65536]) - colors[i:i + 65536]).pow(2).sum()
                  for i in range(0, len(points), 65536)]
    result.final_rmse = math.sqrt(float(sum(errors)) / (3 * len(points)))
    return result


def save_color_field(folder, color_field: ColorField, extra: dict | None = None) -> Path:
    """Write ``color_specs.json`` (the constructor's arguments and ``extra``) and ``color_field.pth``."""
    from .io import atomic_path, write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        torch.save({k: v.detach().cpu() for k, v in color_field.state_dict().items()}, tmp)
    write_json(folder / SPECS_FILE, {**color_field.specs, **(extra or {})})
    return folder


def load_color_field(folder, map_location="cpu") -> tuple[ColorField, dict]:
    """The field written by :func:`save_color_field` and its specs."""
    folder = Path(folder)
    specs_path, weights_path = folder / SPECS_FILE, folder / WEIGHTS_FILE
    if not specs_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(f"{folder} holds no colour field ({SPECS_FILE} and {WEIGHTS_FILE}); "
                                "run `snakemake color_demo` or dist_core.color.save_color_field")
    specs = json.loads(specs_path.read_text())
    color_field = ColorField(specs["latent_size"], specs["hidden"], specs["layers"], specs["octaves"])
    try:
        state = torch.load(weights_path, map_location=map_location, weights_only=True)
        color_field.load_state_dict(state)
    except Exception as error:  # truncated file or another network's weights
        raise RuntimeError(f"cannot load colour field {weights_path}: {error}; rerun `snakemake color_demo`") from error
    return color_field.to(map_location).eval(), specs


def render_color_views(sdf, color_field: ColorField, latents: torch.Tensor, resolutions, lights, camera_for,
                       **render_options) -> list[list[dict]]:
    """Fig. 8: each shape rendered in colour at every resolution under the first light, then under every
    other light at the last resolution from another viewpoint.

    Args:
        sdf: the prior's decoder; shape ``i`` is ``latents[i]`` (also the colour field's condition).
        lights: :class:`~dist_core.render.DirectionalLight` list.
        camera_for: ``camera_for(resolution, view) -> Camera``, view 0 for the resolution sweep and 1 for
            the light sweep.
    Returns:
        one row per shape of dicts ``{"label", "image" (H, W, 3) float in [0, 1] on white, "seconds",
        "forward_queries"}``.
    """
    from .render import render

    rows = []
    for latent in latents:
        jobs = [(f"{r} x {r}", camera_for(r, 0), lights[0]) for r in resolutions]
        jobs += [(f"light {k + 1}", camera_for(resolutions[-1], 1), light) for k, light in enumerate(lights[1:], 1)]
        row = []
        for label, camera, light in jobs:
            start = time.perf_counter()
            with torch.no_grad():
                out = render(sdf, latent, camera, outputs=("color",), color=color_field, light=light, **render_options)
            image = torch.where(out.valid[..., None], out.color, torch.ones_like(out.color)).clamp(0, 1)
            row.append({"label": label, "image": image.cpu().numpy(), "seconds": time.perf_counter() - start,
                        "forward_queries": int(out.stats["forward_queries"])})
        rows.append(row)
    return rows


def color_figure(path, rows: list[list[dict]], names: list[str]) -> None:
    """A grid of the renders of :func:`render_color_views`, one row per shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    columns = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.3 * columns, 2.4 * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        for j, axis in enumerate(axes[i]):
            axis.set_xticks([])
            axis.set_yticks([])
            if j < len(row):
                axis.imshow(row[j]["image"], interpolation="nearest")
                axis.set_title(row[j]["label"], fontsize=8)
            else:
                axis.axis("off")
        axes[i][0].set_ylabel(names[i][:8], fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
