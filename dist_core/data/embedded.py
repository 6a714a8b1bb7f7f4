"""Write the embedded default dataset in the real formats, one category at a time.

For each instance of :mod:`dist_core.data.synthetic` (``train`` and ``test`` streams):

* ``<shapenet_root>/<synset>/<id>/models/model_normalized.obj`` (ShapeNetCore v2 layout) and, beside it,
  ``dist_synthetic.json`` (parts, colour field and placement: what the colour views need);
* DeepSDF ``NormalizationParameters`` and ``SdfSamples``; ``SurfaceSamples`` for test instances (DeepSDF
  only evaluates on those);
* ``<r2n2_root>/<synset>/<id>/rendering/rendering_metadata.txt`` with 24 views;
* split files ``{dataset: {synset: [ids]}}`` for train and test.

and, for the multi-view experiment, PMO-format sequences of test instances (:func:`write_pmo_sequence`).
Every random choice takes a seed from :func:`dist_core.data.seeding.derive_seed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..io import atomic_path, write_json
from . import deepsdf, pmo, r2n2, shapenet, synthetic
from .errors import DataError
from .groundtruth import lambertian, raycast
from .preprocess import sample_sdf, sample_surface
from .seeding import derived_rng

__all__ = ["Layout", "LAYOUT_KEYS", "split_file", "spec_path", "write_instance", "build_category", "load_synthetic_shape",
           "render_colour_views", "write_pmo_sequence", "SPEC"]

SPEC = "dist_synthetic.json"


@dataclass(frozen=True)
class Layout:
    """Where each real-format dataset lives (the ``data`` section of the config)."""

    shapenet_root: Path
    deepsdf_dir: Path
    r2n2_root: Path
    pmo_root: Path
    dataset: str
    splits: object  # a "{category}_{split}" pattern or {category: {split: path}}

    @classmethod
    def from_config(cls, data: dict) -> "Layout":
        return cls(Path(data["shapenet_root"]), Path(data["deepsdf_dir"]), Path(data["r2n2_root"]),
                   Path(data["pmo_root"]), data["dataset"], data["splits"])


#: The keys of the config's ``data`` section that :meth:`Layout.from_config` reads (its fields).
LAYOUT_KEYS = tuple(f.name for f in fields(Layout))


def split_file(splits, category: str, split: str) -> Path:
    """Path of a split file from the config: a pattern with ``{category}`` and ``{split}`` or a mapping."""
    if isinstance(splits, str):
        return Path(splits.format(category=category, split=split))
    try:
        return Path(splits[category][split])
    except KeyError as err:
        raise KeyError(f"config data.splits has no entry for {category}/{split}: add "
                       f"data.splits.{category}.{split}: <DeepSDF split JSON>, or drop {category} from the "
                       "categories of the targets you run") from err


def spec_path(shapenet_root, synset: str, instance: str) -> Path:
    return Path(shapenet_root) / synset / instance / "models" / SPEC


def write_instance(shape: synthetic.SyntheticShape, layout: Layout, seed: int, sdf_samples: int,
                   surface_samples: int, views: int = r2n2.NUM_VIEWS) -> list[Path]:
    """Write every file of one generated instance; returns their paths."""
    synset, instance, category = shape.synset, shape.instance, shape.category
    mesh_file = shapenet.mesh_path(layout.shapenet_root, synset, instance, version=2)
    with atomic_path(mesh_file) as tmp:
        shape.mesh.export(tmp, file_type="obj", include_normals=False, include_texture=False)
    written = [mesh_file, write_json(spec_path(layout.shapenet_root, synset, instance), shape.to_json())]
    normalization = deepsdf.normalization_parameters(shape.mesh.vertices, shape.mesh.faces)
    written.append(deepsdf.write_normalization(
        deepsdf.normalization_path(layout.deepsdf_dir, layout.dataset, synset, instance), normalization))
    normalized = shapenet.normalized_mesh(shape.mesh, normalization)
    pos, neg = sample_sdf(normalized, sdf_samples, derived_rng(seed, category, instance, "sdf_samples"))
    written.append(deepsdf.write_sdf_samples(
        deepsdf.sdf_samples_path(layout.deepsdf_dir, layout.dataset, synset, instance), pos, neg))
    if surface_samples and shape.split == "test":
        points, _ = sample_surface(shape.mesh, surface_samples, derived_rng(seed, category, instance, "surface"))
        written.append(deepsdf.write_surface_samples(
            deepsdf.surface_samples_path(layout.deepsdf_dir, layout.dataset, synset, instance), points))
    choy_views = r2n2.sample_views(derived_rng(seed, category, instance, "r2n2_views"), views)
    written.append(r2n2.write_metadata(r2n2.metadata_path(layout.r2n2_root, synset, instance), choy_views))
    return written


def build_category(category: str, layout: Layout, seed: int, train: int, test: int, sdf_samples: int,
                   surface_samples: int, progress: bool = True) -> dict:
    """Generate and write one category; returns ``{"train": [ids], "test": [ids], "files": n}``."""
    from tqdm import tqdm

    synset = shapenet.synset_of(category)
    jobs = [("train", i) for i in range(train)] + [("test", i) for i in range(test)]
    ids = {"train": [], "test": []}
    files = 0
    for split, index in tqdm(jobs, desc=f"data {category}", disable=not progress, unit="shape"):
        shape = synthetic.generate(category, seed, split, index)
        files += len(write_instance(shape, layout, seed, sdf_samples, surface_samples))
        ids[split].append(shape.instance)
    for split in ("train", "test"):
        deepsdf.write_split(split_file(layout.splits, category, split), layout.dataset, {synset: ids[split]})
    return {**ids, "files": files + 2}


def load_synthetic_shape(shapenet_root, synset: str, instance: str) -> synthetic.SyntheticShape:
    """The generator record written beside a mesh (colour field and parts), with the mesh from disk."""
    path = spec_path(shapenet_root, synset, instance)
    if not path.is_file():
        raise DataError(path, "no procedural colour field for this instance",
                        "Colour views can only be rendered for instances of the embedded dataset")
    shape = synthetic.SyntheticShape.from_json(json.loads(path.read_text()))
    shape.mesh = shapenet.load_mesh(shapenet.find_mesh(shapenet_root, synset, instance))
    return shape


def render_colour_views(shape: synthetic.SyntheticShape, normalization: deepsdf.Normalization,
                        cameras: list) -> tuple[np.ndarray, np.ndarray]:
    """Lambertian colour frames (V, H, W, 3) and masks (V, H, W) of a shape moved by ``normalization``
    (the cameras act on that frame; :meth:`~dist_core.data.deepsdf.Normalization.identity` for the mesh frame)."""
    mesh = shapenet.normalized_mesh(shape.mesh, normalization)
    images, masks = [], []
    for camera in cameras:
        gt = raycast(mesh, camera, normal_frame="world")
        albedo = np.zeros(gt.points.shape)
        albedo[gt.mask] = shape.albedo(normalization.invert(gt.points[gt.mask]))
        images.append(lambertian(albedo, gt.normal, gt.mask))
        masks.append(gt.mask)
    return np.stack(images).astype(np.float32), np.stack(masks)


def write_pmo_sequence(layout: Layout, category: str, instance: str, cameras: list, points: int, seed: int) -> list[Path]:
    """Write the embedded PMO sequence of one test instance and its ground-truth points, both in the
    instance's mesh frame (the canonical frame of PMO's sequences; ``cameras`` act on it)."""
    synset = shapenet.synset_of(category)
    shape = load_synthetic_shape(layout.shapenet_root, synset, instance)
    images, masks = render_colour_views(shape, deepsdf.Normalization.identity(), cameras)
    surface, faces = sample_surface(shape.mesh, points, derived_rng(seed, category, instance, "pmo_points"))
    return [pmo.write_sequence(layout.pmo_root, synset, instance, images, masks),
            pmo.write_points(layout.pmo_root, synset, instance, surface, shape.mesh.face_normals[faces])]
