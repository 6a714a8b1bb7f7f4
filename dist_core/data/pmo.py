"""PMO synthetic sequences (Lin et al., CVPR 2019), the multi-view data of DIST's Table 3.

The real format, as PMO's public code reads it (``data.py: load_sequence``, ``render.py``,
``meshrender/src/cpu.c``) and DIST's ``core/dataset/loader_multi_pmodata.py``::

    <root>/sequences/<synset>/<model_id>.npy    uint8 (V, H, W, 4) RGBA frames (224 x 224 in PMO), the
                                                alpha channel 255 on the object (composited on SUN360)
    <root>/camera.npz                           intr (3, 3) and extr (V, 3, 4), one trajectory shared by
                                                every sequence
    <root>/lists/all_test.list                  one ``<synset> <model_id>`` per line
    <root>/customShapeNet/<synset>/ply/<model_id>.points.ply   AtlasNet's ground-truth points (x y z and
                                                normals, ascii PLY)

* ``extr`` maps PMO's world to the camera, ``x_cam = extr[:, :3] x + extr[:, 3]``, camera looking down +z
  (PMO's rasteriser keeps hits with z > 0), image y down.
* The canonical (mesh) frame maps to PMO's world by ``cs_map = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]``
  (``load_sequence``'s ``cs_map_mtrx``), the same ShapeNet axis swap as 3D-R2N2's.
* Pixel coordinates: PMO casts its ray for pixel ``(x, y)`` through ``((x - cx) / fx, (y - cy) / fy, 1)``
  with integer ``x, y``, and samples images with ``grid_sample`` at ``u / (W - 1) * 2 - 1`` (PyTorch 0.4,
  corners aligned): pixel centres sit at integers. Ours sit at +0.5, so our principal point is PMO's + 0.5.

So our camera of view ``i``, acting on canonical points, is ``K = intr + 0.5 on (cx, cy)``,
``R = extr_i[:, :3] @ cs_map``, ``t = extr_i[:, 3]`` (:func:`cameras_from_pmo`; :func:`cameras_to_pmo`
inverts it).

PMO's ``camera.npz`` holds one trajectory of 72 views: three elevation rings (15, 30 and 45 degrees above
the canonical frame's horizontal plane, ring after ring), 24 views 15 degrees apart in azimuth on each, every
camera 2.5 units from the origin looking at it, focal length 245 px on 224 x 224 images (principal point at
the centre). :func:`pmo_trajectory` writes that trajectory (exactly, for PMO's settings) at any resolution or
with fewer rings. The embedded equivalent written by the pipeline uses this format and this trajectory, with
the instance's mesh frame (a ShapeNet-like unit-diagonal frame) as the canonical frame, like PMO's
sequences, and frames rendered by Lambertian shading on a black background.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..io import atomic_path
from .errors import DataError

__all__ = [
    "CS_MAP",
    "PMOSequence",
    "sequence_path",
    "camera_path",
    "list_path",
    "points_path",
    "read_test_list",
    "write_test_list",
    "read_camera_file",
    "write_camera_file",
    "cameras_from_pmo",
    "cameras_to_pmo",
    "circle_cameras",
    "pmo_trajectory",
    "load_sequence",
    "write_sequence",
    "read_points",
    "write_points",
]

CS_MAP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class PMOSequence:
    """One test sequence.

    Attributes:
        synset, instance: which object.
        images: (V, H, W, 3) float32 in [0, 1].
        masks: (V, H, W) bool, alpha == 255.
        cameras: V :class:`~dist_core.camera.Camera` acting on canonical-frame points.
    """

    synset: str
    instance: str
    images: np.ndarray
    masks: np.ndarray
    cameras: list


def sequence_path(root, synset: str, instance: str) -> Path:
    return Path(root) / "sequences" / synset / f"{instance}.npy"


def camera_path(root) -> Path:
    return Path(root) / "camera.npz"


def list_path(root) -> Path:
    return Path(root) / "lists" / "all_test.list"


def points_path(root, synset: str, instance: str) -> Path:
    return Path(root) / "customShapeNet" / synset / "ply" / f"{instance}.points.ply"


def _require(path: Path, what: str) -> None:
    if not path.is_file():
        raise DataError(path, f"PMO {what} not found",
                        "Set data.pmo_root to the folder holding PMO's sequences/, lists/ and camera.npz, "
                        "or run the embedded data rules")


def read_test_list(root, synset: str | None = None) -> list[tuple[str, str]]:
    """``(synset, model_id)`` pairs of ``lists/all_test.list``, optionally of one synset, in file order."""
    path = list_path(root)
    _require(path, "test list")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataError(path, f"line {number} is malformed: {line.strip()!r}", "Each line must be '<synset> <model_id>'")
        if synset is None or fields[0] == synset:
            entries.append((fields[0], fields[1]))
    return entries


def write_test_list(root, entries: list[tuple[str, str]]) -> Path:
    path = list_path(root)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{s} {m}\n" for s, m in entries))
    return path


def read_camera_file(root) -> tuple[np.ndarray, np.ndarray]:
    """``(intr (3, 3), extr (V, 3, 4))`` of ``camera.npz``."""
    path = camera_path(root)
    _require(path, "camera file")
    try:
        with np.load(path) as data:
            intr, extr = np.asarray(data["intr"], dtype=np.float64), np.asarray(data["extr"], dtype=np.float64)
    except (KeyError, ValueError, OSError) as err:
        raise DataError(path, f"not a PMO camera.npz with 'intr' and 'extr' ({err})", "Re-download or regenerate it") from err
    if intr.shape != (3, 3) or extr.ndim != 3 or extr.shape[1:] != (3, 4):
        raise DataError(path, f"intr {intr.shape} / extr {extr.shape}, expected (3, 3) / (V, 3, 4)", "Regenerate it")
    return intr, extr


def write_camera_file(root, intr: np.ndarray, extr: np.ndarray) -> Path:
    path = camera_path(root)
    with atomic_path(path) as tmp:
        np.savez(tmp, intr=np.asarray(intr, dtype=np.float32), extr=np.asarray(extr, dtype=np.float32))
    return path


_HALF_PIXEL = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]])


def cameras_from_pmo(intr: np.ndarray, extr: np.ndarray, width: int, height: int) -> list[Camera]:
    """Our cameras (canonical frame, pixel centres at +0.5) from PMO's ``intr`` and ``extr``."""
    K = np.asarray(intr, dtype=np.float64) + _HALF_PIXEL
    return [Camera(K, e[:, :3] @ CS_MAP, e[:, 3], width, height) for e in np.asarray(extr, dtype=np.float64)]


