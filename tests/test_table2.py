"""Table 2 pieces on exact shapes: DeepSDF's samples from a depth image, one instance's evaluation, the HDF5
round trip and the tables."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from dist_core.baselines.deepsdf import depth_sdf_samples
from dist_core.camera import Camera
from dist_core.data.deepsdf import Normalization
from dist_core.data.inputs import SingleViewInput
from dist_core.render import render
from dist_core.sdf import Sphere
from dist_core.experiments.table2 import (PAPER_TABLE2, Table2Options, assemble, evaluate_instance, markdown_table,
                              per_instance_rows, read_instance, write_instance)


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


def _options(**ours):
    return Table2Options(ours={"iterations": 15, "lr": 0.02, "w_l2": 0.0, **ours},
                         deepsdf={"offsets": [0.025], "iterations": 30, "lr": 0.02, "samples_per_step": 500,
                                  # the sphere's SDF starts 0.5 from the samples: DeepSDF's clamp 0.1 would stall it
                                  "clamp": 1.0},
                         mesh_resolution=32, chamfer_samples=2000)


def test_deepsdf_samples_lie_at_their_signed_distance_along_the_normal():
    view = _sphere_view()
    samples = depth_sdf_samples(view.depth, view.normal, view.mask, view.camera, offsets=(0.01, 0.03))
    valid = int(view.mask.sum())
    assert samples.pos.shape == (3 * valid, 4) and samples.neg.shape == (2 * valid, 4)
    for rows in (samples.pos, samples.neg):
        true_sdf = rows[:, :3].norm(dim=1) - 0.5
        assert torch.allclose(true_sdf, rows[:, 3], atol=2e-3)
    assert sorted(set(np.round(samples.neg[:, 3].numpy().astype(float), 4))) == [-0.03, -0.01]
    with pytest.raises(ValueError, match="no observed depth pixel"):
        depth_sdf_samples(view.depth, view.normal, np.zeros_like(view.mask), view.camera)


def test_evaluate_instance_scores_every_setting_and_method_and_round_trips(tmp_path):
    view = _sphere_view()
    gt = np.random.default_rng(1).normal(size=(3000, 3))
    gt = 0.5 * gt / np.linalg.norm(gt, axis=1, keepdims=True)
    start = Sphere(0.35).latent
    results = evaluate_instance(Sphere(), start, view, gt, Normalization(np.zeros(3), 1.0), _options(), seed=0,
                                settings=("dense", "20pts"))
    assert [(r.setting, r.method) for r in results] == [(s, m) for s in ("dense", "20pts")
                                                        for m in ("deepsdf", "ours", "ours_mask")]
    assert not any(r.failed for r in results)
    by = {(r.setting, r.method): r for r in results}
    # Dense depth implies the mask: one optimisation for both rows.
    assert by["dense", "ours"].shared and by["dense", "ours"].chamfer == by["dense", "ours_mask"].chamfer
    start_chamfer = 2 * (0.5 - 0.35) ** 2  # two concentric spheres: squared radius gap in each direction
    for key in [("dense", "ours_mask"), ("20pts", "ours_mask")]:
        assert by[key].chamfer < 0.5 * start_chamfer
        assert by[key].depth.shape == (20, 20) and len(by[key].forward_queries) == 15

    path = write_instance(tmp_path / "sofa" / "sphere.h5", results, {"category": "sofa", "instance": "sphere",
                                                                      "settings": "dense,20pts"})
    assert [p.name for p in path.parent.iterdir()] == ["sphere.h5"]  # the atomic write left no temporary
    back, attrs = read_instance(path)
    assert [(r.setting, r.method) for r in back] == [(r.setting, r.method) for r in results]
    for a, b in zip(results, back):
        assert math.isclose(a.chamfer, b.chamfer, rel_tol=1e-9) and np.array_equal(a.latent, b.latent)
        assert np.array_equal(a.faces, b.faces) and a.shared == b.shared
    rows = per_instance_rows(back, attrs)
    assert len(rows) == 6 and rows[1]["forward_queries_per_step"] > 0


def test_a_diverging_method_is_recorded_as_failed_and_counted():
    view = _sphere_view(width=16)
    results = evaluate_instance(Sphere(), Sphere(0.35).latent, view, np.zeros((10, 3)), Normalization(np.zeros(3), 1.0),
                                _options(diverge_factor=0.5), seed=0, settings=("dense",), methods=("ours_mask",))
    assert results[0].failed and "exploded" in results[0].reason and math.isnan(results[0].chamfer)
    table = assemble(per_instance_rows(results, {"category": "sofa", "instance": "sphere"}))
    assert table.loc[0, "n"] == 1 and table.loc[0, "n_failed"] == 1 and math.isnan(table.loc[0, "median_chamfer_x1000"])


def test_tables_have_medians_failures_and_the_paper_layout(tmp_path):
    rows = [{"category": c, "instance": f"i{k}", "setting": s, "method": m, "chamfer_x1000": float(k + 1),
             "failed": k == 3, "seconds_per_step": 0.1, "forward_queries_per_step": 100.0}
            for c in ("sofa", "plane") for s in ("dense", "20pts") for m in ("deepsdf", "ours", "ours_mask")
            for k in range(4)]
    table = assemble(rows, with_paper=True)
    assert len(table) == 12
    first = table.iloc[0]
    assert (first.category, first.setting, first.method) == ("sofa", "dense", "deepsdf")
    assert first.median_chamfer_x1000 == 2.0 and first.n == 4 and first.n_failed == 1
    assert first.median_ci95_low <= 2.0 <= first.median_ci95_high
    assert first.paper_median_chamfer_x1000 == PAPER_TABLE2["sofa", "deepsdf"][0]
    table.to_csv(tmp_path / "t.csv", index=False)
    assert pd.read_csv(tmp_path / "t.csv").shape == table.shape
    md = markdown_table(table, with_paper=True)
    assert "| | dense | 20 pts |" in md and "| **plane** |" in md
    assert f"| Ours (mask) | 2.00 (1 failed) ({PAPER_TABLE2['sofa', 'ours_mask'][0]:.2f})" in md
