"""DeepSDF's data files: every on-disk name and format lives here (like DeepSDF's ``deep_sdf/workspace.py``).

Layout of a DeepSDF data folder (``data_source`` in DeepSDF's ``specs.json``)::

    <data_dir>/SdfSamples/<dataset>/<synset>/<id>.npz               pos, neg: (N, 4) float32, xyz + sdf
    <data_dir>/NormalizationParameters/<dataset>/<synset>/<id>.npz  offset (3,), scale (1,) float32
    <data_dir>/SurfaceSamples/<dataset>/<synset>/<id>.ply           ascii PLY, 30,000 surface points

and split files ``{dataset: {synset: [id, ...]}}`` (DeepSDF's ``examples/splits/sv2_chairs_train.json``).

Facts from DeepSDF's preprocessing (``src/PreprocessMesh.cpp``, ``src/SampleVisibleMeshSurface.cpp``,
``src/Utils.cpp``):

* Normalisation: ``offset = -c`` with ``c`` the centre of the axis-aligned bounding box of the vertices
  used by faces, ``scale = 1 / (1.03 * max_i |v_i - c|)``; ``x_norm = (x + offset) * scale`` puts the mesh
  inside the unit sphere with a 3 % margin (``NORMALIZATION_BUFFER``).
* SdfSamples are expressed in the normalised frame: split into ``pos`` (sdf > 0) and ``neg`` (sdf <= 0).
* SurfaceSamples are in the mesh's own frame (Chamfer maps reconstructions back with ``x / scale - offset``).
  DeepSDF writes them as ascii PLY with x, y, z and a dummy face list ``3 i i+1 i+2``; both forms are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path, read_json, write_json
from .errors import DataError

__all__ = [
    "NORMALIZATION_BUFFER",
    "SDF_SAMPLES",
    "NORMALIZATION_PARAMETERS",
    "SURFACE_SAMPLES",
    "Normalization",
    "normalization_parameters",
    "normalize_camera",
    "sdf_samples_path",
    "normalization_path",
    "surface_samples_path",
    "write_sdf_samples",
    "read_sdf_samples",
    "write_normalization",
    "read_normalization",
    "write_surface_samples",
    "read_surface_samples",
    "write_split",
    "read_split",
    "split_instances",
    "split_ids",
    "check_in_split",
]

NORMALIZATION_BUFFER = 1.03
SDF_SAMPLES = "SdfSamples"
NORMALIZATION_PARAMETERS = "NormalizationParameters"
SURFACE_SAMPLES = "SurfaceSamples"


@dataclass(frozen=True)
class Normalization:
    """DeepSDF's NormalizationParameters: ``x_norm = (x + offset) * scale``.

    Attributes:
        offset: (3,) translation applied first (minus the bounding-box centre).
        scale: scalar applied second.
    """

    offset: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) mesh-frame points -> normalised frame."""
        return (np.asarray(points, dtype=np.float64) + self.offset) * self.scale

    def invert(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) normalised-frame points -> mesh frame (DeepSDF's ``x / scale - offset``)."""
        return np.asarray(points, dtype=np.float64) / self.scale - self.offset

    @classmethod
    def identity(cls) -> "Normalization":
        return cls(np.zeros(3), 1.0)


def normalization_parameters(vertices: np.ndarray, faces: np.ndarray | None = None,
                             buffer: float = NORMALIZATION_BUFFER) -> Normalization:
    """DeepSDF's ComputeNormalizationParameters over the vertices used by ``faces`` (all when None)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if faces is not None:
        vertices = vertices[np.unique(np.asarray(faces).reshape(-1))]
    if len(vertices) == 0:
        raise ValueError("normalization_parameters: the mesh has no vertices used by a face")
    center = (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0
    radius = np.linalg.norm(vertices - center, axis=1).max() * buffer
    if radius <= 0:
        raise ValueError("normalization_parameters: the mesh is a single point")
    return Normalization(-center, float(1.0 / radius))


def normalize_camera(camera, normalization: Normalization):
    """The same view of a camera whose world is the mesh frame, expressed in the normalised frame.

    With ``x = x_n / scale - offset`` and the camera frame multiplied by ``scale`` (a similarity: the image
    is unchanged, depths are scaled by ``scale``): ``R_n = R``, ``t_n = scale * (t - R offset)``.
    """
    from ..camera import Camera

    R = camera.R.detach().double()
    offset = camera.t.new_tensor(np.asarray(normalization.offset), dtype=R.dtype)
    t = normalization.scale * (camera.t.detach().double() - R @ offset)
    return Camera(camera.K, R, t, camera.width, camera.height)


def _instance_path(data_dir, kind: str, dataset: str, synset: str, instance: str, suffix: str) -> Path:
    return Path(data_dir) / kind / dataset / synset / f"{instance}{suffix}"


def sdf_samples_path(data_dir, dataset: str, synset: str, instance: str) -> Path:
    return _instance_path(data_dir, SDF_SAMPLES, dataset, synset, instance, ".npz")


def normalization_path(data_dir, dataset: str, synset: str, instance: str) -> Path:
    return _instance_path(data_dir, NORMALIZATION_PARAMETERS, dataset, synset, instance, ".npz")


def surface_samples_path(data_dir, dataset: str, synset: str, instance: str) -> Path:
    return _instance_path(data_dir, SURFACE_SAMPLES, dataset, synset, instance, ".ply")


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        raise DataError(
            path, f"{what} not found (nearest existing folder: {folder})",
            "Point the data section of the config at a DeepSDF data folder that has it, or run the "
            "embedded data rules (snakemake data)",
        )


def write_sdf_samples(path, pos: np.ndarray, neg: np.ndarray) -> Path:
    """Write DeepSDF SdfSamples: ``pos`` (sdf > 0) and ``neg`` (sdf <= 0), each (N, 4) xyz + sdf."""
    pos = np.asarray(pos, dtype=np.float32).reshape(-1, 4)
    neg = np.asarray(neg, dtype=np.float32).reshape(-1, 4)
    if (pos[:, 3] <= 0).any() or (neg[:, 3] > 0).any():
        raise ValueError("write_sdf_samples: pos must hold sdf > 0 and neg sdf <= 0")
    with atomic_path(path) as tmp:
        np.savez(tmp, pos=pos, neg=neg)
    return Path(path)


def read_sdf_samples(path) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, neg)``, each (N, 4) float32, as written by DeepSDF's PreprocessMesh."""
    path = Path(path)
    _require_file(path, "SdfSamples file")
    try:
        with np.load(path) as data:
            pos, neg = data["pos"], data["neg"]
    except (KeyError, ValueError, OSError) as err:
        raise DataError(path, f"not a DeepSDF SdfSamples npz with arrays 'pos' and 'neg' ({err})",
                        "Regenerate it with DeepSDF's preprocess_data.py or the data rules") from err
    for name, array in (("pos", pos), ("neg", neg)):
        if array.ndim != 2 or array.shape[1] != 4:
            raise DataError(path, f"'{name}' has shape {array.shape}, expected (N, 4)", "Regenerate the file")
    return pos, neg


def write_normalization(path, normalization: Normalization) -> Path:
    with atomic_path(path) as tmp:
        np.savez(tmp, offset=np.asarray(normalization.offset, dtype=np.float32).reshape(3),
                 scale=np.asarray([normalization.scale], dtype=np.float32))
    return Path(path)


def read_normalization(path) -> Normalization:
    path = Path(path)
    _require_file(path, "NormalizationParameters file")
    try:
        with np.load(path) as data:
            offset = np.asarray(data["offset"], dtype=np.float64).reshape(3)
            scale = float(np.asarray(data["scale"]).reshape(-1)[0])
    except (KeyError, ValueError, OSError, IndexError) as err:
        raise DataError(path, f"not a NormalizationParameters npz with 'offset' (3,) and 'scale' ({err})",
                        "Regenerate it with DeepSDF's preprocess_data.py --surface or the data rules") from err
    if not scale > 0:
        raise DataError(path, f"scale is {scale}, expected > 0", "Regenerate the file")
    return Normalization(offset, scale)


def write_surface_samples(path, points: np.ndarray) -> Path:
    """Write surface points as DeepSDF does: ascii PLY, x y z, plus its dummy face list."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    n = len(points)
    header = (
        "ply\nformat ascii 1.0\n"
        f"element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {n // 3}\nproperty list uchar int vertex_index\nend_header\n"
    )
    first = np.arange(0, 3 * (n // 3), 3)
    faces = np.stack([np.full_like(first, 3), first, first + 1, first + 2], axis=1)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(header)
            np.savetxt(f, points, fmt="%.7g")
            np.savetxt(f, faces, fmt="%d")
    return Path(path)


def read_surface_samples(path) -> np.ndarray:
    """(N, 3) float32 points of a SurfaceSamples PLY (ascii or binary, with or without faces)."""
    import trimesh

    path = Path(path)
    _require_file(path, "SurfaceSamples file")
    try:
        loaded = trimesh.load(path, process=False, file_type="ply")
    except Exception as err:  # trimesh raises many types on a corrupt file
        raise DataError(path, f"cannot be read as PLY ({err})", "Regenerate it") from err
    points = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float32)
    if len(points) == 0:
        raise DataError(path, "holds no points", "Regenerate it with DeepSDF's preprocess_data.py --surface")
    return points


def write_split(path, dataset: str, instances_by_synset: dict[str, list[str]]) -> Path:
    """Write a DeepSDF split file ``{dataset: {synset: [ids]}}``."""
    return write_json(path, {dataset: {s: list(ids) for s, ids in instances_by_synset.items()}})


def read_split(path) -> dict[str, dict[str, list[str]]]:
    """Read a DeepSDF split file and check its shape ``{dataset: {synset: [ids]}}``."""
    if not Path(path).is_file():
        raise DataError(path, "DeepSDF split file not found",
                        "Point data.splits at it: DeepSDF ships examples/splits/sv2_<chairs|lamps|planes|sofas|tables>_"
                        "<train|test>.json; for another category write one as {\"<dataset>\": {\"<synset>\": [ids]}}")
    split = read_json(path)
    ok = isinstance(split, dict) and all(
        isinstance(v, dict) and all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in v.values())
        for v in split.values()
    )
    if not ok:
        raise DataError(path, "not a DeepSDF split file", 'Expected {"<dataset>": {"<synset>": ["<id>", ...]}}')
    return split


def split_instances(split: dict, synset: str | None = None) -> list[tuple[str, str, str]]:
    """``(dataset, synset, id)`` of every instance of a split, optionally of one synset, in file order."""
    return [
        (dataset, s, instance)
        for dataset, synsets in split.items()
        for s, ids in synsets.items()
        if synset is None or s == synset
        for instance in ids
    ]


def split_ids(path, synset: str) -> list[str]:
    """The ids of ``synset`` in the split file at ``path``, in file order; a :class:`DataError` when it has none."""
    ids = [i for _, _, i in split_instances(read_split(path), synset)]
    if not ids:
        raise DataError(path, f"lists no instance of synset {synset}",
                        "Point data.splits for this category at the split file of its synset")
    return ids


def check_in_split(split_path, split: dict, synset: str, instance: str) -> str:
    """The dataset name under which ``synset/instance`` is listed; a :class:`DataError` when absent."""
    for dataset, s, i in split_instances(split, synset):
        if i == instance:
            return dataset
    raise DataError(split_path, f"instance {synset}/{instance} is not in this split",
                    "Use an id listed in the split file, or point the config at the split that has it")
