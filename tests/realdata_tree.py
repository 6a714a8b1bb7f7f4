"""Writers of a small real-data tree in the outside formats, as a user's disks hold them (helpers for the tests).

* ShapeNetCore.v2 ``<synset>/<id>/models/model_normalized.obj``: triangle soups as ShapeNet ships them, with
  ``mtllib`` / ``usemtl``, several ``o`` and ``g`` groups, ``v/vt/vn`` faces, quads, faces wound inwards and
  coincident double-sided faces (each solid is a union of disjoint boxes, so inside / outside is exact);
* 3D-R2N2 ``ShapeNetRendering/<synset>/<id>/rendering/rendering_metadata.txt`` with 24 lines of the
  archive's form and ``00.png`` ... names beside it (``renderings.txt``);
* DeepSDF's data folder (``SdfSamples``, ``NormalizationParameters``, ``SurfaceSamples``) as its C++
  preprocessing writes it, the split JSONs of ``examples/splits`` (``sv2_sofas_test.json``, ...), and
  experiment folders named as DeepSDF names them (``examples/sofas``) with ``module.`` keys, the codes of
  an ``nn.Embedding`` (``{"epoch", "latent_codes": {"weight"}}``) and no ``MeanLatent.pth``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dist_core.data import deepsdf, shapenet

#: Real 3D-R2N2 metadata lines (azimuth elevation in_plane_rotation distance_ratio fov); the first is view 00.
METADATA_LINES = [
    "293.90781677 25.4875121186 0 0.839816056769 25",
    "56.4749557414 27.9227090012 0 0.768012219425 25",
    "144.060155258 29.3476488426 0 0.714418307416 25",
    "218.432710731 26.9810127698 0 0.842148271434 25",
]


@dataclass(frozen=True)
class Solid:
    """A union of disjoint axis-aligned boxes ``(center (3,), half extents (3,))`` in the mesh frame."""

    boxes: tuple

    def inside(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        return np.any([(np.abs(points - c) < h).all(axis=1) for c, h in self.boxes], axis=0)

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance (the boxes are disjoint, so the union's is the minimum of the boxes')."""
        points = np.asarray(points, dtype=np.float64)
        values = []
        for c, h in self.boxes:
            q = np.abs(points - c) - h
            values.append(np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0))
        return np.min(values, axis=0)

    def surface(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` points uniform on the boxes' surface (by area)."""
        faces = [(c, h, axis, sign) for c, h in self.boxes for axis in range(3) for sign in (-1, 1)]
        areas = np.array([4 * np.prod(np.delete(h, axis)) for _, h, axis, _ in faces])
        picks = rng.choice(len(faces), size=count, p=areas / areas.sum())
        points = np.empty((count, 3))
        for k, (c, h, axis, sign) in enumerate(faces):
            rows = picks == k
            local = rng.uniform(-1, 1, size=(rows.sum(), 3)) * h
            local[:, axis] = sign * h[axis]
            points[rows] = c + local
        return points

    def vertices(self) -> np.ndarray:
        return np.concatenate([c + h * _CORNERS for c, h in self.boxes])


# Corners of the unit cube and its six faces as outward-wound quads (indices into _CORNERS).
_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_QUADS = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]


def _check_outward_quads():
    for quad in _QUADS:
        a, b, c = _CORNERS[list(quad[:3])]
        normal = np.cross(b - a, c - a)
        assert normal @ (a + c) > 0, "unit-cube quads must wind outwards"


_check_outward_quads()


def write_shapenet_soup(path: Path, solid: Solid, rng: np.random.Generator) -> Path:
    """A ShapeNetCore.v2-style OBJ of ``solid``: one ``o`` per box and a ``g`` per half of its faces, quads
    and triangles, ``v/vt/vn`` and ``v//vn`` references, random faces wound inwards and doubled reversed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "model_normalized.mtl").write_text("newmtl material_0_24\nKd 0.8 0.8 0.8\nmap_Kd ../images/texture0.jpg\n")
    lines = ["# ShapeNetCore.v2-like soup", "mtllib model_normalized.mtl"]
    for b, (c, h) in enumerate(solid.boxes):
        base = 8 * b
        lines.append(f"o mesh{b + 1}_mesh{b + 1}-geometry")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in c + h * _CORNERS]
        lines += ["vt 0.0 0.0", "vt 1.0 0.0", "vt 1.0 1.0", "vt 0.0 1.0"]
        lines += ["vn 0.577 0.577 0.577"]
        for f, quad in enumerate(_QUADS):
            if f % 3 == 0:
                lines += [f"g mesh{b + 1}_group{f // 3}", f"usemtl material_{f // 3}_24"]
            ids = [base + i + 1 for i in quad]
            if rng.random() < 0.5:
                ids = ids[::-1]  # wound inwards
            polygons = [ids] if rng.random() < 0.5 else [ids[:3], [ids[0], ids[2], ids[3]]]
            for poly in polygons:
                vt = 4 * b + 1
                lines.append("f " + " ".join(f"{v}/{vt + k % 4}/{b + 1}" for k, v in enumerate(poly)))
                if rng.random() < 0.3:  # a coincident double-sided copy, the other way round
                    lines.append("f " + " ".join(f"{v}//{b + 1}" for v in poly[::-1]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_metadata(root: Path, synset: str, instance: str) -> Path:
    folder = root / synset / instance / "rendering"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [METADATA_LINES[k % len(METADATA_LINES)] for k in range(24)]
    (folder / "rendering_metadata.txt").write_text("\n".join(lines) + "\n")
    (folder / "renderings.txt").write_text("".join(f"{k:02d}.png\n" for k in range(24)))
    return folder / "rendering_metadata.txt"


def write_deepsdf_instance(data_dir: Path, dataset: str, synset: str, instance: str, solid: Solid,
                           rng: np.random.Generator, sdf_samples: int = 4000, surface_samples: int = 2000,
                           surface: bool = True) -> deepsdf.Normalization:
    """DeepSDF's preprocessing outputs of one mesh: normalisation, SdfSamples (normalised frame), SurfaceSamples."""
    normalization = deepsdf.normalization_parameters(solid.vertices())
    deepsdf.write_normalization(deepsdf.normalization_path(data_dir, dataset, synset, instance), normalization)
    near = normalization.apply(solid.surface(sdf_samples, rng)) + rng.normal(0, 0.05, (sdf_samples, 3))
    points = np.concatenate([near, rng.uniform(-1, 1, (sdf_samples // 10, 3))])
    sdf = solid.sdf(normalization.invert(points)) * normalization.scale
    samples = np.concatenate([points, sdf[:, None]], axis=1)
    deepsdf.write_sdf_samples(deepsdf.sdf_samples_path(data_dir, dataset, synset, instance),
                              samples[samples[:, 3] > 0], samples[samples[:, 3] <= 0])
    if surface:
        deepsdf.write_surface_samples(deepsdf.surface_samples_path(data_dir, dataset, synset, instance),
                                      solid.surface(surface_samples, rng))
    return normalization


def official_specs(latent_size: int, dims, category: str) -> dict:
    """``specs.json`` as in DeepSDF's ``examples/<category>s`` (Description as a list of lines, its schedule)."""
    return {
        "Description": [f"This experiment learns a shape representation for {category}s ",
                        "using data from ShapeNet version 2."],
        "DataSource": "data", "TrainSplit": f"examples/splits/sv2_{category}s_train.json",
        "TestSplit": f"examples/splits/sv2_{category}s_test.json", "NetworkArch": "deep_sdf_decoder",
        "NetworkSpecs": {"dims": list(dims), "dropout": list(range(len(dims))), "dropout_prob": 0.2,
                         "norm_layers": list(range(len(dims))), "latent_in": [len(dims) // 2], "xyz_in_all": False,
                         "use_tanh": False, "latent_dropout": False, "weight_norm": True},
        "CodeLength": latent_size, "NumEpochs": 2001, "SnapshotFrequency": 1000, "AdditionalSnapshots": [100, 500],
        "LearningRateSchedule": [{"Type": "Step", "Initial": 0.0005, "Interval": 500, "Factor": 0.5},
                                 {"Type": "Step", "Initial": 0.001, "Interval": 500, "Factor": 0.5}],
        "SamplesPerScene": 16384, "ScenesPerBatch": 64, "DataLoaderThreads": 16, "ClampingDistance": 0.1,
        "CodeRegularization": True, "CodeRegularizationLambda": 1e-4, "CodeBound": 1.0,
    }


def write_official_experiment(folder: Path, specs: dict, state_dict: dict, codes: torch.Tensor,
                              epoch: int = 2000) -> Path:
    """An experiment as DeepSDF's ``train_deep_sdf.py`` leaves it: ``DataParallel``'s ``module.`` keys, the
    ``nn.Embedding`` state of the codes, ``latest`` and an epoch checkpoint, and no ``MeanLatent.pth``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "specs.json").write_text(json.dumps(specs, indent=2))
    model = {"epoch": epoch, "model_state_dict": {f"module.{k}": v.detach().clone() for k, v in state_dict.items()}}
    latent = {"epoch": epoch, "latent_codes": {"weight": codes.detach().clone()}}
    (folder / "ModelParameters").mkdir(exist_ok=True)
    (folder / "LatentCodes").mkdir(exist_ok=True)
    for name in ("latest", str(epoch)):
        torch.save(model, folder / "ModelParameters" / f"{name}.pth")
        torch.save(latent, folder / "LatentCodes" / f"{name}.pth")
    return folder


def write_split(path: Path, dataset: str, synset: str, ids) -> Path:
    """A split JSON as DeepSDF's ``examples/splits`` hold them (indented, one id a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({dataset: {synset: list(ids)}}, indent=2))
    return path


def mesh_file(root: Path, synset: str, instance: str) -> Path:
    return shapenet.mesh_path(root, synset, instance, version=2)
