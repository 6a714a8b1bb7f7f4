"""Artifacts on disk: HDF5 files written atomically, cameras inside them, JSON and CSV tables.

Every writer goes through :func:`atomic_path`: the data is written to a temporary file in the target's
folder and moved over the target with ``os.replace``, so an interrupted job never leaves a half-written
file that a later job (or Snakemake's timestamp check) would take for a finished one.

HDF5 layout conventions (read back by :func:`read_h5`):

* datasets are addressed by ``/``-separated names (``"sparse/10pct"``); groups are created as needed;
* attributes of the root group describe the file; :func:`standard_attributes` gives the ones every
  artifact carries: the camera convention, units, seed and generator version;
* a camera is a group with datasets ``K`` (3, 3), ``R`` (3, 3), ``t`` (3,) and attributes ``width``,
  ``height`` (:func:`write_camera`, :func:`read_camera`); a stack of V cameras stores ``K`` (V, 3, 3),
  ``R`` (V, 3, 3), ``t`` (V, 3).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

import h5py
import numpy as np

__all__ = [
    "CAMERA_CONVENTION",
    "DEPTH_CONVENTION",
    "atomic_path",
    "standard_attributes",
    "write_h5",
    "read_h5",
    "read_h5_attributes",
    "open_h5",
    "decode_attribute",
    "write_camera",
    "read_camera",
    "write_cameras",
    "read_cameras",
    "write_json",
    "read_json",
    "write_csv",
    "read_csv",
]

CAMERA_CONVENTION = (
    "opencv: x_cam = R x_world + t, camera looks down +z, image x right, y down, pixel centres at +0.5"
)
DEPTH_CONVENTION = "camera-frame z (not ray length); 0 on background, see mask"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``, on error delete it.

    The temporary name keeps the target's suffix, so libraries that pick a format from the suffix
    (numpy's ``.npz``, trimesh's ``.obj`` / ``.ply``) still do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp's file is private (0600); the result gets a normal file's mode
            tmp.chmod(0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def standard_attributes(seed: int, generator_version: str, units: str, **extra) -> dict:
    """The attributes every HDF5 artifact carries (the README's "Conventions")."""
    attrs = {
        "camera_convention": CAMERA_CONVENTION,
        "depth_convention": DEPTH_CONVENTION,
        "units": units,
        "seed": int(seed),
        "generator_version": generator_version,
    }
    attrs.update(extra)
    return attrs


def _flatten(arrays: Mapping, prefix: str = "") -> dict:
    flat = {}
    for key, value in arrays.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def _as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def write_h5(path, arrays: Mapping, attrs: Mapping | None = None, compress: bool = True) -> Path:
    """Write ``arrays`` (nested mappings or ``/``-separated names -> arrays) and root ``attrs``, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
            for name, value in _flatten(arrays).items():
                data = _as_array(value)
                options = {"compression": "gzip", "compression_opts": 4} if compress and data.size > 64 else {}
                f.create_dataset(name, data=data, **options)
    return path


@contextlib.contextmanager
def open_h5(path, what: str = "HDF5 artifact",
            missing_fix: str = "Run the rule that writes it (snakemake <target>)") -> Iterator[h5py.File]:
    """Open an HDF5 file for reading; a missing, truncated or foreign file, or a missing dataset inside it,
    raises one :class:`~dist_core.data.errors.DataError` naming the file and the fix."""
    from .data.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} not found", missing_fix)
    try:
        f = h5py.File(path, "r")
    except OSError as err:  # h5py's "file signature not found", "truncated file", ...
        raise DataError(path, f"not a readable HDF5 file ({err})",
                        "It is corrupt or incomplete: delete it and rerun the rule that writes it") from err
    try:
        with f:
            yield f
    except KeyError as err:
        raise DataError(path, f"lacks an expected dataset ({err})",
                        "It was written by another version: delete it and rerun the rule that writes it") from err


def read_h5(path) -> tuple[dict, dict]:
    """Read every dataset of an HDF5 file; returns ``(arrays by /-separated name, root attributes)``."""
    arrays: dict = {}
    with open_h5(path) as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        attrs = {k: decode_attribute(v) for k, v in f.attrs.items()}
    return arrays, attrs


def read_h5_attributes(path, group: str = "/") -> dict:
    with open_h5(path) as f:
        return {k: decode_attribute(v) for k, v in f[group].attrs.items()}


def decode_attribute(value):
    """An HDF5 attribute as a plain Python value (bytes -> str, numpy scalar -> Python scalar)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_camera(group: h5py.Group, camera) -> None:
    """Store a :class:`~dist_core.camera.Camera` in an open HDF5 group."""
    group.create_dataset("K", data=_as_array(camera.K).astype(np.float64))
    group.create_dataset("R", data=_as_array(camera.R).astype(np.float64))
    group.create_dataset("t", data=_as_array(camera.t).astype(np.float64))
    group.attrs["width"] = camera.width
    group.attrs["height"] = camera.height


def read_camera(group: h5py.Group):
    """The :class:`~dist_core.camera.Camera` stored by :func:`write_camera`."""
    from .camera import Camera

    return Camera(group["K"][()], group["R"][()], group["t"][()], int(group.attrs["width"]), int(group.attrs["height"]))


def write_cameras(group: h5py.Group, cameras) -> None:
    """Store V cameras of one image size as stacks ``K`` (V, 3, 3), ``R`` (V, 3, 3), ``t`` (V, 3)."""
    sizes = {(c.width, c.height) for c in cameras}
    if len(sizes) != 1:
        raise ValueError(f"write_cameras needs cameras of one image size, got {sorted(sizes)}")
    group.create_dataset("K", data=np.stack([_as_array(c.K) for c in cameras]).astype(np.float64))
    group.create_dataset("R", data=np.stack([_as_array(c.R) for c in cameras]).astype(np.float64))
    group.create_dataset("t", data=np.stack([_as_array(c.t) for c in cameras]).astype(np.float64))
    group.attrs["width"], group.attrs["height"] = sizes.pop()


def read_cameras(group: h5py.Group) -> list:
    from .camera import Camera

    K, R, t = group["K"][()], group["R"][()], group["t"][()]
    width, height = int(group.attrs["width"]), int(group.attrs["height"])
    return [Camera(K[i], R[i], t[i], width, height) for i in range(len(R))]


def write_json(path, obj, indent: int = 2) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, sort_keys=False) + "\n")
    return path


def read_json(path):
    path = Path(path)
    if not path.is_file():
        from .data.errors import DataError

        raise DataError(path, "JSON file not found", "Check the path in the config or run the rule that writes it")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        from .data.errors import DataError

        raise DataError(path, f"not valid JSON ({err})", "Fix or regenerate the file") from err


def write_csv(path, table, metadata: Mapping | None = None) -> Path:
    """Write a pandas DataFrame (or list of row dicts) as CSV, with ``# key: value`` lines on top.

    The metadata lines say what the numbers mean (units, Chamfer variant, seed); :func:`read_csv`
    returns them beside the table.
    """
    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            for key, value in (metadata or {}).items():
                if "\n" in str(key) + str(value) or ":" in str(key):
                    raise ValueError(f"CSV metadata key/value must be one line without ':' in the key: {key!r}")
                f.write(f"# {key}: {value}\n")
            frame.to_csv(f, index=False)
    return path


def read_csv(path):
    """Read a CSV written by :func:`write_csv`; returns ``(DataFrame, metadata dict of strings)``."""
    import pandas as pd

    path = Path(path)
    metadata = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].rstrip("\n").partition(": ")
            metadata[key] = value
    return pd.read_csv(path, comment=None, skiprows=len(metadata)), metadata
