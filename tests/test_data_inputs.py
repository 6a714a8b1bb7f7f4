"""The embedded dataset end to end: written in the real formats, read back by the real-format loaders,
turned into the single-view / multi-view HDF5 inputs of the fitting stage."""

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from dist_core.data import deepsdf, embedded, inputs, pmo, r2n2, shapenet, synthetic
from dist_core.data.errors import DataError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    layout = embedded.Layout(root / "ShapeNetCore.v2", root / "deepsdf", root / "ShapeNetRendering", root / "pmo",
                             "ShapeNetV2", str(root / "splits" / "{category}_{split}.json"))
    ids = embedded.build_category("chair", layout, seed=0, train=2, test=2, sdf_samples=3000, surface_samples=600,
                                  progress=False)
    return layout, ids


def test_build_writes_every_real_format_file(dataset):
    layout, ids = dataset
    assert ids["train"] == synthetic.instance_ids(0, "chair", "train", 2)
    assert ids["test"] == synthetic.instance_ids(0, "chair", "test", 2)
    for split in ("train", "test"):
        split_data = deepsdf.read_split(embedded.split_file(layout.splits, "chair", split))
        assert split_data == {"ShapeNetV2": {"03001627": ids[split]}}
    assert shapenet.list_instances(layout.shapenet_root, "03001627") == sorted(ids["train"] + ids["test"])
    for instance in ids["train"] + ids["test"]:
        mesh = shapenet.load_mesh(shapenet.find_mesh(layout.shapenet_root, "03001627", instance))
        shapenet.check_watertight(mesh, instance)
        n = deepsdf.read_normalization(deepsdf.normalization_path(layout.deepsdf_dir, "ShapeNetV2", "03001627", instance))
        assert np.linalg.norm(n.apply(mesh.vertices), axis=1).max() == pytest.approx(1 / 1.03, rel=1e-5)
        pos, neg = deepsdf.read_sdf_samples(deepsdf.sdf_samples_path(layout.deepsdf_dir, "ShapeNetV2", "03001627", instance))
        assert len(pos) + len(neg) == 3000 and len(neg) > 100
        views = r2n2.read_metadata(r2n2.metadata_path(layout.r2n2_root, "03001627", instance))
        assert len(views) == 24
    surface = deepsdf.read_surface_samples(
        deepsdf.surface_samples_path(layout.deepsdf_dir, "ShapeNetV2", "03001627", ids["test"][0]))
    assert surface.shape == (600, 3)  # in the mesh's own frame, like DeepSDF's
    assert np.abs(surface).max() <= 0.5
    assert not deepsdf.surface_samples_path(layout.deepsdf_dir, "ShapeNetV2", "03001627", ids["train"][0]).exists()


def test_obj_on_disk_reproduces_the_generated_mesh(dataset):
    layout, ids = dataset
    generated = synthetic.generate("chair", 0, "test", 1).mesh
    loaded = shapenet.load_mesh(shapenet.find_mesh(layout.shapenet_root, "03001627", ids["test"][1]))
    assert loaded.volume == pytest.approx(generated.volume, rel=1e-6)
    np.testing.assert_allclose(loaded.bounds, generated.bounds, atol=1e-7)


def test_single_view_input_round_trip(dataset, tmp_path):
    layout, ids = dataset
    instance = ids["test"][0]
    data = inputs.build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2",
                                    "chair", instance, seed=0, resolution=32)
    path = inputs.write_single_view(inputs.single_view_path(tmp_path, "03001627", instance), data)
    back = inputs.read_single_view(path)
    np.testing.assert_array_equal(back.mask, data.mask)
    np.testing.assert_allclose(back.depth[back.mask], data.depth[data.mask], rtol=1e-6)
    assert np.isinf(back.depth[~back.mask]).all()
    np.testing.assert_allclose(back.normal, data.normal, atol=1e-6)
    assert list(back.sparse) == ["dense", "50pct", "10pct", "100pts", "50pts", "20pts"]
    for setting in back.sparse:
        np.testing.assert_array_equal(back.sparse[setting], data.sparse[setting])
    assert back.sparse["20pts"].sum() == 20 and np.isfinite(back.sparse_depth("20pts")).sum() == 20
    torch.testing.assert_close(back.camera.R, data.camera.R)
    assert back.attrs["instance"] == instance and back.attrs["seed"] == 0
    assert back.attrs["units"].startswith("DeepSDF normalised frame")
    # the camera is the Choy view 00 of the metadata, moved into the normalised frame
    view = r2n2.read_metadata(r2n2.metadata_path(layout.r2n2_root, "03001627", instance))[0]
    np.testing.assert_allclose(back.attrs["choy_view"], [view.azimuth, view.elevation, 0.0, view.distance_ratio, 25.0])
    assert data.mask.mean() > 0.03


