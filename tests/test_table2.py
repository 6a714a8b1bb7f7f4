"""Table 2 pieces on exact shapes: DeepSDF's samples from a depth image, one instance's evaluation with every
method (the oracle included), the Chamfer frames, the HDF5 round trip (skipped and truncated files too)."""

import math

import h5py
import numpy as np
import pytest
import torch

from dist_core.baselines.deepsdf import depth_sdf_samples
from dist_core.camera import Camera
from dist_core.data.deepsdf import Normalization
from dist_core.data.errors import DataError, SkippedInstance
from dist_core.data.inputs import SingleViewInput, write_skip_record, write_single_view
from dist_core.experiments.table2 import (METHODS, Table2Options, chamfers, evaluate_instance, load_instance,
                                          per_instance_rows, read_instance, silhouette_iou, write_instance,
                                          write_skipped_instance)
from dist_core.prior import SdfSamples
from dist_core.render import render
from dist_core.sdf import Sphere


@pytest.fixture(autouse=True)
def single_thread():
    """One torch thread, as the Table 2 jobs run: these tiny images only pay thread start-up for a second."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sphere_view(width=20, radius=0.5):
    camera = Camera.look_at((0.0, 0.4, -2.0), fov_degrees=40.0, width=width)
    truth = Sphere(radius)
    with torch.no_grad():
        r = render(truth, truth.latent, camera, outputs=("depth", "normal"))
    mask = r.valid.numpy()
    rng = np.random.default_rng(0)
    twenty = np.zeros(mask.size, dtype=bool)
    twenty[rng.choice(np.flatnonzero(mask), 20, replace=False)] = True
    return SingleViewInput(np.where(mask, r.depth.numpy(), np.inf), mask, r.normal.numpy(), camera,
                           {"dense": mask, "20pts": twenty.reshape(mask.shape)},
                           {"category": "sofa", "instance": "sphere", "synset": "04256520"})


def _sphere_samples(radius=0.5, count=4000):
    points = np.random.default_rng(3).uniform(-0.9, 0.9, size=(count, 3))
    sdf = np.linalg.norm(points, axis=1) - radius
    rows = np.concatenate([points, sdf[:, None]], axis=1).astype(np.float32)
    return SdfSamples.from_arrays(rows[sdf > 0], rows[sdf <= 0])


def _options(**ours):
    return Table2Options(ours={"iterations": 15, "lr": 0.02, "w_l2": 0.0, **ours},
                         deepsdf={"offsets": [0.025], "iterations": 60, "lr": 0.03, "samples_per_step": 500,
                                  # the sphere's SDF starts 0.5 from the samples: DeepSDF's clamp 0.1 would stall it
                                  "clamp": 1.0},
                         mesh_resolution=32, chamfer_samples=2000)


def _gt_points(normalization, count=3000, radius=0.5):
    """GT surface samples of the sphere in the mesh frame of ``normalization`` (x = x_norm / scale - offset)."""
    gt = np.random.default_rng(1).normal(size=(count, 3))
    gt = radius * gt / np.linalg.norm(gt, axis=1, keepdims=True)
    return gt / normalization.scale - normalization.offset


def test_deepsdf_samples_lie_at_their_signed_distance_along_the_normal():
    view = _sphere_view()
    valid = int(view.mask.sum())
    samples = depth_sdf_samples(view.depth, view.normal, view.mask, view.camera, offsets=(0.01, 0.03))
    # DeepSDF's +-eta samples only: no SDF-0 sample unless asked for.
    assert samples.pos.shape == (2 * valid, 4) and samples.neg.shape == (2 * valid, 4)
    with_surface = depth_sdf_samples(view.depth, view.normal, view.mask, view.camera, offsets=(0.01, 0.03),
                                     surface=True)
    assert with_surface.pos.shape == (3 * valid, 4) and (with_surface.pos[:, 3] == 0).sum() == valid
    for rows in (samples.pos, samples.neg):
        true_sdf = rows[:, :3].norm(dim=1) - 0.5
        assert torch.allclose(true_sdf, rows[:, 3], atol=2e-3)
    assert sorted(set(np.round(samples.neg[:, 3].numpy().astype(float), 4))) == [-0.03, -0.01]
    with pytest.raises(ValueError, match="no observed depth pixel"):
        depth_sdf_samples(view.depth, view.normal, np.zeros_like(view.mask), view.camera)


def test_normalised_chamfer_is_scale_squared_times_the_mesh_frame_one():
    normalization = Normalization(np.array([0.1, -0.2, 0.3]), 1.7)
    # A unit-cube-ish mesh of the sphere: marching cubes of the exact sphere in the normalised frame.
    from dist_core.mesh import extract_mesh

    mesh = extract_mesh(Sphere(0.45), Sphere(0.45).latent, resolution=32, coarse_stride=8)
    mesh_frame, normalised = chamfers(_gt_points(normalization), mesh.vertices, mesh.faces, normalization, 4000, 0)
    assert math.isclose(normalised, mesh_frame * 1.7**2, rel_tol=1e-12)
    # Radius 0.45 against 0.5: about the squared gap in each direction, in the normalised frame.
    assert normalised == pytest.approx(2 * 0.05**2, rel=0.25)


def test_silhouette_iou_counts_overlap_over_union():
    a = np.array([[True, True], [False, False]])
    b = np.array([[True, False], [True, False]])
    assert silhouette_iou(a, b) == pytest.approx(1 / 3) and silhouette_iou(a, a) == 1.0
    assert silhouette_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_evaluate_instance_scores_every_setting_and_method_and_round_trips(tmp_path):
    view = _sphere_view()
    normalization = Normalization(np.array([0.05, 0.0, -0.1]), 1.5)
    start = Sphere(0.35).latent
    results = evaluate_instance(Sphere(), start, view, _gt_points(normalization), normalization, _options(), seed=0,
                                settings=("dense", "20pts"), complete_samples=_sphere_samples())
    assert [(r.setting, r.method) for r in results] == [(s, m) for s in ("dense", "20pts") for m in METHODS]
    assert not any(r.failed for r in results)
    by = {(r.setting, r.method): r for r in results}
    # Dense depth implies the mask: one optimisation for every renderer row; the oracle is one fit for all settings.
    for method in ("ours", "ours_depth"):
        assert by["dense", method].shared and by["dense", method].chamfer_mesh == by["dense", "ours_mask"].chamfer_mesh
    assert not by["dense", "ours_mask"].shared and not by["dense", "oracle"].shared and by["20pts", "oracle"].shared
    start_chamfer = 2 * (0.5 - 0.35) ** 2  # two concentric spheres: squared radius gap in each direction
    for key in [("dense", "ours_mask"), ("20pts", "ours_mask"), ("dense", "oracle")]:
        r = by[key]
        assert r.chamfer_normalized < 0.5 * start_chamfer, key
        assert math.isclose(r.chamfer_normalized, r.chamfer_mesh * 1.5**2, rel_tol=1e-9)
        assert r.depth.shape == (20, 20) and r.silhouette_iou > 0.6  # the start (radius 0.35) covers about 0.5
    assert len(by["20pts", "ours_depth"].forward_queries) == 15 and by["20pts", "ours_depth"].silhouette_losses.max() == 0

    path = write_instance(tmp_path / "sofa" / "sphere.h5", results,
                          {"category": "sofa", "instance": "sphere", "settings": "dense,20pts", "scale": 1.5})
    assert [p.name for p in path.parent.iterdir()] == ["sphere.h5"]  # the atomic write left no temporary
    back, attrs = read_instance(path)
    assert [(r.setting, r.method) for r in back] == [(r.setting, r.method) for r in results]
    for a, b in zip(results, back):
        assert math.isclose(a.chamfer_normalized, b.chamfer_normalized, rel_tol=1e-9)
        assert np.array_equal(a.latent, b.latent) and a.silhouette_iou == b.silhouette_iou
        assert np.array_equal(a.faces, b.faces) and a.shared == b.shared
    rows = per_instance_rows(back, attrs)
    assert len(rows) == 10 and rows[2]["forward_queries_per_step"] > 0 and rows[0]["scale"] == 1.5


def test_a_diverging_method_is_recorded_as_failed():
    view = _sphere_view(width=16)
    results = evaluate_instance(Sphere(), Sphere(0.35).latent, view, np.zeros((10, 3)), Normalization(np.zeros(3), 1.0),
                                _options(diverge_factor=0.5), seed=0, settings=("dense",), methods=("ours_mask", "oracle"))
    assert results[0].failed and "exploded" in results[0].reason and math.isnan(results[0].chamfer_normalized)
    # No complete samples: the oracle row says so instead of stopping the instance.
    assert results[1].failed and "SdfSamples" in results[1].reason


def test_skip_record_gives_a_skipped_result_file(tmp_path):
    view = _sphere_view(width=8)
    input_path = write_single_view(tmp_path / "in" / "single_view.h5", view)
    write_skip_record(input_path, DataError(tmp_path / "model.obj", "has no faces", "Re-extract it"),
                      category="sofa", instance="sphere")
    with pytest.raises(SkippedInstance) as caught:
        load_instance(input_path, tmp_path, "ShapeNetV2")
    out = write_skipped_instance(tmp_path / "sofa" / "sphere.h5", caught.value.file, caught.value.reason,
                                 {"category": "sofa", "instance": "sphere"})
    results, attrs = read_instance(out)
    assert results == [] and attrs["skipped"] and attrs["skip_file"].endswith("model.obj")
    assert "has no faces" in attrs["skip_reason"]


def test_a_truncated_result_file_names_itself_and_the_fix(tmp_path):
    path = write_instance(tmp_path / "r.h5", [], {"category": "sofa", "instance": "sphere"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="delete it and rerun") as caught:
        read_instance(path)
    assert str(path) in str(caught.value)
    # A file of the previous layout lacks the attributes of both Chamfer frames: named as another version.
    with h5py.File(tmp_path / "old.h5", "w") as f:
        g = f.create_group("dense/ours")
        for name in ("latent", "losses"):
            g.create_dataset(name, data=np.zeros(2))
    with pytest.raises(DataError, match="another version"):
        read_instance(tmp_path / "old.h5")
