"""PMO baseline (Lin et al., CVPR 2019, "Photometric Mesh Optimization for Video-Aligned 3D Object
Reconstruction"), re-created on our data for Table 3.

The parts, as PMO has them (``atlasnet.py``, ``model.py``, ``options.py`` of its public code):

* :class:`MeshDecoder`: AtlasNet with a closed sphere (``--sphere``): the vertices of an icosphere
  densified ``subdivisions`` times (PMO: 3, 642 vertices) are mapped, each concatenated with the shape
  code, by an MLP to 3D positions; the icosphere's faces give the mesh. Trained on the priors' train split
  with the symmetric Chamfer loss between the decoded vertices and surface samples. PMO pretrains it as
  the decoder of a point-cloud autoencoder; we train it as an auto-decoder (one learnt code per training
  shape, like DeepSDF), which gives the same kind of code space without a point encoder.
* :class:`ImageEncoder`: a CNN regressing that code from one colour image; PMO (original) initialises the
  photometric optimisation with the code predicted from one selected frame.
* :func:`mesh_depth`: the depth of a mesh, whose per-pixel visibility comes from ray casting (embree,
  no gradient) and whose value is the intersection of the pixel's ray with the plane of the visible face,
  differentiable in the vertex positions: what PMO's rasteriser computes.
* :func:`optimize_pmo`: the same photometric schedule and warping loss as ours
  (:func:`dist_core.multiview.optimize_photometric`) over the code, PMO's learning rate 1e-3.

Weights live in one folder (:func:`save_pmo` / :func:`load_pmo`): ``pmo.pth`` (decoder, encoder, training
codes) and ``specs.json``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import trimesh
from tqdm import tqdm

from ..camera import Camera
from ..io import atomic_path
from ..multiview import FitDiverged, MultiViewResult, MultiViewSettings, optimize_photometric

__all__ = [
    "PMO_FILE",
    "SPECS_FILE",
    "icosphere",
    "MeshDecoder",
    "ImageEncoder",
    "PMOModel",
    "mesh_depth",
    "chamfer_loss",
    "train_mesh_decoder",
    "train_image_encoder",
    "save_pmo",
    "load_pmo",
    "optimize_pmo",
    "load_pmo_mesh",
]

PMO_FILE = "pmo.pth"
SPECS_FILE = "specs.json"


def icosphere(subdivisions: int, radius: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and faces (F, 3) of an icosahedron densified ``subdivisions`` times (PMO: 3)."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(sphere.vertices, dtype=np.float32), np.asarray(sphere.faces, dtype=np.int64)


class MeshDecoder(nn.Module):
    """AtlasNet sphere decoder: ``vertices = MLP([template_vertex, code])`` for every template vertex.

    Args:
        code_size: length of the shape code.
        hidden: width of the hidden layers (AtlasNet: 1024, 512, 256 on 1024-d codes; here sized to the CPU).
        layers: hidden layers.
        subdivisions: icosphere densification of the template.
    """

    def __init__(self, code_size: int = 64, hidden: int = 256, layers: int = 3, subdivisions: int = 3):
        super().__init__()
        vertices, faces = icosphere(subdivisions)
        self.register_buffer("template", torch.from_numpy(vertices))
        self.register_buffer("faces", torch.from_numpy(faces))
        dims = [3 + code_size] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(hidden, 3)
        self.code_size = code_size

    def forward(self, code: torch.Tensor, template: torch.Tensor | None = None) -> torch.Tensor:
        """(D,) -> (V, 3) or (B, D) -> (B, V, 3) vertex positions in the normalised frame (inside |x| < 1).

        ``template`` (V', 3): map these points of the template sphere instead of its vertices (AtlasNet trains
        on random points of the template; the mesh uses the vertices).
        """
        single = code.dim() == 1
        codes = code[None] if single else code
        template = self.template if template is None else template
        V = template.shape[0]
        x = torch.cat([template[None].expand(len(codes), V, 3), codes[:, None, :].expand(-1, V, -1)], -1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        vertices = torch.tanh(self.out(x))
        return vertices[0] if single else vertices


class ImageEncoder(nn.Module):
    """A small CNN (PMO: ResNet-18) regressing the shape code from one (H, W, 3) colour image."""

    def __init__(self, code_size: int = 64, width: int = 32, resolution: int = 48):
        super().__init__()
        self.resolution = resolution
        channels = [3, width, 2 * width, 4 * width, 4 * width]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(channels[:-1], channels[1:]))
        self.head = nn.Sequential(nn.Linear(channels[-1], 256), nn.ReLU(), nn.Linear(256, code_size))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) or (H, W, 3) in [0, 1] -> (B, D) or (D,) codes."""
        single = images.dim() == 3
        x = (images[None] if single else images).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area") - 0.5
        for conv in self.convs:
            x = F.relu(conv(x))
        code = self.head(x.mean(dim=(2, 3)))
        return code[0] if single else code


