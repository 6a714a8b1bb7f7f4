"""HDF5 / JSON / CSV artifacts: round trips through the real formats and atomic replacement."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from dist_core import io
from dist_core.camera import Camera
from dist_core.data.errors import DataError


def test_h5_round_trip_nested_arrays_and_attributes(tmp_path):
    path = tmp_path / "a" / "artifact.h5"
    depth = np.arange(12, dtype=np.float32).reshape(3, 4)
    attrs = io.standard_attributes(7, "test/1", "metres", category="chair")
    io.write_h5(path, {"depth": depth, "sparse": {"10pct": depth > 5, "dense": depth >= 0}, "t": torch.ones(3)}, attrs)
    arrays, read_attrs = io.read_h5(path)
    assert set(arrays) == {"depth", "sparse/10pct", "sparse/dense", "t"}
    np.testing.assert_array_equal(arrays["depth"], depth)
    np.testing.assert_array_equal(arrays["sparse/10pct"], depth > 5)
    np.testing.assert_array_equal(arrays["t"], np.ones(3))
    assert read_attrs["seed"] == 7 and read_attrs["generator_version"] == "test/1"
    assert read_attrs["units"] == "metres" and read_attrs["category"] == "chair"
    assert read_attrs["camera_convention"].startswith("opencv")


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "artifact.h5"
    io.write_h5(path, {"x": np.zeros(3)})
    with pytest.raises(TypeError):
        io.write_h5(path, {"x": np.array([object()])})
    np.testing.assert_array_equal(io.read_h5(path)[0]["x"], np.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["artifact.h5"]


def test_atomic_path_keeps_suffix_for_format_sniffing_libraries(tmp_path):
    with io.atomic_path(tmp_path / "samples.npz") as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path
        np.savez(tmp, a=np.arange(3))
    with np.load(tmp_path / "samples.npz") as data:
        np.testing.assert_array_equal(data["a"], np.arange(3))


def test_atomic_path_gives_files_the_mode_of_a_normal_write(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        with io.atomic_path(tmp_path / "table.csv") as tmp:
            tmp.write_text("a,b\n1,2\n")
        (tmp_path / "plain.csv").write_text("a,b\n1,2\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "table.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "table.csv").stat().st_mode == (tmp_path / "plain.csv").stat().st_mode


def test_camera_and_camera_stack_round_trip(tmp_path):
    cameras = [Camera.look_at((0.0, 0.5, -2.0 - i), fov_degrees=30 + i, width=40, height=30) for i in range(3)]
    path = tmp_path / "cams.h5"
    with h5py.File(path, "w") as f:
        io.write_camera(f.create_group("one"), cameras[0])
        io.write_cameras(f.create_group("many"), cameras)
    with h5py.File(path, "r") as f:
        one = io.read_camera(f["one"])
        many = io.read_cameras(f["many"])
    for a, b in zip([one] + many, [cameras[0]] + cameras):
        assert (a.width, a.height) == (40, 30)
        torch.testing.assert_close(a.K, b.K)
        torch.testing.assert_close(a.R, b.R)
        torch.testing.assert_close(a.t, b.t)


def test_camera_stack_rejects_mixed_sizes(tmp_path):
    with h5py.File(tmp_path / "c.h5", "w") as f, pytest.raises(ValueError, match="one image size"):
        io.write_cameras(f.create_group("c"), [Camera.look_at((0, 0, -2), width=8), Camera.look_at((0, 0, -2), width=9)])


def test_csv_round_trip_with_metadata(tmp_path):
    table = pd.DataFrame({"category": ["chair", "sofa"], "chamfer_x1000": [0.25, 1.5]})
    meta = {"units": "squared distance x 1000", "seed": 3}
    io.write_csv(tmp_path / "t.csv", table, meta)
    read, read_meta = io.read_csv(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(read, table)
    assert read_meta == {"units": "squared distance x 1000", "seed": "3"}


def test_json_round_trip_and_clear_errors(tmp_path):
    io.write_json(tmp_path / "x.json", {"a": [1, 2]})
    assert io.read_json(tmp_path / "x.json") == {"a": [1, 2]}
    with pytest.raises(DataError, match="missing.json"):
        io.read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(DataError, match="not valid JSON"):
        io.read_json(tmp_path / "bad.json")
    with pytest.raises(DataError, match="not found"):
        io.read_h5(tmp_path / "missing.h5")