def cameras_to_pmo(cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`cameras_from_pmo` (``cs_map`` is a rotation: its inverse is its transpose)."""
    intr = cameras[0].K.double().numpy() - _HALF_PIXEL
    extr = np.stack([np.concatenate([c.R.double().numpy() @ CS_MAP.T, c.t.double().numpy()[:, None]], axis=1)
                     for c in cameras])
    return intr, extr


def circle_cameras(views: int, elevation: float, distance: float, fov_degrees: float, resolution: int,
                   start_azimuth: float = 0.0) -> list[Camera]:
    """``views`` cameras on a circle around the origin (+y up), looking at it, evenly spaced in azimuth."""
    cameras = []
    for i in range(views):
        az = np.radians(start_azimuth + 360.0 * i / views)
        el = np.radians(elevation)
        eye = distance * np.array([np.cos(el) * np.sin(az), np.sin(el), -np.cos(el) * np.cos(az)])
        cameras.append(Camera.look_at(eye.tolist(), fov_degrees=fov_degrees, width=resolution, up=(0.0, 1.0, 0.0)))
    return cameras


def pmo_trajectory(resolution: int, elevations=(15.0, 30.0, 45.0), azimuth_step: float = 15.0,
                   distance: float = 2.5, focal: float = 245.0, focal_image_size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """PMO's camera trajectory as ``(intr (3, 3), extr (V, 3, 4))`` of ``camera.npz`` (see the module docstring).

    Views go ring after ring (``elevations``, degrees), ``360 / azimuth_step`` per ring from azimuth 0 (the
    canonical +x axis) towards the canonical -z axis (PMO's world +y); each camera looks at the origin from
    ``distance`` with its image x axis horizontal. ``focal`` is in pixels of a ``focal_image_size`` image and
    is scaled to ``resolution``. With the defaults this is PMO's ``camera.npz`` at ``resolution`` 224.
    """
    per_ring = 360.0 / azimuth_step
    if abs(per_ring - round(per_ring)) > 1e-9:
        raise ValueError(f"azimuth_step {azimuth_step} does not divide 360 degrees")
    extr = []
    for elevation in np.radians(np.asarray(elevations, dtype=np.float64)):
        for azimuth in np.radians(azimuth_step * np.arange(int(round(per_ring)))):
            # PMO's world is z-up (the canonical y axis after cs_map).
            centre = distance * np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                                          np.sin(elevation)])
            forward = -centre / np.linalg.norm(centre)
            right = np.cross(forward, [0.0, 0.0, 1.0])
            right /= np.linalg.norm(right)
            R = np.stack([right, np.cross(forward, right), forward])
            extr.append(np.concatenate([R, (-R @ centre)[:, None]], axis=1))
    f = focal * resolution / focal_image_size
    intr = np.array([[f, 0.0, resolution / 2.0], [0.0, f, resolution / 2.0], [0.0, 0.0, 1.0]])
    return intr, np.stack(extr)


def load_sequence(root, synset: str, instance: str) -> PMOSequence:
    """One sequence with its cameras (see the module docstring for the conventions)."""
    path = sequence_path(root, synset, instance)
    _require(path, "sequence")
    try:
        rgba = np.load(path)
    except (ValueError, OSError) as err:
        raise DataError(path, f"cannot be read as a .npy array ({err})", "Re-extract sequences.tar.gz") from err
    if rgba.ndim != 4 or rgba.shape[-1] != 4:
        raise DataError(path, f"has shape {rgba.shape}, expected (V, H, W, 4) RGBA", "Re-extract sequences.tar.gz")
    intr, extr = read_camera_file(root)
    if len(extr) < len(rgba):
        raise DataError(camera_path(root), f"holds {len(extr)} cameras for a {len(rgba)}-frame sequence {path}",
                        "Use the camera.npz that belongs to these sequences")
    height, width = rgba.shape[1:3]
    cameras = cameras_from_pmo(intr, extr[: len(rgba)], width, height)
    return PMOSequence(synset, instance, rgba[..., :3].astype(np.float32) / 255.0, rgba[..., 3] == 255, cameras)


def write_sequence(root, synset: str, instance: str, images: np.ndarray, masks: np.ndarray) -> Path:
    """Write frames ``images`` (V, H, W, 3) in [0, 1] and ``masks`` (V, H, W) as PMO's RGBA ``.npy``."""
    rgb = np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)
    alpha = np.where(np.asarray(masks, dtype=bool), 255, 0).astype(np.uint8)
    path = sequence_path(root, synset, instance)
    with atomic_path(path) as tmp:
        np.save(tmp, np.concatenate([rgb, alpha[..., None]], axis=-1))
    return path


def write_points(root, synset: str, instance: str, points: np.ndarray, normals: np.ndarray) -> Path:
    """Ground-truth points as an ascii PLY with normals (AtlasNet's ``.points.ply`` layout)."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    normals = np.asarray(normals, dtype=np.float32).reshape(-1, 3)
    header = ("ply\nformat ascii 1.0\n"
              f"element vertex {len(points)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property float nx\nproperty float ny\nproperty float nz\nend_header\n")
    path = points_path(root, synset, instance)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(header)
            np.savetxt(f, np.concatenate([points, normals], axis=1), fmt="%.7g")
    return path


def read_points(root, synset: str, instance: str) -> np.ndarray:
    """(N, 3) float32 ground-truth points of an instance (normals dropped, as PMO and DIST do)."""
    import trimesh

    path = points_path(root, synset, instance)
    _require(path, "ground-truth point cloud")
    try:
        cloud = trimesh.load(path, process=False, file_type="ply")
    except Exception as err:  # trimesh raises many types on corrupt files
        raise DataError(path, f"cannot be read as PLY ({err})", "Re-download AtlasNet's customShapeNet") from err
    points = np.asarray(getattr(cloud, "vertices", np.zeros((0, 3))), dtype=np.float32)
    if len(points) == 0:
        raise DataError(path, "holds no points", "Re-download AtlasNet's customShapeNet or regenerate it")
    return points
