"""PMO sequences: our cameras reproduce PMO's own projection; every file round-trips."""

import numpy as np
import pytest
import torch

from dist_core.data import pmo
from dist_core.data.errors import DataError


def _pmo_like_cameras(views=5):
    rng = np.random.default_rng(0)
    intr = np.array([[250.0, 0.0, 111.5], [0.0, 250.0, 111.5], [0.0, 0.0, 1.0]])
    extr = []
    for _ in range(views):
        q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        q *= np.sign(np.linalg.det(q))
        extr.append(np.concatenate([q, [[0.1], [-0.2], [3.0]]], axis=1))
    return intr, np.stack(extr)


def test_cameras_reproduce_pmo_projection_with_integer_pixel_centres():
    intr, extr = _pmo_like_cameras()
    cameras = pmo.cameras_from_pmo(intr, extr, 224, 224)
    canonical = np.random.default_rng(1).normal(0, 0.3, (50, 3))
    world = canonical @ pmo.CS_MAP.T  # PMO: canonical -> world by cs_map, then extr, then u = K X / Z
    for camera, e in zip(cameras, extr):
        cam = world @ e[:, :3].T + e[:, 3]
        uv = cam @ intr.T
        pmo_pixels = uv[:, :2] / uv[:, 2:]
        ours, depth = camera.project(torch.tensor(canonical))
        np.testing.assert_allclose(ours.numpy(), pmo_pixels + 0.5, atol=1e-9)
        np.testing.assert_allclose(depth.numpy(), cam[:, 2], atol=1e-9)


def test_camera_conversion_round_trips():
    intr, extr = _pmo_like_cameras()
    back_intr, back_extr = pmo.cameras_to_pmo(pmo.cameras_from_pmo(intr, extr, 224, 224))
    np.testing.assert_allclose(back_intr, intr)
    np.testing.assert_allclose(back_extr, extr, atol=1e-12)


def test_circle_cameras_look_at_the_object_upright():
    cameras = pmo.circle_cameras(8, 20.0, 2.5, 40.0, 64)
    for camera in cameras:
        pixels, depth = camera.project(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.3, 0.0]]))
        torch.testing.assert_close(pixels[0], torch.tensor([32.0, 32.0], dtype=pixels.dtype))
        assert pixels[1, 1] < pixels[0, 1]  # world +y is up in the image
        assert depth[0] == pytest.approx(2.5)
        assert camera.center[1] == pytest.approx(2.5 * np.sin(np.radians(20.0)))
    azimuths = [np.degrees(np.arctan2(float(c.center[0]), float(-c.center[2]))) % 360 for c in cameras]
    np.testing.assert_allclose(azimuths, np.arange(8) * 45.0, atol=1e-9)


def test_sequence_camera_list_and_points_round_trip(tmp_path):
    intr, extr = _pmo_like_cameras(3)
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 6, 7, 3)) / 255.0
    masks = rng.random((3, 6, 7)) > 0.5
    pmo.write_camera_file(tmp_path, intr, extr)
    path = pmo.write_sequence(tmp_path, "02958343", "car1", images, masks)
    assert path == tmp_path / "sequences" / "02958343" / "car1.npy"
    raw = np.load(path)
    assert raw.dtype == np.uint8 and raw.shape == (3, 6, 7, 4) and set(np.unique(raw[..., 3])) <= {0, 255}
    seq = pmo.load_sequence(tmp_path, "02958343", "car1")
    np.testing.assert_allclose(seq.images, images, atol=1e-6)
    np.testing.assert_array_equal(seq.masks, masks)
    assert len(seq.cameras) == 3 and (seq.cameras[0].width, seq.cameras[0].height) == (7, 6)
    entries = [("02958343", "car1"), ("03001627", "ch1"), ("02958343", "car2")]
    pmo.write_test_list(tmp_path, entries)
    assert pmo.read_test_list(tmp_path) == entries
    assert pmo.read_test_list(tmp_path, "02958343") == [entries[0], entries[2]]
    points = rng.normal(size=(20, 3)).astype(np.float32)
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    ply = pmo.write_points(tmp_path, "02958343", "car1", points, normals)
    assert ply == tmp_path / "customShapeNet" / "02958343" / "ply" / "car1.points.ply"
    np.testing.assert_allclose(pmo.read_points(tmp_path, "02958343", "car1"), points, rtol=1e-6)