def test_multi_view_input_round_trip_from_embedded_pmo_sequences(dataset, tmp_path):
    layout, ids = dataset
    cameras = pmo.circle_cameras(3, 20.0, 2.5, 40.0, 64)
    pmo.write_camera_file(layout.pmo_root, *pmo.cameras_to_pmo(cameras))
    instance = ids["test"][0]
    embedded.write_pmo_sequence(layout, "chair", instance, cameras, points=500, seed=0)
    data = inputs.build_multi_view(layout.pmo_root, "chair", instance, seed=0, source="embedded")
    assert data.images.shape == (3, 64, 64, 3) and data.masks.any(axis=(1, 2)).all()
    assert (data.images[~data.masks] == 0).all() and data.images[data.masks].max() > 0.1
    path = inputs.write_multi_view(inputs.multi_view_path(tmp_path, "03001627", instance), data)
    back = inputs.read_multi_view(path)
    np.testing.assert_allclose(back.images, data.images, atol=0.5 / 255 + 1e-7)
    np.testing.assert_array_equal(back.masks, data.masks)
    np.testing.assert_allclose(back.gt_points, data.gt_points)
    for a, b in zip(back.cameras, cameras):
        torch.testing.assert_close(a.R, b.R)
        torch.testing.assert_close(a.t, b.t)
        torch.testing.assert_close(a.K, b.K)
    # GT points (normalised frame) project inside the silhouette of every view
    for camera, mask in zip(back.cameras, back.masks):
        pixels, _ = camera.project(torch.tensor(back.gt_points, dtype=torch.float64))
        px = pixels.numpy().astype(int).clip(0, 63)
        # points on thin legs can fall between pixel centres: allow one pixel of slack
        assert binary_dilation(mask)[px[:, 1], px[:, 0]].mean() > 0.98


def test_shapenet_frame_sequences_are_moved_into_the_normalised_frame(dataset):
    layout, ids = dataset
    n = deepsdf.Normalization(np.array([0.1, 0.0, -0.2]), 2.0)
    normalized = inputs.build_multi_view(layout.pmo_root, "chair", ids["test"][0], 0, "normalized")
    moved = inputs.build_multi_view(layout.pmo_root, "chair", ids["test"][0], 0, "shapenet", n)
    np.testing.assert_allclose(moved.gt_points, n.apply(normalized.gt_points), rtol=1e-6)
    points = torch.tensor(normalized.gt_points[:20], dtype=torch.float64)
    for a, b in zip(normalized.cameras, moved.cameras):
        torch.testing.assert_close(b.project(torch.tensor(n.apply(points.numpy())))[0], a.project(points)[0])
    with pytest.raises(ValueError, match="NormalizationParameters"):
        inputs.build_multi_view(layout.pmo_root, "chair", ids["test"][0], 0, "shapenet")


def test_loader_errors_on_missing_pieces(dataset, tmp_path):
    layout, ids = dataset
    with pytest.raises(DataError, match=r"03001627/not-an-id.*no models/model_normalized.obj"):
        inputs.build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2", "chair",
                                 "not-an-id", 0, 32)
    with pytest.raises(DataError, match="NormalizationParameters file not found"):
        inputs.build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "OtherDataset", "chair",
                                 ids["test"][0], 0, 32)
    with pytest.raises(DataError, match="ShapeNet root folder does not exist"):
        inputs.build_single_view(tmp_path / "none", layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2", "chair",
                                 ids["test"][0], 0, 32)
    with pytest.raises(DataError, match=r"view 30 requested"):
        inputs.build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2", "chair",
                                 ids["test"][0], 0, 32, view_index=30)
    with pytest.raises(DataError, match="no procedural colour field"):
        embedded.load_synthetic_shape(tmp_path, "03001627", "x")
    with pytest.raises(DataError, match="single-view input not found"):
        inputs.read_single_view(tmp_path / "missing.h5")


