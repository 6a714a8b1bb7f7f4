"""PMO baseline (Lin et al., CVPR 2019, "Photometric Mesh Optimization for Video-Aligned 3D Object
Reconstruction"), re-created for Table 3 after its public code (``atlasnet.py``, ``model.py``, ``pose.py``,
``options.py``).

The networks (trained by :mod:`dist_core.baselines.pmo_train`):

* :class:`MeshDecoder`: AtlasNet. PMO's released models use 25 square patches (``--num-prim 25``), each a
  regular 5 x 5 grid of the unit square (36 vertices, 50 faces, ``--num-meshgrid 5``) mapped with the shape
  code by its own MLP to 3D (AtlasNet's ``PointGenCon``: widths code, code / 2, code / 4, then 3, tanh);
  ``--sphere`` replaces them by one icosphere densified 3 times (642 vertices). Both are offered
  (``patches`` / ``sphere_subdivisions``). AtlasNet's batch normalisation is left out (at test time it is
  an affine map folded into the layers).
* :class:`ImageEncoder`: ResNet-18 (PMO: ResNet-18 with a 1024-d output) regressing the shape code from one
  colour image; ``width`` scales its channels (PMO: 64).

The optimisation (:func:`optimize_pmo`, PMO's ``model.py``), over the code and, optionally, a similarity
transform of the mesh (PMO's ``sim3``: log-scale, rotation vector, translation):

    L = L_photo + code_weight * |z - z_init|^2 + scale_weight * (-log_scale)

``z_init`` is the starting code (the encoder's for PMO (original)). ``L_photo`` (:func:`photometric_loss`)
takes every pair of consecutive frames ``(a, a + 1)``, rasterises the mesh from the virtual camera halfway
between them (rotation slerp, translation mean), lifts each covered pixel to its surface point (fixed
barycentric coordinates of the visible face, differentiable in the vertices), projects it into both frames,
keeps it where it lands inside both images and all four pixels around each projection see the same face,
and takes the mean absolute difference of the two bilinearly sampled colours over every kept pixel and
channel of every pair. Adam on all parameters at ``lr`` (PMO: ``--lr-pmo`` 1e-3, ``--to-it`` 100
iterations). Visibility comes from embree ray casting of the detached mesh (PMO: its own rasteriser), so
the optimisation runs on the CPU whatever the config's device (the networks are small).

Weights live in one folder (:func:`save_pmo` / :func:`load_pmo`): ``pmo.pth`` (decoder, encoder, training
codes) and ``specs.json`` (architecture, training settings, losses, quality).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import trimesh
from tqdm import tqdm

from ..camera import Camera, axis_angle_to_matrix
from ..io import atomic_path
from ..multiview import FitDiverged
from ..photometric import bilinear_sample

__all__ = [
    "PMO_FILE",
    "SPECS_FILE",
    "icosphere",
    "patch_grid",
    "MeshDecoder",
    "ImageEncoder",
    "PMOModel",
    "Raster",
    "rasterize",
    "rasterize_views",
    "interpolate_camera",
    "photometric_loss",
    "PMOSettings",
    "PMOResult",
    "optimize_pmo",
    "chamfer_loss",
    "save_pmo",
    "load_pmo",
    "load_pmo_mesh",
]

PMO_FILE = "pmo.pth"
SPECS_FILE = "specs.json"


def icosphere(subdivisions: int, radius: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and faces (F, 3) of an icosahedron densified ``subdivisions`` times (PMO: 3)."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(sphere.vertices, dtype=np.float32), np.asarray(sphere.faces, dtype=np.int64)


def patch_grid(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """UV vertices ((grid + 1)^2, 2) in [0, 1]^2 and faces (2 grid^2, 3) of one AtlasNet patch (PMO's
    ``get_regular_patch_grid``: ``--num-meshgrid`` 5 gives 36 vertices and 50 faces)."""
    u, v = np.meshgrid(np.arange(grid + 1), np.arange(grid + 1))
    uv = np.stack([u.reshape(-1), v.reshape(-1)], axis=-1).astype(np.float32) / grid
    j, i = np.meshgrid(np.arange(grid), np.arange(grid))
    upper = np.stack([i * (grid + 1) + j, i * (grid + 1) + j + 1, (i + 1) * (grid + 1) + j], axis=-1).reshape(-1, 3)
    lower = np.stack([i * (grid + 1) + j + 1, (i + 1) * (grid + 1) + j + 1, (i + 1) * (grid + 1) + j], axis=-1)
    return uv, np.concatenate([upper, lower.reshape(-1, 3)]).astype(np.int64)


class MeshDecoder(nn.Module):
    """AtlasNet: ``vertices = MLP_p([template point, code])`` for each patch ``p`` and each of its template points.

    Args:
        code_size: length of the shape code (PMO: 1024).
        patches: number of square patches (PMO's released models: 25); ignored with ``sphere_subdivisions``.
        grid: cells per side of each patch's mesh (PMO: 5).
        sphere_subdivisions: use one icosphere densified this many times instead (PMO's ``--sphere``: 3).
        hidden: width of the first hidden layer; the next two are ``hidden // 2`` and ``hidden // 4``
            (AtlasNet: the code size).
    """

    def __init__(self, code_size: int = 128, patches: int = 25, grid: int = 5, sphere_subdivisions: int | None = None,
                 hidden: int | None = None):
        super().__init__()
        if sphere_subdivisions is None:
            uv, faces = patch_grid(grid)
            template = np.repeat(uv[None], patches, axis=0)
            faces = np.concatenate([faces + k * len(uv) for k in range(patches)])
        else:
            vertices, faces = icosphere(sphere_subdivisions)
            template, patches = vertices[None], 1
        self.register_buffer("template", torch.from_numpy(template))  # (P, N, 2 or 3)
        self.register_buffer("faces", torch.from_numpy(faces))
        self.code_size, self.patches, self.sphere = code_size, patches, sphere_subdivisions is not None
        hidden = code_size if hidden is None else hidden
        if hidden < 4:
            raise ValueError(f"the decoder's first hidden width must be at least 4 (it is divided by 4), got {hidden}")
        dims = [template.shape[-1] + code_size, hidden, hidden // 2, hidden // 4, 3]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(patches, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(patches, b).uniform_(-bound, bound)))

    def sample_template(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(P, count, 2 or 3) random template points per patch, as AtlasNet trains: uniform in the unit square,
        or uniform on the template sphere."""
        if self.sphere:
            points = torch.randn(1, count, 3, generator=generator)
            return 0.5 * points / points.norm(dim=-1, keepdim=True)
        return torch.rand(self.patches, count, 2, generator=generator)

    def forward(self, code: torch.Tensor, template: torch.Tensor | None = None) -> torch.Tensor:
        """(D,) -> (V, 3) or (B, D) -> (B, V, 3) vertices in the normalised frame (|x| < 1), ``V = P * N``.

        ``template`` (P, N, k): map these template points instead of the mesh's vertices.
        """
        single = code.dim() == 1
        codes = code[None] if single else code
        template = self.template if template is None else template.to(codes)
        k, (B, P, N) = template.shape[-1], (len(codes), template.shape[0], template.shape[1])
        # The code's share of the first layer is the same for every point of a patch: computed once. Points
        # are kept as (P, B * N, width) so that each layer is one batched matrix product over the patches.
        x = (torch.bmm(template, self.weights[0][:, :k])[:, None]
             + torch.bmm(codes[None].expand(P, B, -1), self.weights[0][:, k:])[:, :, None]
             + self.biases[0][:, None, None]).reshape(P, B * N, -1)
        for weight, bias in zip(self.weights[1:], self.biases[1:]):
            x = torch.baddbmm(bias[:, None], F.relu(x), weight)
        vertices = torch.tanh(x).reshape(P, B, N, 3).transpose(0, 1).reshape(B, P * N, 3)
        return vertices[0] if single else vertices


class _BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.down = None
        if stride != 1 or inputs != outputs:
            self.down = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ImageEncoder(nn.Module):
    """ResNet-18 (two basic blocks per stage, four stages) regressing the shape code from one colour image.

    Args:
        code_size: output length.
        width: channels of the first stage (ResNet-18: 64), doubled at each later stage.
        resolution: the image is area-resized to this side first.
    """

    def __init__(self, code_size: int = 128, width: int = 64, resolution: int = 112):
        super().__init__()
        self.resolution = resolution
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, channels = [], width
        for stage in range(4):
            outputs = width * 2**stage
            blocks += [_BasicBlock(channels, outputs, 1 if stage == 0 else 2), _BasicBlock(outputs, outputs, 1)]
            channels = outputs
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, code_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) or (H, W, 3) in [0, 1] -> (B, D) or (D,) codes."""
        single = images.dim() == 3
        x = (images[None] if single else images).permute(0, 3, 1, 2)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        x = self.blocks(self.stem(x - 0.5))
        code = self.head(x.mean(dim=(2, 3)))
        return code[0] if single else code


@dataclass
class PMOModel:
    """Trained PMO parts: decoder, encoder, the decoder's training codes and the specs."""

    decoder: MeshDecoder
    encoder: ImageEncoder
    codes: torch.Tensor
    specs: dict


@dataclass
class Raster:
    """Which face each pixel of a camera sees.

    Attributes:
        face: (H * W,) long, the visible face per pixel (row-major), -1 on background.
        pixels: (M,) long, the covered pixels (row-major indices, ascending).
        barycentric: (M, 3) barycentric coordinates of the hit point of each covered pixel in its face.
    """

    face: torch.Tensor
    pixels: torch.Tensor
    barycentric: torch.Tensor


def rasterize(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> Raster:
    """Visible face and barycentric coordinates per pixel of one camera (:func:`rasterize_views`)."""
    return rasterize_views(vertices, faces, [camera])[0]


def _box_rays(v: torch.Tensor, camera: Camera) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pixels (row-major indices) inside the projected bounding box of the vertices ``v`` (every pixel when
    a vertex lies behind the camera) and their world rays: origins and unit directions (float64)."""
    K, R, t = camera.K.double(), camera.R.detach().double(), camera.t.detach().double()
    cam = v @ R.T + t
    x0, y0, x1, y1 = 0, 0, camera.width - 1, camera.height - 1
    if (cam[:, 2] > 1e-9).all():
        uv = cam[:, :2] / cam[:, 2:] * K.diagonal()[:2] + K[:2, 2]
        low, high = uv.min(dim=0).values, uv.max(dim=0).values
        x0, y0 = max(x0, int(math.floor(float(low[0]))) - 1), max(y0, int(math.floor(float(low[1]))) - 1)
        x1 = min(x1, int(math.ceil(float(high[0]))) + 1)
        y1 = min(y1, int(math.ceil(float(high[1]))) + 1)
    if x1 < x0 or y1 < y0:
        empty = torch.zeros(0, 3, dtype=torch.float64)
        return torch.zeros(0, dtype=torch.long), empty, empty
    pixels = (torch.arange(y0, y1 + 1)[:, None] * camera.width + torch.arange(x0, x1 + 1)[None]).reshape(-1)
    return pixels, (-R.T @ t).expand(len(pixels), 3), camera.rays(dtype=torch.float64).directions[pixels]


def rasterize_views(vertices: torch.Tensor, faces: torch.Tensor, cameras: list) -> list:
    """One :class:`Raster` per camera (no gradient), by embree ray casting of the mesh, all views in one call.

    Only the rays inside the projected bounding box of the vertices are cast (the rest see no face).
    """
    from trimesh.ray.ray_pyembree import RayMeshIntersector

    v = vertices.detach().cpu().double()
    f = faces.cpu()
    boxes = [_box_rays(v, camera) for camera in cameras]
    o = torch.cat([b[1] for b in boxes])
    d = torch.cat([b[2] for b in boxes])
    mesh = trimesh.Trimesh(v.numpy(), f.numpy(), process=False)
    hit = torch.from_numpy(RayMeshIntersector(mesh).intersects_first(o.numpy(), d.numpy())).long()
    rows = torch.nonzero(hit >= 0).squeeze(1)
    tri = v[f[hit[rows]]]  # (M, 3, 3)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = torch.linalg.cross(d[rows], e2)
    det = (e1 * p).sum(-1)
    det = torch.where(det.abs() < 1e-15, torch.full_like(det, 1e-15), det)
    s = o[rows] - tri[:, 0]
    b1 = (s * p).sum(-1) / det  # Moller-Trumbore: the hit's barycentric coordinates
    b2 = (d[rows] * torch.linalg.cross(s, e1)).sum(-1) / det
    barycentric = torch.stack([1.0 - b1 - b2, b1, b2], dim=-1)
    rasters, first_ray = [], 0
    ends = torch.cumsum(torch.tensor([len(b[0]) for b in boxes]), 0)
    bounds = [0] + torch.searchsorted(rows, ends).tolist()  # each camera's slice of the hit rows
    for k, (camera, (pixels, _, _)) in enumerate(zip(cameras, boxes)):
        mine = slice(bounds[k], bounds[k + 1])
        local = rows[mine] - first_ray
        face = torch.full((camera.height * camera.width,), -1, dtype=torch.long)
        face[pixels[local]] = hit[rows[mine]]
        rasters.append(Raster(face, pixels[local], barycentric[mine]))
        first_ray += len(pixels)
    return rasters


def interpolate_camera(a: Camera, b: Camera, alpha: float = 0.5) -> Camera:
    """PMO's virtual viewpoint (``pose.interpolate_camera``): rotation slerp and linear translation between
    two cameras of the same intrinsics."""
    from scipy.spatial.transform import Rotation, Slerp

    rotations = Rotation.from_matrix(np.stack([a.R.detach().double().numpy(), b.R.detach().double().numpy()]))
    R = Slerp([0.0, 1.0], rotations)([alpha]).as_matrix()[0]
    t = (1.0 - alpha) * a.t.detach().double() + alpha * b.t.detach().double()
    return Camera(a.K, torch.from_numpy(R), t, a.width, a.height)


def _sees_face(raster: Raster, pixels: torch.Tensor, face: torch.Tensor, camera: Camera) -> torch.Tensor:
    """PMO's ``compare_valid_index``: the four pixels around each projection (pixel centres at +0.5) see ``face``."""
    q = pixels.detach() - 0.5
    ok = torch.ones(len(q), dtype=torch.bool)
    for y in (q[:, 1].floor(), q[:, 1].ceil()):
        for x in (q[:, 0].floor(), q[:, 0].ceil()):
            index = y.long().clamp(0, camera.height - 1) * camera.width + x.long().clamp(0, camera.width - 1)
            ok &= raster.face[index.cpu()] == face
    return ok.to(pixels.device)


def _inside(pixels: torch.Tensor, camera: Camera) -> torch.Tensor:
    """PMO's ``in_range`` in our pixel convention: between the first and the last pixel centre."""
    return ((pixels[:, 0] >= 0.5) & (pixels[:, 0] <= camera.width - 0.5)
            & (pixels[:, 1] >= 0.5) & (pixels[:, 1] <= camera.height - 0.5))


def photometric_loss(vertices: torch.Tensor, faces: torch.Tensor, images: torch.Tensor, cameras: list,
                     pairs: list, rasters: dict | None = None, virtual: dict | None = None) -> tuple[torch.Tensor, int]:
    """PMO's ``L_photo`` over the frame ``pairs`` (see the module docstring) and the number of kept pixels.

    Args:
        vertices: (V, 3) mesh vertices, differentiable; faces: (F, 3).
        images: (N, H, W, 3) frames; cameras: N :class:`Camera`.
        pairs: ``(a, b)`` frame index pairs (PMO: every ``(a, a + 1)``).
        rasters: cache of this mesh's rasterisations (``frame`` and ``("virtual", a, b)`` keys), filled as
            needed; passing a filled one keeps visibility and barycentric coordinates fixed, as PMO's gradient
            assumes (its rasteriser has none).
        virtual: ``{(a, b): camera}`` of the virtual cameras (:func:`interpolate_camera`), computed when absent.
    """
    rasters = {} if rasters is None else rasters
    wanted = {}
    for a, b in pairs:
        wanted.update({frame: cameras[frame] for frame in (a, b) if frame not in rasters})
        if ("virtual", a, b) not in rasters:
            wanted[("virtual", a, b)] = (virtual or {}).get((a, b)) or interpolate_camera(cameras[a], cameras[b])
    if wanted:
        rasters.update(zip(wanted, rasterize_views(vertices, faces, list(wanted.values()))))
    differences = []
    fixed = vertices.detach()
    for a, b in pairs:
        seen = rasters[("virtual", a, b)]
        if len(seen.pixels) == 0:
            continue
        face = seen.face[seen.pixels].to(faces.device)
        weights = seen.barycentric.to(vertices)
        # Which pixels are kept does not depend on the gradient: decided without a graph, so that the
        # differentiable part below only touches the kept ones (a few percent of the covered pixels).
        with torch.no_grad():
            points = (weights[:, :, None] * fixed[faces[face]]).sum(dim=1)
            valid = torch.ones(len(face), dtype=torch.bool, device=vertices.device)
            for frame in (a, b):
                camera = cameras[frame].to(device=vertices.device, dtype=vertices.dtype)
                pixels, _ = camera.project(points)
                valid &= _inside(pixels, camera) & _sees_face(rasters[frame], pixels, face, camera)
        if not valid.any():
            continue
        points = (weights[valid][:, :, None] * vertices[faces[face[valid]]]).sum(dim=1)
        colours = []
        for frame in (a, b):
            pixels, _ = cameras[frame].to(device=vertices.device, dtype=vertices.dtype).project(points)
            colours.append(bilinear_sample(images[frame].to(vertices), pixels))
        differences.append((colours[0] - colours[1]).abs().reshape(-1))
    if not differences:
        return vertices.sum() * 0.0, 0
    everything = torch.cat(differences)
    return everything.mean(), len(everything) // 3


@dataclass
class PMOSettings:
    """PMO's photometric optimisation (defaults: its ``options.py`` and README).

    Attributes:
        iterations: Adam steps (``--to-it``: 100).
        lr: learning rate of every parameter (``--lr-pmo``: 1e-3; its README's demo uses 3e-3).
        code_weight: weight of ``|z - z_init|^2`` (``--code``: 5e-2 in its README).
        similarity: also optimise the mesh's similarity transform (``sim3``; PMO always does).
        scale_weight: weight of ``-log_scale`` (``--scale``: 2e-2 in its README).
        init_std: standard deviation of the random initial code (PMO (rand init)).
        snapshot_every: keep the code every this many iterations (and the last) for figures.
    """

    iterations: int = 100
    lr: float = 1e-3
    code_weight: float = 5e-2
    similarity: bool = True
    scale_weight: float = 2e-2
    init_std: float = 0.1
    snapshot_every: int = 25

    @classmethod
    def from_dict(cls, values: dict) -> "PMOSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown PMO optimisation setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class PMOResult:
    """Outcome of :func:`optimize_pmo`.

    Attributes:
        code: the final code (detached).
        losses: total loss of every iteration.
        snapshots: ``(iteration, vertices (V, 3))`` of the transformed mesh, iteration 0 = the start.
        similarity: (scale, rotation vector (3,), translation (3,)).
        seconds_per_step, steps: cost.
        kept_pixels_per_step: mean number of pixels the photometric loss compared per iteration.
    """

    code: torch.Tensor
    losses: list
    snapshots: list
    similarity: tuple
    seconds_per_step: float = 0.0
    steps: int = 0
    kept_pixels_per_step: float = 0.0
    stats: dict = field(default_factory=dict)


def optimize_pmo(model: PMOModel, images, cameras: list, settings: PMOSettings, init: torch.Tensor,
                 progress: bool = True, description: str = "PMO") -> PMOResult:
    """PMO's optimisation (module docstring) of the code from ``init`` over every consecutive frame pair.

    Raises:
        FitDiverged: when the loss or the vertices become NaN or inf.
    """
    images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    faces = model.decoder.faces
    code_init = init.detach().clone().float()
    code = code_init.clone().requires_grad_(True)
    log_scale, rotation, translation = (torch.zeros((), requires_grad=True), torch.zeros(3, requires_grad=True),
                                        torch.zeros(3, requires_grad=True))
    parameters = [code] + ([log_scale, rotation, translation] if settings.similarity else [])
    optimizer = torch.optim.Adam(parameters, lr=settings.lr)
    pairs = [(a, a + 1) for a in range(len(cameras) - 1)]
    virtual = {(a, b): interpolate_camera(cameras[a], cameras[b]) for a, b in pairs}

    def mesh(c):
        vertices = model.decoder(c)
        return log_scale.exp() * vertices @ axis_angle_to_matrix(rotation).T + translation

    losses, snapshots, seconds, kept = [], [(0, mesh(code).detach().clone())], 0.0, 0
    bar = tqdm(range(1, settings.iterations + 1), desc=description, disable=not progress, mininterval=2)
    for iteration in bar:
        start = time.perf_counter()
        optimizer.zero_grad()
        vertices = mesh(code)
        if not torch.isfinite(vertices).all():
            raise FitDiverged(f"the PMO decoder produced non-finite vertices at iteration {iteration}")
        photo, count = photometric_loss(vertices, faces, images, cameras, pairs, virtual=virtual)
        total = photo + settings.code_weight * (code - code_init).pow(2).sum()
        if settings.similarity:
            total = total - settings.scale_weight * log_scale
        if not torch.isfinite(total):
            raise FitDiverged(f"PMO's loss became {float(total.detach())} at iteration {iteration}")
        total.backward()
        optimizer.step()
        losses.append(float(total.detach()))
        seconds += time.perf_counter() - start
        kept += count
        if iteration % settings.snapshot_every == 0 or iteration == settings.iterations:
            with torch.no_grad():
                snapshots.append((iteration, mesh(code).clone()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    steps = settings.iterations
    similarity = (float(log_scale.detach().exp()), rotation.detach().clone(), translation.detach().clone())
    return PMOResult(code.detach(), losses, snapshots, similarity, seconds / max(steps, 1), steps, kept / max(steps, 1))


def chamfer_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer loss (AtlasNet): mean squared nearest distance a -> b plus b -> a; (B, N, 3), (B, M, 3)."""
    # The nearest neighbours come from a distance matrix without gradient; the loss is then recomputed on the
    # matched pairs only, which has the same gradient as the minimum and costs no backward pass through the
    # (B, N, M) matrix.
    with torch.no_grad():
        if a.is_cuda:
            d = a.pow(2).sum(-1)[:, :, None] + b.pow(2).sum(-1)[:, None, :] - 2.0 * a @ b.transpose(1, 2)
            to_b, to_a = d.argmin(dim=2), d.argmin(dim=1)
        else:  # k-d trees: the dense (B, N, M) matrix is memory-bound and ~20x slower on a CPU
            from scipy.spatial import cKDTree

            pa, pb = a.detach().double().numpy(), b.detach().double().numpy()
            to_b = torch.from_numpy(np.stack([cKDTree(y).query(x)[1] for x, y in zip(pa, pb)]))
            to_a = torch.from_numpy(np.stack([cKDTree(x).query(y)[1] for x, y in zip(pa, pb)]))
    nearest_b = torch.gather(b, 1, to_b[..., None].expand(-1, -1, 3))
    nearest_a = torch.gather(a, 1, to_a[..., None].expand(-1, -1, 3))
    return (a - nearest_b).pow(2).sum(-1).mean() + (b - nearest_a).pow(2).sum(-1).mean()


def _decoder_from_specs(specs: dict) -> MeshDecoder:
    d = specs["decoder"]
    return MeshDecoder(d["code_size"], d.get("patches", 25), d.get("grid", 5), d.get("sphere_subdivisions"),
                       d.get("hidden"))


def _encoder_from_specs(specs: dict) -> ImageEncoder:
    return ImageEncoder(specs["decoder"]["code_size"], specs["encoder"]["width"], specs["encoder"]["resolution"])


def save_pmo(folder, model: PMOModel) -> Path:
    """Write ``pmo.pth`` and ``specs.json`` into ``folder`` (atomically, specs last)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / PMO_FILE) as tmp:
        torch.save({"decoder": model.decoder.state_dict(), "encoder": model.encoder.state_dict(),
                    "codes": model.codes.cpu()}, tmp)
    with atomic_path(folder / SPECS_FILE) as tmp:
        Path(tmp).write_text(json.dumps(model.specs, indent=2, sort_keys=True))
    return folder


def load_pmo(folder, map_location="cpu") -> PMOModel:
    """Read a folder written by :func:`save_pmo` (networks in eval mode, frozen)."""
    folder = Path(folder)
    for name in (SPECS_FILE, PMO_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: PMO model file missing; run `snakemake table3_pmo_train` "
                                    f"or set table3.pmo.source to 'shipped' (resources/pmo)")
    specs = json.loads((folder / SPECS_FILE).read_text())
    state = torch.load(folder / PMO_FILE, map_location=map_location, weights_only=True)
    decoder, encoder = _decoder_from_specs(specs), _encoder_from_specs(specs)
    try:
        decoder.load_state_dict(state["decoder"])
        encoder.load_state_dict(state["encoder"])
    except RuntimeError as err:
        raise ValueError(f"{folder / PMO_FILE} does not match the networks of {folder / SPECS_FILE} ({err}); "
                         "retrain it with `snakemake table3_pmo_train`") from err
    for p in list(decoder.parameters()) + list(encoder.parameters()):
        p.requires_grad_(False)
    return PMOModel(decoder.eval().to(map_location), encoder.eval().to(map_location), state["codes"], specs)


def load_pmo_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of one of PMO's own output meshes (``.ply`` / ``.obj``, any format trimesh reads),
    for users who evaluate PMO's released results instead of this re-creation."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: PMO output mesh not found; point table3.pmo.meshes at PMO's output folder")
    mesh = trimesh.load(path, force="mesh", process=False)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
