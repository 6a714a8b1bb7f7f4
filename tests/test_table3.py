"""Table 3 pieces: the metric, failure recording, HDF5 round trip, table and markdown."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import trimesh

from dist_core import Camera
from dist_core.baselines.pmo import ImageEncoder, MeshDecoder, PMOModel
from dist_core.data.inputs import MultiViewInput
from dist_core.multiview import FitDiverged
from dist_core.experiments.table3 import (METRIC, InstanceResult, chamfer_gt_to_prediction, markdown_table,
                                          read_instance, run_method, summarize_table, write_instance)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cameras(count=3, size=16):
    return [Camera.look_at((2.0 * math.sin(a), 0.3, -2.0 * math.cos(a)), width=size, up=(0.0, 1.0, 0.0))
            for a in np.linspace(0.0, 1.0, count)]


def test_chamfer_of_a_mesh_against_its_own_surface_is_small_and_scaled():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    directions = np.random.default_rng(0).normal(size=(10000, 3))
    gt = 0.5 * directions / np.linalg.norm(directions, axis=1, keepdims=True)  # the exact sphere the mesh approximates
    value, points = chamfer_gt_to_prediction(gt, sphere.vertices, sphere.faces, seed=0)
    assert points.shape == (10000, 3) and 0 < value < 0.3  # sampling spacing of 10,000 points: ~0.01
    bigger, _ = chamfer_gt_to_prediction(gt * 1.2, sphere.vertices, sphere.faces, seed=0)
    assert bigger == pytest.approx(1000 * 0.1 ** 2, rel=0.1)  # every point 0.1 away, squared, x1000
    with pytest.raises(FitDiverged, match="empty"):
        chamfer_gt_to_prediction(gt, np.zeros((0, 3)), np.zeros((0, 3), dtype=int), seed=0)


def _pmo_model(nan=False):
    decoder = MeshDecoder(4, 16, 1, 1)
    if nan:
        with torch.no_grad():
            decoder.out.bias.fill_(math.nan)
    return PMOModel(decoder.eval(), ImageEncoder(4, 4, 16).eval(), torch.zeros(1, 4), {})


def _settings():
    optimisation = {"epochs": 1, "views_per_round": 3, "depth_threshold": 1.0, "snapshot_every": 1}
    return {"resolution": 16, "background": "environment", "mesh_resolution": 16, "ours": optimisation,
            "pmo": {"encoder_view": 0, "optimization": optimisation}}


def test_a_diverging_instance_is_recorded_as_failed_with_the_reason():
    cameras = _cameras()
    data = MultiViewInput(np.random.default_rng(0).uniform(size=(3, 16, 16, 3)), np.ones((3, 16, 16), bool),
                          cameras, np.random.default_rng(1).normal(size=(50, 3)) * 0.3)
    failed = run_method("pmo_rand", "car", "abc", data, _settings(), seed=0, pmo_model=_pmo_model(nan=True),
                        progress=False)
    assert failed.status == "failed" and math.isnan(failed.chamfer) and failed.reason
    ok = run_method("pmo_original", "car", "abc", data, _settings(), seed=0, pmo_model=_pmo_model(), progress=False)
    assert ok.status == "ok" and ok.chamfer > 0 and ok.steps == 1 and len(ok.snapshots) == 2
    with pytest.raises(ValueError, match="unknown Table 3 method"):
        run_method("nerf", "car", "abc", data, _settings(), seed=0, progress=False)


def test_instance_results_round_trip_through_hdf5(tmp_path):
    result = InstanceResult("plane", "xyz", "ours_rand", chamfer=1.25, seconds=3.0, seconds_per_step=0.5,
                            forward_queries_per_step=1234.0, steps=6, losses=np.array([2.0, 1.5]),
                            snapshots=[(0, np.zeros((3, 3)), np.array([[0, 1, 2]])), (5, np.ones((3, 3)), np.array([[0, 2, 1]]))],
                            points=np.ones((10, 3)))
    path = write_instance(tmp_path / "r.h5", result, {"seed": 3})
    back = read_instance(path)
    assert back.row() == result.row()
    assert [e for e, _, _ in back.snapshots] == [0, 5] and np.array_equal(back.snapshots[1][2], [[0, 2, 1]])
    assert np.array_equal(back.points, result.points)
    with pytest.raises(FileNotFoundError, match="snakemake table3"):
        read_instance(tmp_path / "none.h5")


def test_table_counts_failures_and_markdown_has_the_papers_layout():
    rows = [InstanceResult("car", f"i{k}", "ours_rand", chamfer=float(k)).row() for k in range(1, 4)]
    rows.append(InstanceResult("car", "i4", "ours_rand", status="failed", reason="NaN").row())
    rows += [InstanceResult("car", f"i{k}", "pmo_rand", chamfer=10.0 * k).row() for k in range(1, 4)]
    table = summarize_table(rows)
    ours = table[table["method"] == "ours_rand"].iloc[0]
    assert ours["median"] == 2.0 and ours["n"] == 3 and ours["n_failed"] == 1 and ours["metric"] == METRIC
    assert ours["median_ci95_low"] <= 2.0 <= ours["median_ci95_high"]
    text = markdown_table(table, ["car", "plane"])
    assert "| Ours (rand init) | 2.000 (n=3, 1 failed) [0.919] | - |" in text
    assert "| PMO (original) | - | - |" in text
    table.to_csv("/dev/null")
    assert list(pd.DataFrame(rows).columns)[:3] == ["category", "instance", "method"]


def test_robustness_rows_cover_every_focal_scale_and_code_noise():
    from dist_core import Sphere
    from dist_core.experiments.table3 import robustness_rows

    cameras = _cameras()
    data = MultiViewInput(np.random.default_rng(0).uniform(size=(3, 16, 16, 3)), np.ones((3, 16, 16), bool),
                          cameras, np.random.default_rng(1).normal(size=(50, 3)) * 0.3)
    settings = {**_settings(), "robustness": {"instances": 1, "focal_scales": [1.0, 2.0], "code_noise": [0.0, 0.1]}}
    rows = robustness_rows("car", [("abc", data)], settings, seed=0, decoder=Sphere(radius=0.5), latent_size=4,
                           pmo_model=_pmo_model(), renderer={"coarse_to_fine": False}, progress=False)
    plan = sorted((r["experiment"], r["value"], r["method"]) for r in rows)
    assert plan == sorted([("focal_scale", 1.0, "ours_rand"), ("focal_scale", 1.0, "pmo_original"),
                           ("focal_scale", 2.0, "ours_rand"), ("focal_scale", 2.0, "pmo_original"),
                           ("pmo_code_noise", 0.0, "pmo_original"), ("pmo_code_noise", 0.1, "pmo_original")])
    noisy = [r for r in rows if r["experiment"] == "pmo_code_noise"]
    assert all(r["status"] == "ok" for r in noisy) and noisy[0]["chamfer"] != noisy[1]["chamfer"]