def test_missing_and_malformed_pmo_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"sequences/s/m\.npy.*pmo_root"):
        pmo.load_sequence(tmp_path, "s", "m")
    pmo.list_path(tmp_path).parent.mkdir(parents=True)
    pmo.list_path(tmp_path).write_text("02958343 car1\n02958343\n")
    with pytest.raises(DataError, match=r"all_test\.list: line 2 is malformed"):
        pmo.read_test_list(tmp_path)
    np.savez(pmo.camera_path(tmp_path), intr=np.eye(3), extr=np.zeros((2, 4, 4)))
    with pytest.raises(DataError, match=r"camera\.npz.*expected"):
        pmo.read_camera_file(tmp_path)
    np.savez(pmo.camera_path(tmp_path), intr=np.eye(3), extr=np.zeros((1, 3, 4)))
    pmo.write_sequence(tmp_path, "s", "m", np.zeros((2, 4, 4, 3)), np.zeros((2, 4, 4)))
    with pytest.raises(DataError, match="holds 1 cameras for a 2-frame sequence"):
        pmo.load_sequence(tmp_path, "s", "m")


def test_pmo_trajectory_is_pmos_camera_file():
    intr, extr = pmo.pmo_trajectory(224)
    assert extr.shape == (72, 3, 4)
    np.testing.assert_allclose(intr, [[245.0, 0.0, 112.0], [0.0, 245.0, 112.0], [0.0, 0.0, 1.0]])
    # View 0 of PMO's data/camera.npz.
    np.testing.assert_allclose(extr[0], [[0.0, 1.0, 0.0, 0.0], [0.258819045, 0.0, -0.965925826, 0.0],
                                         [-0.965925826, 0.0, -0.258819045, 2.5]], atol=1e-9)
    cameras = pmo.cameras_from_pmo(intr, extr, 224, 224)
    centres = np.stack([c.center.numpy() for c in cameras])  # canonical frame: +y up
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.5)
    elevation = np.degrees(np.arcsin(centres[:, 1] / 2.5))
    np.testing.assert_allclose(elevation, np.repeat([15.0, 30.0, 45.0], 24), atol=1e-9)
    azimuth = np.degrees(np.arctan2(-centres[:, 2], centres[:, 0]))
    steps = np.diff(azimuth.reshape(3, 24), axis=1) % 360.0
    np.testing.assert_allclose(steps, 15.0, atol=1e-9)  # neighbours 15 degrees apart on each ring
    for camera in cameras[::7]:
        pixels, _ = camera.project(torch.zeros(1, 3, dtype=torch.float64))
        np.testing.assert_allclose(pixels.numpy(), [[112.5, 112.5]])  # PMO's principal point, our pixel centres
        up, _ = camera.project(torch.tensor([[0.0, 0.3, 0.0]], dtype=torch.float64))
        assert up[0, 1] < 112.5  # canonical +y is up in the image


def test_pmo_trajectory_scales_to_any_resolution_and_ring_set():
    intr, extr = pmo.pmo_trajectory(112, elevations=[30.0], azimuth_step=45.0)
    assert extr.shape == (8, 3, 4)
    np.testing.assert_allclose(intr[0], [122.5, 0.0, 56.0])
    np.testing.assert_allclose(extr, pmo.pmo_trajectory(224)[1][24:48:3], atol=1e-12)
    with pytest.raises(ValueError, match="divide 360"):
        pmo.pmo_trajectory(112, azimuth_step=25.0)
