"""DeepSDF data files and DeepSDF-style preprocessing: formats round-trip, numbers match DeepSDF's."""

import numpy as np
import pytest
import trimesh

from dist_core.data import deepsdf, preprocess
from dist_core.data.errors import DataError


def test_normalization_matches_deepsdf_formula_on_a_translated_box():
    box = trimesh.creation.box(extents=(2.0, 4.0, 6.0))
    box.apply_translation((1.0, -2.0, 3.0))
    n = deepsdf.normalization_parameters(box.vertices, box.faces)
    np.testing.assert_allclose(n.offset, [-1.0, 2.0, -3.0])
    assert n.scale == pytest.approx(1.0 / (1.03 * np.sqrt(1 + 4 + 9)))
    np.testing.assert_allclose(np.linalg.norm(n.apply(box.vertices), axis=1), 1 / 1.03)
    np.testing.assert_allclose(n.invert(n.apply(box.vertices)), box.vertices)


def test_normalization_ignores_vertices_no_face_uses():
    box = trimesh.creation.box()
    vertices = np.concatenate([box.vertices, [[100.0, 100.0, 100.0]]])
    n = deepsdf.normalization_parameters(vertices, box.faces)
    np.testing.assert_allclose(n.offset, 0.0, atol=1e-12)


def test_paths_follow_deepsdf_layout(tmp_path):
    assert deepsdf.sdf_samples_path(tmp_path, "ShapeNetV2", "03001627", "abc") == \
        tmp_path / "SdfSamples" / "ShapeNetV2" / "03001627" / "abc.npz"
    assert deepsdf.normalization_path(tmp_path, "D", "s", "i") == tmp_path / "NormalizationParameters/D/s/i.npz"
    assert deepsdf.surface_samples_path(tmp_path, "D", "s", "i") == tmp_path / "SurfaceSamples/D/s/i.ply"


def test_sdf_samples_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    pos = np.concatenate([rng.normal(size=(5, 3)), rng.uniform(0.01, 1, (5, 1))], axis=1).astype(np.float32)
    neg = np.concatenate([rng.normal(size=(3, 3)), -rng.uniform(0, 1, (3, 1))], axis=1).astype(np.float32)
    path = deepsdf.write_sdf_samples(tmp_path / "x.npz", pos, neg)
    with np.load(path) as raw:  # exactly DeepSDF's keys and dtypes
        assert sorted(raw.files) == ["neg", "pos"] and raw["pos"].dtype == np.float32
    p, n = deepsdf.read_sdf_samples(path)
    np.testing.assert_array_equal(p, pos)
    np.testing.assert_array_equal(n, neg)
    with pytest.raises(ValueError):
        deepsdf.write_sdf_samples(tmp_path / "bad.npz", neg, pos)


def test_normalization_round_trip_in_deepsdf_shapes(tmp_path):
    path = deepsdf.write_normalization(tmp_path / "n.npz", deepsdf.Normalization(np.array([0.1, -0.2, 0.3]), 1.75))
    with np.load(path) as raw:
        assert raw["offset"].shape == (3,) and raw["scale"].shape == (1,)
    n = deepsdf.read_normalization(path)
    np.testing.assert_allclose(n.offset, [0.1, -0.2, 0.3], rtol=1e-6)
    assert n.scale == pytest.approx(1.75)


def test_surface_samples_round_trip_in_deepsdf_ply_form(tmp_path):
    points = np.random.default_rng(1).normal(size=(31, 3)).astype(np.float32)
    path = deepsdf.write_surface_samples(tmp_path / "s.ply", points)
    text = path.read_text()
    assert "element vertex 31" in text and "element face 10" in text and "\n3 0 1 2\n" in text
    np.testing.assert_allclose(deepsdf.read_surface_samples(path), points, rtol=1e-6)
    # a plain point cloud without faces (other tools) reads the same
    trimesh.PointCloud(points).export(tmp_path / "plain.ply")
    np.testing.assert_allclose(deepsdf.read_surface_samples(tmp_path / "plain.ply"), points, rtol=1e-6)


def test_split_round_trip_and_lookup(tmp_path):
    path = deepsdf.write_split(tmp_path / "chairs_test.json", "ShapeNetV2", {"03001627": ["a", "b"], "04256520": ["c"]})
    split = deepsdf.read_split(path)
    assert split == {"ShapeNetV2": {"03001627": ["a", "b"], "04256520": ["c"]}}
    assert deepsdf.split_instances(split, "03001627") == [("ShapeNetV2", "03001627", "a"), ("ShapeNetV2", "03001627", "b")]
    assert deepsdf.check_in_split(path, split, "04256520", "c") == "ShapeNetV2"
    with pytest.raises(DataError, match=r"chairs_test\.json.*03001627/zzz is not in this split"):
        deepsdf.check_in_split(path, split, "03001627", "zzz")


def test_malformed_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.npz.*not found"):
        deepsdf.read_sdf_samples(tmp_path / "missing.npz")
    np.savez(tmp_path / "wrong.npz", xyz=np.zeros((2, 4)))
    with pytest.raises(DataError, match=r"wrong\.npz.*'pos' and 'neg'"):
        deepsdf.read_sdf_samples(tmp_path / "wrong.npz")
    np.savez(tmp_path / "shape.npz", pos=np.zeros((2, 3)), neg=np.zeros((2, 4)))
    with pytest.raises(DataError, match="expected"):
        deepsdf.read_sdf_samples(tmp_path / "shape.npz")
    (tmp_path / "split.json").write_text('{"ShapeNetV2": ["a", "b"]}')
    with pytest.raises(DataError, match=r"split\.json.*not a DeepSDF split"):
        deepsdf.read_split(tmp_path / "split.json")
    (tmp_path / "empty.ply").write_text("ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\n"
                                        "property float y\nproperty float z\nend_header\n")
    with pytest.raises(DataError, match="empty.ply"):
        deepsdf.read_surface_samples(tmp_path / "empty.ply")


def test_sdf_samples_of_a_sphere_are_exact_and_mixed_like_deepsdf():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    pos, neg = preprocess.sample_sdf(sphere, 4000, np.random.default_rng(0))
    samples = np.concatenate([pos, neg])
    assert len(samples) == 4000
    assert (pos[:, 3] > 0).all() and (neg[:, 3] <= 0).all()
    exact = np.linalg.norm(samples[:, :3], axis=1) - 0.5
    np.testing.assert_allclose(samples[:, 3], exact, atol=2e-4)  # icosphere facets deviate by < 1.5e-4
    near = np.abs(exact) < 0.3
    assert near.mean() == pytest.approx(47 / 50, abs=0.03)  # 3/50 uniform in the cube, the rest near the surface
    assert np.abs(samples[:, :3]).max() <= 1.0 + 0.3


def test_sdf_distance_never_below_truth_on_a_thin_shape():
    slab = trimesh.creation.box(extents=(1.0, 0.02, 0.6))
    points = np.random.default_rng(2).uniform(-1, 1, (3000, 3))
    sdf = preprocess.MeshSDF(slab, np.random.default_rng(3))(points)
    q = np.abs(points) - np.array([0.5, 0.01, 0.3])
    exact = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)
    assert (np.sign(sdf) == np.sign(exact)).all()
    assert (np.abs(sdf) >= np.abs(exact) - 1e-9).all()  # candidate triangles can only miss the closest one
    np.testing.assert_allclose(sdf, exact, atol=1e-3)
    assert np.median(np.abs(sdf - exact)) < 1e-9