@dataclass
class PMOModel:
    """Trained PMO parts: decoder, encoder, the training codes (auto-decoder) and the specs."""

    decoder: MeshDecoder
    encoder: ImageEncoder
    codes: torch.Tensor
    specs: dict


def mesh_depth(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> torch.Tensor:
    """(H, W) camera-frame depth of a mesh, +inf on background, differentiable in ``vertices`` (V, 3).

    Visibility (which face a pixel sees) comes from embree ray casting of the detached mesh; the depth is the
    intersection of the pixel's ray with that face's plane, computed with the differentiable vertices.
    """
    from trimesh.ray.ray_pyembree import RayMeshIntersector

    rays = camera.rays(dtype=torch.float64)
    mesh = trimesh.Trimesh(vertices.detach().cpu().double().numpy(), faces.cpu().numpy(), process=False)
    face = RayMeshIntersector(mesh).intersects_first(rays.origins.numpy(), rays.directions.numpy())
    hit = torch.from_numpy(face >= 0)
    depth = torch.full((camera.height * camera.width,), math.inf, dtype=vertices.dtype, device=vertices.device)
    if not hit.any():
        return depth.reshape(camera.height, camera.width)
    rows = torch.nonzero(hit).squeeze(1)
    tri = vertices[faces[torch.from_numpy(face[face >= 0]).to(faces.device)]]  # (M, 3, 3)
    normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    o = rays.origins[rows].to(vertices)
    d = rays.directions[rows].to(vertices)
    facing = (normal * d).sum(-1)
    facing = torch.where(facing.abs() < 1e-12, torch.full_like(facing, 1e-12), facing)
    length = (normal * (tri[:, 0] - o)).sum(-1) / facing
    z = length * rays.z_per_length[rows].to(vertices)
    depth = depth.index_put((rows.to(vertices.device),), z)
    return depth.reshape(camera.height, camera.width)


def chamfer_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer loss (AtlasNet): mean squared nearest distance a -> b plus b -> a; (B, N, 3), (B, M, 3)."""
    # |a|^2 + |b|^2 - 2 a.b by a batched matrix product: torch.cdist's backward is ~100x slower on a CPU.
    d = (a.pow(2).sum(-1)[:, :, None] + b.pow(2).sum(-1)[:, None, :] - 2.0 * a @ b.transpose(1, 2)).clamp_min(0.0)
    return d.min(dim=2).values.mean() + d.min(dim=1).values.mean()


def train_mesh_decoder(surface_points: list, settings: dict, seed: int, device="cpu",
                       progress: bool = True) -> tuple[MeshDecoder, torch.Tensor, list]:
    """Train the AtlasNet decoder and one code per shape (auto-decoder) with the Chamfer loss.

    Args:
        surface_points: per training shape, (N, 3) surface samples in the normalised frame.
        settings: code_size, hidden, layers, subdivisions, epochs, batch, points_per_shape, template_points
            (template vertices decoded per shape and step), lr, code_lr, code_init_std, code_regularization.
    Returns:
        the decoder, the codes (S, D) and the loss of every epoch.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    torch_generator = torch.Generator().manual_seed(seed)
    decoder = MeshDecoder(settings["code_size"], settings["hidden"], settings["layers"], settings["subdivisions"]).to(device)
    codes = nn.Parameter(torch.randn(len(surface_points), settings["code_size"], device=device) * settings["code_init_std"])
    optimizer = torch.optim.Adam([{"params": decoder.parameters(), "lr": settings["lr"]},
                                  {"params": [codes], "lr": settings["code_lr"]}])
    clouds = [torch.as_tensor(np.asarray(p), dtype=torch.float32) for p in surface_points]
    history = []
    bar = tqdm(range(settings["epochs"]), desc="PMO mesh decoder", disable=not progress, mininterval=2)
    for _ in bar:
        order = generator.permutation(len(clouds))
        total = 0.0
        for start in range(0, len(order), settings["batch"]):
            batch = order[start:start + settings["batch"]]
            target = torch.stack([clouds[i][generator.integers(0, len(clouds[i]), settings["points_per_shape"])]
                                  for i in batch]).to(device)
            optimizer.zero_grad()
            c = codes[torch.as_tensor(batch, device=device)]
            template = decoder.template[torch.randperm(len(decoder.template), generator=torch_generator)
                                        [: settings["template_points"]].to(device)]
            loss = chamfer_loss(decoder(c, template), target) + settings["code_regularization"] * c.pow(2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / len(clouds))
        bar.set_postfix(loss=f"{history[-1]:.5f}", refresh=False)
    return decoder.eval(), codes.detach(), history


def train_image_encoder(images: np.ndarray, shape_index: np.ndarray, codes: torch.Tensor, settings: dict, seed: int,
                        device="cpu", progress: bool = True) -> tuple[ImageEncoder, list]:
    """Train the encoder to regress ``codes[shape_index[k]]`` from ``images[k]`` (L2 loss, as PMO's stage 2).

    Args:
        images: (K, H, W, 3) renderings of the training shapes.
        shape_index: (K,) which training shape each image shows.
        settings: code_size, width, resolution, epochs, batch, lr.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed + 1)
    encoder = ImageEncoder(codes.shape[1], settings["width"], settings["resolution"]).to(device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=settings["lr"])
    x_all = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    y_all = codes.detach().to(device)[torch.as_tensor(shape_index)]
    history = []
    bar = tqdm(range(settings["epochs"]), desc="PMO image encoder", disable=not progress, mininterval=2)
    for _ in bar:
        order = generator.permutation(len(x_all))
        total = 0.0
        for start in range(0, len(order), settings["batch"]):
            batch = torch.as_tensor(order[start:start + settings["batch"]])
            optimizer.zero_grad()
            loss = (encoder(x_all[batch].to(device)) - y_all[batch]).pow(2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / len(x_all))
        bar.set_postfix(loss=f"{history[-1]:.5f}", refresh=False)
    return encoder.eval(), history


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
    """Read a folder written by :func:`save_pmo`."""
    folder = Path(folder)
    for name in (SPECS_FILE, PMO_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: PMO model file missing; run `snakemake table3_pmo_train` "
                                    f"or set table3.pmo.source to 'shipped' (resources/pmo)")
    specs = json.loads((folder / SPECS_FILE).read_text())
    state = torch.load(folder / PMO_FILE, map_location=map_location, weights_only=True)
    d, e = specs["decoder"], specs["encoder"]
    decoder = MeshDecoder(d["code_size"], d["hidden"], d["layers"], d["subdivisions"])
    decoder.load_state_dict(state["decoder"])
    encoder = ImageEncoder(d["code_size"], e["width"], e["resolution"])
    encoder.load_state_dict(state["encoder"])
    for p in list(decoder.parameters()) + list(encoder.parameters()):
        p.requires_grad_(False)
    return PMOModel(decoder.eval().to(map_location), encoder.eval().to(map_location), state["codes"], specs)


def optimize_pmo(model: PMOModel, images, cameras: list, settings: MultiViewSettings, init: torch.Tensor,
                 progress: bool = True, description: str = "PMO") -> MultiViewResult:
    """PMO's photometric optimisation of the code from ``init`` (encoder output or a random code), with the
    warping loss and view pairs of :func:`dist_core.multiview.optimize_photometric`."""
    faces = model.decoder.faces

    def render_depth(code, camera):
        vertices = model.decoder(code)
        if not torch.isfinite(vertices).all():
            raise FitDiverged("the PMO decoder produced non-finite vertices; lower the learning rate")
        return mesh_depth(vertices, faces, camera), {}

    start = time.perf_counter()
    result = optimize_photometric(render_depth, init, images, cameras, settings, progress=progress,
                                  description=description)
    result.stats["seconds"] = time.perf_counter() - start
    return result


def load_pmo_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of one of PMO's own output meshes (``.ply`` / ``.obj``, any format trimesh reads),
    for users who evaluate PMO's released results instead of this re-creation."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: PMO output mesh not found; point table3.pmo.meshes at PMO's output folder")
    mesh = trimesh.load(path, force="mesh", process=False)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