def test_a_skip_record_round_trips_and_stops_the_readers(tmp_path):
    from dist_core.data.errors import SkippedInstance

    error = DataError(tmp_path / "02691156" / "abc" / "models" / "model_normalized.obj", "mesh file not found",
                      "Check the ShapeNet root")
    path = inputs.write_skip_record(tmp_path / "single_view.h5", error, category="plane", instance="abc")
    record = inputs.read_skip_record(path)
    assert record["file"].endswith("model_normalized.obj") and "mesh file not found" in record["reason"]
    for reader in (inputs.read_single_view, inputs.read_multi_view):
        with pytest.raises(SkippedInstance) as caught:
            reader(path)
        assert caught.value.file == record["file"] and caught.value.reason == record["reason"]
        assert str(path) in str(caught.value)


def test_a_prepared_input_has_no_skip_record(dataset, tmp_path):
    layout, ids = dataset
    view = inputs.build_single_view(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2",
                                    "chair", ids["test"][0], seed=0, resolution=16)
    path = inputs.write_single_view(tmp_path / "single_view.h5", view)
    assert inputs.read_skip_record(path) is None


def _prepare_single_view(layout, instance, path, shapenet_root=None):
    root = shapenet_root or layout.shapenet_root
    return inputs.prepare_instance(
        path, lambda: inputs.build_single_view(root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2", "chair",
                                               instance, 0, 16),
        inputs.write_single_view,
        inputs.single_view_folders(root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2", "03001627"),
        category="chair", instance=instance)


@pytest.mark.parametrize("broken", ["metadata", "surface_samples"])
def test_an_instance_with_a_bad_file_gets_a_skip_record_naming_it(dataset, tmp_path, broken):
    import shutil

    layout, ids = dataset
    instance = ids["test"][1]
    sources = inputs.single_view_sources(layout.shapenet_root, layout.r2n2_root, layout.deepsdf_dir, "ShapeNetV2",
                                         "03001627", instance)
    assert [p.is_file() for p in sources] == [True] * 4
    target = sources[2] if broken == "metadata" else sources[3]
    kept = tmp_path / "kept"
    shutil.copy(target, kept)
    try:
        target.write_text("ply\nformat ascii 1.0\nend_header\n" if broken == "surface_samples" else "1 2 3\n")
        record = _prepare_single_view(layout, instance, tmp_path / "single_view.h5")
    finally:
        shutil.copy(kept, target)
    assert record["file"] == str(target) and str(target) in record["reason"]
    assert inputs.read_skip_record(tmp_path / "single_view.h5") == record
    assert _prepare_single_view(layout, instance, tmp_path / "again.h5") is None  # the restored file prepares


def test_a_missing_dataset_folder_is_a_config_error_not_a_skip(dataset, tmp_path):
    layout, ids = dataset
    with pytest.raises(DataError, match="data.shapenet_root in the config"):
        _prepare_single_view(layout, ids["test"][0], tmp_path / "single_view.h5", shapenet_root=tmp_path / "nowhere")
    assert not (tmp_path / "single_view.h5").exists()


def test_single_view_sources_fall_back_to_the_v1_layout(tmp_path):
    v1 = shapenet.mesh_path(tmp_path, "03001627", "abc", version=1)
    v1.parent.mkdir(parents=True)
    v1.write_text("v 0 0 0\n")
    sources = inputs.single_view_sources(tmp_path, tmp_path / "r2n2", tmp_path / "deepsdf", "ShapeNetV2", "03001627",
                                         "abc")
    assert sources[0] == v1
    other = inputs.single_view_sources(tmp_path, tmp_path / "r2n2", tmp_path / "deepsdf", "ShapeNetV2", "03001627", "x")
    assert other[0] == shapenet.mesh_path(tmp_path, "03001627", "x", version=2)
