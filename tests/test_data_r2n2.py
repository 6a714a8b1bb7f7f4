"""3D-R2N2 metadata and the Choy et al. camera, against matrices worked out by hand."""

import math

import numpy as np
import pytest
import torch

from dist_core.data import deepsdf, r2n2, shapenet, synthetic
from dist_core.data.errors import DataError
from dist_core.data.groundtruth import raycast

S3 = math.sqrt(3.0) / 2.0
F = 35.0 / 32.0 * 137.0


def test_intrinsics_for_choy_images():
    np.testing.assert_allclose(r2n2.choy_intrinsics(), [[F, 0, 68.5], [0, F, 68.5], [0, 0, 1]])
    np.testing.assert_allclose(r2n2.choy_intrinsics(64)[0, 0], 35.0 / 32.0 * 64)


def test_front_view_line_matches_hand_computation():
    # azimuth 0, elevation 0: the camera sits on the mesh's +x axis at 1.75 * 0.8, +y appears up
    camera = r2n2.choy_camera(r2n2.ChoyView(0.0, 0.0, 0.0, 0.8, 25.0))
    np.testing.assert_allclose(camera.K.numpy(), r2n2.choy_intrinsics())
    np.testing.assert_allclose(camera.R.numpy(), [[0, 0, -1], [0, -1, 0], [-1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(camera.t.numpy(), [0, 0, 1.4], atol=1e-12)
    np.testing.assert_allclose(camera.center.numpy(), [1.4, 0, 0], atol=1e-12)


def test_raised_side_view_line_matches_hand_computation():
    # azimuth 90, elevation 30 (a = -90, e = -30):
    #   M^T = [[0, -s3, 1/2], [1, 0, 0], [0, 1/2, s3]],  C M^T = [[1, 0, 0], [0, 1/2, s3], [0, -s3, 1/2]]
    #   F C M^T = [[1, 0, 0], [0, -1/2, -s3], [0, s3, -1/2]],  (.) B maps each row (r1, r2, r3) -> (r1, r3, -r2)
    camera = r2n2.choy_camera(r2n2.ChoyView(90.0, 30.0, 0.0, 0.6, 25.0))
    R = [[1, 0, 0], [0, -S3, 0.5], [0, -0.5, -S3]]
    np.testing.assert_allclose(camera.R.numpy(), R, atol=1e-12)
    np.testing.assert_allclose(camera.t.numpy(), [0, 0, 1.05], atol=1e-12)
    d = 1.05  # camera above the object (elevation 30) on the +z side
    np.testing.assert_allclose(camera.center.numpy(), [0, d * 0.5, d * S3], atol=1e-12)


def test_normalised_frame_camera_sees_the_same_image():
    view = r2n2.ChoyView(123.0, 27.0, 0.0, 0.7, 25.0)
    n = deepsdf.Normalization(np.array([0.05, -0.1, 0.02]), 1.8)
    mesh_cam = r2n2.choy_camera(view)
    norm_cam = r2n2.choy_camera(view, n)
    R, t = mesh_cam.R.numpy(), mesh_cam.t.numpy()
    np.testing.assert_allclose(norm_cam.t.numpy(), 1.8 * (t - R @ n.offset))
    points = np.random.default_rng(0).normal(0, 0.2, (20, 3))
    px_mesh, z_mesh = mesh_cam.project(torch.tensor(points))
    px_norm, z_norm = norm_cam.project(torch.tensor(n.apply(points)))
    torch.testing.assert_close(px_norm, px_mesh)
    torch.testing.assert_close(z_norm, 1.8 * z_mesh)


def test_points_on_the_optical_axis_project_to_the_image_centre():
    for view in r2n2.sample_views(np.random.default_rng(1), 24):
        camera = r2n2.choy_camera(view, deepsdf.Normalization(np.array([0.1, 0.2, -0.1]), 1.9), width=137)
        axis = camera.R[2]
        points = torch.stack([camera.center + s * axis for s in (0.5, 1.0, 3.0)])
        pixels, depth = camera.project(points)
        torch.testing.assert_close(pixels, torch.full_like(pixels, 68.5))
        torch.testing.assert_close(depth, torch.tensor([0.5, 1.0, 3.0], dtype=depth.dtype))


@pytest.mark.parametrize("category", ["chair", "plane"])
def test_gt_silhouettes_are_centred_and_plausible_for_all_24_views(category):
    shape = synthetic.generate(category, 0, "test", 0)
    n = deepsdf.normalization_parameters(shape.mesh.vertices, shape.mesh.faces)
    mesh = shapenet.normalized_mesh(shape.mesh, n)
    for view in r2n2.sample_views(np.random.default_rng(2), 24):
        gt = raycast(mesh, r2n2.choy_camera(view, n, width=64))
        ys, xs = np.nonzero(gt.mask)
        fraction = gt.mask.mean()
        assert 0.02 < fraction < 0.6, (view, fraction)
        assert abs(xs.mean() + 0.5 - 32) < 8 and abs(ys.mean() + 0.5 - 32) < 8, view
        assert not (gt.mask[0].any() or gt.mask[-1].any() or gt.mask[:, 0].any() or gt.mask[:, -1].any())


def test_metadata_round_trip(tmp_path):
    views = r2n2.sample_views(np.random.default_rng(3))
    assert len(views) == 24
    assert all(0 <= v.azimuth < 360 and 25 <= v.elevation <= 30 and 0.65 <= v.distance_ratio <= 0.9 for v in views)
    path = r2n2.write_metadata(r2n2.metadata_path(tmp_path, "03001627", "abc"), views)
    assert path == tmp_path / "03001627" / "abc" / "rendering" / "rendering_metadata.txt"
    assert r2n2.read_metadata(path) == views


def test_real_metadata_text_parses(tmp_path):
    path = tmp_path / "rendering_metadata.txt"
    path.write_text("293.70 26.63 0 0.78 25\n  41.1 28.0 0 0.69 25  \n\n")
    views = r2n2.read_metadata(path)
    assert views[0] == r2n2.ChoyView(293.70, 26.63, 0.0, 0.78, 25.0) and len(views) == 2


@pytest.mark.parametrize("bad", ["12 25 0 0.7", "12 25 0 zero 25", "12 25 0 -0.7 25", "nan 25 0 0.7 25"])
def test_malformed_metadata_line_names_file_and_line(tmp_path, bad):
    path = tmp_path / "rendering_metadata.txt"
    path.write_text(f"10 25 0 0.7 25\n{bad}\n")
    with pytest.raises(DataError, match=r"rendering_metadata\.txt: line 2"):
        r2n2.read_metadata(path)


def test_missing_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="ShapeNetRendering"):
        r2n2.read_metadata(r2n2.metadata_path(tmp_path, "s", "i"))
