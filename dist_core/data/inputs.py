"""The inputs of the fitting stage, one HDF5 file per instance and input kind, built from real-format data.

``single_view.h5`` (Table 2): the Choy view of a test instance, in the instance's DeepSDF normalised frame::

    depth      (H, W) float32   camera-frame z; 0 on background (see mask)
    mask       (H, W) bool      the full silhouette (the "mask" variant of the paper)
    normal     (H, W, 3) float32  unit outward normal in the camera frame (x right, y down, z forward); 0 off mask
    sparse/<setting> (H, W) bool  the depth pixels each sparse setting keeps (dense, 50pct, ... 20pts)
    camera/    K, R, t and attributes width, height
    attributes: camera/depth conventions, units, seed, generator_version, category, synset, instance,
                choy_view (the metadata line), view_index, normal_frame, sparse_settings

``multi_view.h5`` (Table 3): a PMO-format sequence moved into our conventions::

    images     (V, H, W, 3) uint8   colour frames
    masks      (V, H, W) bool
    cameras/   K, R, t stacks (V, ...) and attributes width, height
    gt_points  (N, 3) float32      ground-truth surface points in the cameras' world frame
    attributes: as above plus source, canonical_frame

:func:`build_single_view` / :func:`build_multi_view` compute them; :func:`write_single_view` /
:func:`read_single_view` and :func:`write_multi_view` / :func:`read_multi_view` are the only code that
touches the files.

An instance whose source files are missing or malformed does not fail its table: the data stage writes a
**skip record** in place of its input (:func:`write_skip_record`: no datasets, root attributes ``skipped``
= True, ``skip_file`` and ``skip_reason``, the :class:`~dist_core.data.errors.DataError` that stopped it),
the readers raise :class:`~dist_core.data.errors.SkippedInstance` for it, and :func:`read_skip_record`
returns it without raising. :func:`prepare_instance` is the data job's side of it: it builds and writes
one instance, or its skip record; a missing dataset *folder* (a wrong root in the config, a category not
unpacked) is a configuration mistake and raises instead, since it would skip every instance.
:func:`single_view_sources` / :func:`multi_view_sources` list the dataset files an instance is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .. import io
from ..camera import Camera
from . import deepsdf, pmo, r2n2, shapenet
from .errors import DataError, SkippedInstance
from .groundtruth import raycast
from .sparse import SETTINGS, sample_sparse

__all__ = [
    "INPUTS_VERSION",
    "UNITS",
    "SingleViewInput",
    "MultiViewInput",
    "single_view_path",
    "multi_view_path",
    "build_single_view",
    "write_single_view",
    "read_single_view",
    "build_multi_view",
    "write_multi_view",
    "read_multi_view",
    "write_skip_record",
    "read_skip_record",
    "single_view_sources",
    "multi_view_sources",
    "single_view_folders",
    "multi_view_folders",
    "prepare_instance",
]

INPUTS_VERSION = "dist-inputs/1"
UNITS = "DeepSDF normalised frame of the instance: x_norm = (x + offset) * scale; depth in the same units"


@dataclass
class SingleViewInput:
    """Contents of ``single_view.h5``; ``depth`` is +inf on background in memory."""

    depth: np.ndarray
    mask: np.ndarray
    normal: np.ndarray
    camera: Camera
    sparse: dict
    attrs: dict = field(default_factory=dict)

    def sparse_depth(self, setting: str) -> np.ndarray:
        """(H, W) depth with +inf wherever the setting gives no depth."""
        return np.where(self.sparse[setting], self.depth, np.inf)


@dataclass
class MultiViewInput:
    """Contents of ``multi_view.h5``: ``images`` as float32 in [0, 1]."""

    images: np.ndarray
    masks: np.ndarray
    cameras: list
    gt_points: np.ndarray
    attrs: dict = field(default_factory=dict)


def single_view_path(inputs_dir, synset: str, instance: str) -> Path:
    return Path(inputs_dir) / synset / instance / "single_view.h5"


def multi_view_path(inputs_dir, synset: str, instance: str) -> Path:
    return Path(inputs_dir) / synset / instance / "multi_view.h5"


def build_single_view(shapenet_root, r2n2_root, deepsdf_dir, dataset: str, category: str, instance: str,
                      seed: int, resolution: int, view_index: int = 0,
                      settings=SETTINGS) -> SingleViewInput:
    """Ray-cast the GT of one test instance from its Choy view, plus its sparse input masks.

    Reads the instance's files of :func:`single_view_sources`; any of them missing or malformed raises a
    :class:`~dist_core.data.errors.DataError` naming it. The GT normals face the camera whatever the mesh's
    winding (:func:`dist_core.data.groundtruth.raycast`).
    """
    synset = shapenet.synset_of(category)
    mesh_file = shapenet.find_mesh(shapenet_root, synset, instance)
    mesh = shapenet.load_mesh(mesh_file)
    normalization = deepsdf.read_normalization(deepsdf.normalization_path(deepsdf_dir, dataset, synset, instance))
    # Table 2 scores against them: an instance without readable SurfaceSamples is skipped here, not in its table.
    surface_file = deepsdf.surface_samples_path(deepsdf_dir, dataset, synset, instance)
    deepsdf.read_surface_samples(surface_file)
    metadata = r2n2.metadata_path(r2n2_root, synset, instance)
    views = r2n2.read_metadata(metadata)
    if view_index >= len(views):
        raise DataError(metadata, f"has {len(views)} views, view {view_index} requested",
                                 "Lower data.single_view.view or re-extract the file")
    view = views[view_index]
    camera = r2n2.choy_camera(view, normalization, width=resolution)
    gt = raycast(shapenet.normalized_mesh(mesh, normalization), camera, normal_frame="camera")
    if not gt.mask.any():
        raise DataError(mesh_file, f"is not visible from Choy view {view_index} ({metadata})",
                                 "Check that the NormalizationParameters belong to this mesh")
    sparse = {s: sample_sparse(gt.mask, s, seed, category, instance) for s in settings}
    attrs = io.standard_attributes(seed, INPUTS_VERSION, UNITS, category=category, synset=synset, instance=instance,
                                   choy_view=np.array([view.azimuth, view.elevation, view.in_plane_rotation,
                                                       view.distance_ratio, view.fov]),
                                   view_index=view_index, normal_frame="camera", sparse_settings=",".join(settings),
                                   mesh=str(mesh_file), surface_samples=str(surface_file))
    return SingleViewInput(gt.depth, gt.mask, gt.normal, camera, sparse, attrs)


def write_single_view(path, data: SingleViewInput) -> Path:
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in data.attrs.items():
                f.attrs[key] = value
            f.create_dataset("depth", data=np.where(data.mask, data.depth, 0.0).astype(np.float32))
            f.create_dataset("mask", data=data.mask.astype(bool))
            f.create_dataset("normal", data=data.normal.astype(np.float32), compression="gzip")
            for setting, mask in data.sparse.items():
                f.create_dataset(f"sparse/{setting}", data=mask.astype(bool), compression="gzip")
            io.write_camera(f.create_group("camera"), data.camera)
    return path


def write_skip_record(path, error: DataError, **attrs) -> Path:
    """Write the skip record of an instance that ``error`` stopped (see the module docstring), atomically."""
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["skipped"] = True
            f.attrs["skip_file"] = str(error.path)
            f.attrs["skip_reason"] = str(error)
    return path


def read_skip_record(path) -> dict | None:
    """``{"file", "reason"}`` of a skip record, or None when ``path`` holds a prepared input."""
    with io.open_h5(path, "per-instance input", "Run the data rules (snakemake data)") as f:
        if not bool(f.attrs.get("skipped", False)):
            return None
        return {"file": io.decode_attribute(f.attrs["skip_file"]), "reason": io.decode_attribute(f.attrs["skip_reason"])}


def _raise_if_skipped(path, f: h5py.File) -> None:
    if bool(f.attrs.get("skipped", False)):
        raise SkippedInstance(path, io.decode_attribute(f.attrs["skip_file"]), io.decode_attribute(f.attrs["skip_reason"]))


def read_single_view(path) -> SingleViewInput:
    """Read ``single_view.h5``; raises :class:`SkippedInstance` for a skip record."""
    with io.open_h5(path, "single-view input", "Run the data rules (snakemake data)") as f:
        _raise_if_skipped(path, f)
        mask = f["mask"][()]
        depth = np.where(mask, f["depth"][()].astype(np.float64), np.inf)
        normal = f["normal"][()]
        order = [k for k in str(f.attrs.get("sparse_settings", "")).split(",") if k in f["sparse"]]
        sparse = {k: f["sparse"][k][()] for k in order or list(f["sparse"])}
        camera = io.read_camera(f["camera"])
        attrs = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
    return SingleViewInput(depth, mask, normal, camera, sparse, attrs)


def build_multi_view(pmo_root, category: str, instance: str, seed: int, canonical_frame: str = "normalized",
                     normalization: deepsdf.Normalization | None = None, source: str = "pmo") -> MultiViewInput:
    """Read a PMO-format sequence and its GT points into our conventions.

    Args:
        canonical_frame: "normalized" when the sequence's canonical frame already is the instance's DeepSDF
            normalised frame (the embedded data); "shapenet" when it is the ShapeNet model frame, in which
            case ``normalization`` moves cameras and points into the normalised frame.
    """
    synset = shapenet.synset_of(category)
    sequence = pmo.load_sequence(pmo_root, synset, instance)
    points = pmo.read_points(pmo_root, synset, instance)
    cameras = sequence.cameras
    if canonical_frame == "shapenet":
        if normalization is None:
            raise ValueError("canonical_frame 'shapenet' needs the instance's NormalizationParameters")
        cameras = [deepsdf.normalize_camera(c, normalization) for c in cameras]
        points = normalization.apply(points).astype(np.float32)
    elif canonical_frame != "normalized":
        raise ValueError(f"canonical_frame must be 'normalized' or 'shapenet', got {canonical_frame!r}")
    attrs = io.standard_attributes(seed, INPUTS_VERSION, UNITS, category=category, synset=synset, instance=instance,
                                   source=source, canonical_frame=canonical_frame)
    return MultiViewInput(sequence.images, sequence.masks, cameras, points, attrs)


def write_multi_view(path, data: MultiViewInput) -> Path:
    path = Path(path)
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in data.attrs.items():
                f.attrs[key] = value
            images = np.clip(np.round(np.asarray(data.images) * 255.0), 0, 255).astype(np.uint8)
            f.create_dataset("images", data=images, compression="gzip")
            f.create_dataset("masks", data=np.asarray(data.masks, dtype=bool), compression="gzip")
            f.create_dataset("gt_points", data=np.asarray(data.gt_points, dtype=np.float32))
            io.write_cameras(f.create_group("cameras"), data.cameras)
    return path


def read_multi_view(path) -> MultiViewInput:
    """Read ``multi_view.h5``; raises :class:`SkippedInstance` for a skip record."""
    with io.open_h5(path, "multi-view input", "Run the data rules (snakemake data)") as f:
        _raise_if_skipped(path, f)
        images = f["images"][()].astype(np.float32) / 255.0
        masks = f["masks"][()]
        points = f["gt_points"][()]
        cameras = io.read_cameras(f["cameras"])
        attrs = {k: io.decode_attribute(v) for k, v in f.attrs.items()}
    return MultiViewInput(images, masks, cameras, points, attrs)


def single_view_sources(shapenet_root, r2n2_root, deepsdf_dir, dataset: str, synset: str, instance: str) -> list[Path]:
    """The dataset files the single view of an instance is built from: its mesh (ShapeNetCore v2 layout, v1
    when only that exists), its NormalizationParameters, its 3D-R2N2 rendering metadata and its SurfaceSamples."""
    mesh = shapenet.mesh_path(shapenet_root, synset, instance, version=2)
    v1 = shapenet.mesh_path(shapenet_root, synset, instance, version=1)
    return [v1 if v1.is_file() and not mesh.is_file() else mesh,
            deepsdf.normalization_path(deepsdf_dir, dataset, synset, instance),
            r2n2.metadata_path(r2n2_root, synset, instance),
            deepsdf.surface_samples_path(deepsdf_dir, dataset, synset, instance)]


def multi_view_sources(pmo_root, deepsdf_dir, dataset: str, synset: str, instance: str) -> list[Path]:
    """The dataset files the multi view of an instance is built from: its PMO sequence, PMO's shared
    ``camera.npz``, its ground-truth points and its NormalizationParameters."""
    return [pmo.sequence_path(pmo_root, synset, instance), pmo.camera_path(pmo_root),
            pmo.points_path(pmo_root, synset, instance),
            deepsdf.normalization_path(deepsdf_dir, dataset, synset, instance)]


def single_view_folders(shapenet_root, r2n2_root, deepsdf_dir, dataset: str, synset: str) -> list[tuple[str, Path]]:
    """``(config key, folder)`` pairs that every single view of ``synset`` needs (:func:`prepare_instance`)."""
    deepsdf_dir = Path(deepsdf_dir)
    return [("data.shapenet_root", Path(shapenet_root) / synset), ("data.r2n2_root", Path(r2n2_root) / synset),
            ("data.deepsdf_dir and data.dataset", deepsdf_dir / deepsdf.NORMALIZATION_PARAMETERS / dataset / synset),
            ("data.deepsdf_dir and data.dataset", deepsdf_dir / deepsdf.SURFACE_SAMPLES / dataset / synset)]


def multi_view_folders(pmo_root, deepsdf_dir, dataset: str, synset: str) -> list[tuple[str, Path]]:
    """``(config key, folder)`` pairs that every multi view of ``synset`` needs (:func:`prepare_instance`)."""
    return [("data.pmo_root", pmo.sequence_path(pmo_root, synset, "").parent),
            ("data.deepsdf_dir and data.dataset",
             Path(deepsdf_dir) / deepsdf.NORMALIZATION_PARAMETERS / dataset / synset)]


def prepare_instance(path, build, write, folders=(), **attrs) -> dict | None:
    """One data job: ``write(path, build())``, or the skip record of the instance when ``build`` raises a
    :class:`~dist_core.data.errors.DataError` (missing or malformed files of this instance).

    Args:
        path: the per-instance input file (``single_view.h5`` / ``multi_view.h5``).
        build: a callable returning the input (e.g. a closure over :func:`build_single_view`).
        write: :func:`write_single_view` or :func:`write_multi_view`.
        folders: ``(config key, folder)`` pairs that must exist (:func:`single_view_folders`); a missing
            one raises a :class:`DataError` naming the key, since it is the config's mistake and would skip
            every instance.
        attrs: attributes of the skip record (category, synset, instance, seed, ...).

    Returns:
        None when the input was written, else the skip record ``{"file", "reason"}``.
    """
    for key, folder in folders:
        if not Path(folder).is_dir():
            raise DataError(folder, "folder not found, so no instance of this category can be prepared",
                            f"Check {key} in the config, and that this category was downloaded and preprocessed")
    try:
        data = build()
    except DataError as error:
        write_skip_record(path, error, **attrs)
        return {"file": str(error.path), "reason": str(error)}
    write(path, data)
    return None
