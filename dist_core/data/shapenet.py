"""ShapeNetCore v1 / v2 meshes: paths, loading, checks and normalisation.

Layouts::

    v1: <root>/<synset>/<model_id>/model.obj
    v2: <root>/<synset>/<model_id>/models/model_normalized.obj

ShapeNet OBJ files often hold many groups/materials; they are merged into one triangle mesh, degenerate
faces (a repeated or non-finite vertex) are dropped, and a mesh without any surface area is an error. v2 models are aligned with +y up and the front facing -z; the embedded procedural dataset
follows the same convention and the v2 layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from .deepsdf import Normalization
from .errors import DataError

__all__ = [
    "CATEGORIES",
    "SYNSETS",
    "synset_of",
    "category_of",
    "MESH_V1",
    "MESH_V2",
    "mesh_path",
    "find_mesh",
    "list_instances",
    "load_mesh",
    "check_watertight",
    "normalized_mesh",
]

#: Category name -> ShapeNet synset id, for the five categories of the paper.
SYNSETS = {
    "sofa": "04256520",
    "plane": "02691156",
    "table": "04379243",
    "car": "02958343",
    "chair": "03001627",
}
CATEGORIES = {synset: name for name, synset in SYNSETS.items()}

MESH_V1 = "model.obj"
MESH_V2 = "models/model_normalized.obj"


def synset_of(category: str) -> str:
    """Synset id of a category name (or the synset itself when given one)."""
    if category in SYNSETS:
        return SYNSETS[category]
    if category in CATEGORIES:
        return category
    raise KeyError(f"unknown category {category!r}; known: {sorted(SYNSETS)}")


def category_of(synset: str) -> str:
    if synset in CATEGORIES:
        return CATEGORIES[synset]
    if synset in SYNSETS:
        return synset
    raise KeyError(f"unknown synset {synset!r}; known: {sorted(CATEGORIES)}")


def mesh_path(root, synset: str, instance: str, version: int = 2) -> Path:
    """Where a ShapeNetCore v1 or v2 mesh lives (no existence check; see :func:`find_mesh`)."""
    if version not in (1, 2):
        raise ValueError(f"ShapeNetCore version must be 1 or 2, got {version}")
    return Path(root) / synset / instance / (MESH_V2 if version == 2 else MESH_V1)


def _require_root(root: Path) -> None:
    if not root.is_dir():
        raise DataError(root, "ShapeNet root folder does not exist",
                        "Set data.shapenet_root in config/shapenet.yaml to your ShapeNetCore.v1 or .v2 folder, "
                        "or use the embedded default (config/config.yaml)")


def find_mesh(root, synset: str, instance: str) -> Path:
    """The instance's mesh file, v2 layout first, then v1; a clear error when neither exists."""
    root = Path(root)
    _require_root(root)
    for version in (2, 1):
        path = mesh_path(root, synset, instance, version)
        if path.is_file():
            return path
    where = root / synset
    if not where.is_dir():
        raise DataError(where, f"synset folder missing under the ShapeNet root {root}",
                        "Check data.shapenet_root and that this category was downloaded/unzipped")
    raise DataError(root / synset / instance, f"no {MESH_V2} (v2) or {MESH_V1} (v1) for this instance",
                    "Check that the instance id is spelled right and belongs to this synset")


def list_instances(root, synset: str) -> list[str]:
    """Sorted ids of the instances of a synset that have a v1 or v2 mesh."""
    root = Path(root)
    _require_root(root)
    folder = root / synset
    if not folder.is_dir():
        raise DataError(folder, "synset folder missing", "Check data.shapenet_root and the category list")
    return sorted(p.name for p in folder.iterdir()
                  if (p / MESH_V2).is_file() or (p / MESH_V1).is_file())


def load_mesh(path) -> trimesh.Trimesh:
    """Load an OBJ (or any trimesh format) as one triangle mesh; every part merged, bad faces dropped.

    Raises:
        DataError: the file is missing, unreadable, or has no face with positive area.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "mesh file not found", "Check the ShapeNet root and instance id in the config")
    try:
        loaded = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    except Exception as err:  # trimesh raises many types on corrupt files
        raise DataError(path, f"cannot be read as a mesh ({err})", "Re-extract the file from the dataset archive") from err
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    # Degenerate faces repeat a vertex or touch a non-finite one: they carry no surface, drop them.
    # Zero-area faces with three distinct vertices stay: boolean libraries emit such slivers inside
    # closed meshes, and dropping them would open the mesh.
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    finite = np.isfinite(vertices).all(axis=1)
    faces = faces[distinct & finite[faces].all(axis=1)] if len(faces) else faces
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    if len(faces) == 0 or not area > 0:
        raise DataError(path, "mesh has no face with positive area (empty or degenerate)",
                        "Exclude this instance from the split or re-extract the file")
    return trimesh.Trimesh(vertices, faces, process=False)


def check_watertight(mesh: trimesh.Trimesh, path) -> None:
    """Raise a :class:`DataError` naming ``path`` unless ``mesh`` is a closed, consistently wound solid."""
    if len(mesh.faces) == 0:
        raise DataError(path, "mesh is empty", "Exclude this instance or regenerate it")
    if not mesh.is_watertight:
        raise DataError(path, "mesh is not watertight (it has open or non-manifold edges)",
                        "Inside/outside is undefined for it: repair it (e.g. a manifold remesher) or exclude it")
    if not mesh.is_winding_consistent or mesh.volume <= 0:
        raise DataError(path, "mesh is not a consistently outward-wound solid",
                        "Repair its face orientation or exclude it")


def normalized_mesh(mesh: trimesh.Trimesh, normalization: Normalization) -> trimesh.Trimesh:
    """A copy of ``mesh`` moved into DeepSDF's normalised frame, ``(x + offset) * scale``."""
    return trimesh.Trimesh(normalization.apply(mesh.vertices), mesh.faces.copy(), process=False)
