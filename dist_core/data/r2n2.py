r"""3D-R2N2 renderings (Choy et al. 2016): ``rendering_metadata.txt`` and its cameras in our convention.

Layout: ``<root>/<synset>/<model_id>/rendering/rendering_metadata.txt``, 24 lines (one per view
``00.png`` ... ``23.png``), each ``azimuth elevation in_plane_rotation distance_ratio fov`` in degrees /
ratio. Table 2 of DIST uses view 00 (the first line).

The camera follows the converter that occupancy networks and DIST use
(``scripts/dataset_shapenet/get_r2n2_cameras.py``; DIST ``synthesis/preprocess_choy/get_r2n2_cameras.py``):

* intrinsics, Blender's 35 mm lens on a 32 mm sensor, for a W x H image (137 x 137 = 127 + 10 margin)::

      K = [[35/32 W, 0, W/2], [0, 35/32 H, H/2], [0, 0, 1]]

  (the principal point at the image centre; with our pixel centres at +0.5 that is ``W/2`` exactly);
* with ``a = -azimuth`` and ``e = -elevation`` (radians)::

      M = [[cos a cos e, -sin a, cos a sin e],
           [sin a cos e,  cos a, sin a sin e],
           [-sin e,       0,     cos e      ]]        (object -> world of Blender, so world -> object is M^T)
      C = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]            (object -> camera, the transpose of the fixed CAM_ROT)
      F = diag(1, -1, -1)                               (Blender/OpenGL camera -> OpenCV camera)
      B = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]            (ShapeNet v1 world: (x, y, z) -> (x, -z, y))
      d = 1.75 * distance_ratio

      R = F C M^T B,      t = F (-C (d, 0, 0)^T) = (0, 0, d)

  so ``x_cam = R x + t`` for a point ``x`` in the mesh's own frame; the origin of that frame lies on the
  optical axis at depth ``d``. The fixed CAM_ROT of the converter differs from the permutation ``C^T`` by
  float32 round-off of Blender's Euler angles (4.4e-8), which we drop.
* in-plane rotation and the metadata fov are not used (as in the converter).
* into DeepSDF's normalised frame ``x_n = (x + offset) * scale``: substituting ``x = x_n / scale - offset``
  and multiplying the camera frame by ``scale`` (a similarity, the image is unchanged, depth is scaled)::

      R_n = R,      t_n = scale * (t - R offset)

  which is DIST's ``transform_camera`` (``core/dataset/loader_single.py``, where ``R`` excludes ``B``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..io import atomic_path
from .deepsdf import Normalization, normalize_camera
from .errors import DataError

__all__ = [
    "FOCAL_MM",
    "SENSOR_MM",
    "CAMERA_MAX_DISTANCE",
    "IMAGE_SIZE",
    "NUM_VIEWS",
    "ChoyView",
    "metadata_path",
    "read_metadata",
    "write_metadata",
    "sample_views",
    "choy_intrinsics",
    "choy_extrinsics",
    "choy_camera",
]

FOCAL_MM = 35.0
SENSOR_MM = 32.0
CAMERA_MAX_DISTANCE = 1.75
IMAGE_SIZE = 137
NUM_VIEWS = 24
METADATA = "rendering_metadata.txt"

_C = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
_F = np.diag([1.0, -1.0, -1.0])
_B = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class ChoyView:
    """One line of ``rendering_metadata.txt`` (degrees; distance as a ratio of 1.75)."""

    azimuth: float
    elevation: float
    in_plane_rotation: float
    distance_ratio: float
    fov: float


def metadata_path(root, synset: str, instance: str) -> Path:
    return Path(root) / synset / instance / "rendering" / METADATA


def read_metadata(path) -> list[ChoyView]:
    """Parse ``rendering_metadata.txt``; a :class:`DataError` names the file and line of a bad entry."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "3D-R2N2 rendering metadata not found",
                        "Set data.r2n2_root to the ShapeNetRendering folder of 3D-R2N2, or check the instance id")
    views = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 5 or not all(math.isfinite(v) for v in values):
            raise DataError(path, f"line {number} is malformed: {line.strip()!r}",
                            "Each line must hold 5 numbers: azimuth elevation in_plane_rotation distance_ratio fov")
        if values[3] <= 0:
            raise DataError(path, f"line {number} has distance_ratio {values[3]} <= 0", "Fix or re-extract the file")
        views.append(ChoyView(*values))
    if not views:
        raise DataError(path, "holds no view", "Re-extract the file from the 3D-R2N2 archive")
    return views


def write_metadata(path, views: list[ChoyView]) -> Path:
    """Write views in 3D-R2N2's format (one ``az el rot ratio fov`` line per view)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(
            f"{v.azimuth!r} {v.elevation!r} {v.in_plane_rotation!r} {v.distance_ratio!r} {v.fov!r}\n" for v in views
        ))
    return Path(path)


def sample_views(rng: np.random.Generator, count: int = NUM_VIEWS) -> list[ChoyView]:
    """Views distributed like 3D-R2N2's: azimuth in [0, 360), elevation 25-30, ratio 0.65-0.9, fov 25."""
    views = []
    for _ in range(count):
        views.append(ChoyView(
            azimuth=round(float(rng.uniform(0.0, 360.0)), 4),
            elevation=round(float(rng.uniform(25.0, 30.0)), 4),
            in_plane_rotation=0.0,
            distance_ratio=round(float(rng.uniform(0.65, 0.9)), 4),
            fov=25.0,
        ))
    return views


def choy_intrinsics(width: int = IMAGE_SIZE, height: int = IMAGE_SIZE) -> np.ndarray:
    """K of the Choy camera for a ``width`` x ``height`` image (the same field of view at any size)."""
    return np.array([
        [FOCAL_MM * width / SENSOR_MM, 0.0, width / 2.0],
        [0.0, FOCAL_MM * height / SENSOR_MM, height / 2.0],
        [0.0, 0.0, 1.0],
    ])


def choy_extrinsics(view: ChoyView) -> tuple[np.ndarray, np.ndarray]:
    """World(mesh frame)-to-camera ``R`` (3, 3), ``t`` (3,) in OpenCV's convention (module docstring)."""
    a = math.radians(-view.azimuth)
    e = math.radians(-view.elevation)
    ca, sa, ce, se = math.cos(a), math.sin(a), math.cos(e), math.sin(e)
    M = np.array([[ca * ce, -sa, ca * se], [sa * ce, ca, sa * se], [-se, 0.0, ce]])
    R = _F @ _C @ M.T @ _B
    t = _F @ (-_C @ np.array([view.distance_ratio * CAMERA_MAX_DISTANCE, 0.0, 0.0]))
    return R, t


def choy_camera(view: ChoyView, normalization: Normalization | None = None,
                width: int = IMAGE_SIZE, height: int | None = None) -> Camera:
    """The Choy camera of ``view``; in DeepSDF's normalised frame when ``normalization`` is given.

    Args:
        view: one metadata line.
        normalization: the instance's NormalizationParameters; None keeps the mesh frame.
        width, height: image size (137 x 137 like 3D-R2N2; smaller keeps the field of view).
    """
    height = width if height is None else height
    R, t = choy_extrinsics(view)
    camera = Camera(choy_intrinsics(width, height), R, t, width, height)
    return camera if normalization is None else normalize_camera(camera, normalization)
