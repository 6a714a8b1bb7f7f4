"""Table 3 pieces: the metric in PMO's frame, failures and skipped instances, HDF5 round trip, the table's
counts and intervals, the paired comparisons, the markdown and its notes."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import trimesh

from dist_core import Camera, Sphere
from dist_core.baselines.pmo import ImageEncoder, MeshDecoder, PMOModel
from dist_core.data.deepsdf import Normalization
from dist_core.data.errors import DataError, SkippedInstance
from dist_core.data.inputs import MultiViewInput, read_multi_view, write_skip_record
from dist_core.experiments.table3 import (METRIC, METRICS, InstanceResult, markdown_table, paired_table,
                                          protocol_notes, read_instance, robustness_rows, run_method,
                                          skipped_result, skipped_table, stale_training_settings, summarize_table,
                                          table3_metrics, write_instance)
from dist_core.multiview import FitDiverged


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cameras(count=3, size=16):
    return [Camera.look_at((2.0 * math.sin(a), 0.3, -2.0 * math.cos(a)), width=size, up=(0.0, 1.0, 0.0))
            for a in np.linspace(0.0, 1.0, count)]


def _sphere_points(radius, count=10000, seed=0):
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * directions / np.linalg.norm(directions, axis=1, keepdims=True)


def test_metrics_score_in_pmos_frame_and_the_normalised_one():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    frame = Normalization(np.array([0.1, -0.2, 0.05]), 2.0)
    values, points = table3_metrics(_sphere_points(0.6), sphere.vertices, sphere.faces, frame, seed=0)
    assert points.shape == (10000, 3) and set(values) == set(METRICS)
    # Every ground-truth point is 0.1 from the prediction in the normalised frame, 0.05 in PMO's (scale 2).
    assert values["chamfer_gt_to_pred_x1000_normalized_frame"] == pytest.approx(1000 * 0.1 ** 2, rel=0.05)
    assert values[METRIC] == pytest.approx(values["chamfer_gt_to_pred_x1000_normalized_frame"] / 4.0, rel=1e-9)
    assert values["chamfer_pred_to_gt_x1000_pmo_frame"] == pytest.approx(1000 * 0.05 ** 2, rel=0.1)
    with pytest.raises(FitDiverged, match="empty"):
        table3_metrics(_sphere_points(0.5), np.zeros((0, 3)), np.zeros((0, 3), dtype=int), frame, seed=0)


class _SphereAround(Sphere):
    """A sphere whose latent is the offset of [cx, cy, cz, r] from the centred sphere of radius 0.5: a random
    code near 0 is a sphere near radius 0.5 (a plain Sphere's latent is its radius itself)."""

    def forward(self, latent, points):
        return super().forward(latent + self.latent.to(latent), points)


def _data(count=3):
    return MultiViewInput(np.random.default_rng(0).uniform(size=(count, 16, 16, 3)), np.ones((count, 16, 16), bool),
                          _cameras(count), _sphere_points(0.3, 50, 1),
                          {"instance": "abc", "normalization_offset": np.zeros(3), "normalization_scale": 2.0})


def _pmo_model(nan=False):
    decoder = MeshDecoder(4, patches=2, grid=2, hidden=8)
    if nan:
        with torch.no_grad():
            decoder.biases[-1].fill_(math.nan)
    return PMOModel(decoder.eval(), ImageEncoder(4, 4, 16).eval(), torch.zeros(1, 4), {})


def _settings():
    return {"resolution": 16, "frames": None, "background": "environment", "mesh_resolution": 16,
            "ours": {"epochs": 1, "views_per_round": 3, "depth_threshold": 0.25, "snapshot_every": 1},
            "pmo": {"encoder_view": 0, "optimization": {"iterations": 2, "snapshot_every": 1}}}


def test_every_method_runs_and_a_diverging_instance_is_recorded_as_failed():
    data = _data()
    failed = run_method("pmo_rand", "car", "abc", data, _settings(), seed=0, pmo_model=_pmo_model(nan=True),
                        progress=False)
    assert failed.status == "failed" and math.isnan(failed.chamfer[METRIC]) and failed.reason
    ok = run_method("pmo_original", "car", "abc", data, _settings(), seed=0, pmo_model=_pmo_model(), progress=False)
    assert ok.status == "ok" and ok.chamfer[METRIC] > 0 and ok.steps == 2 and len(ok.snapshots) == 3
    encoder = run_method("pmo_encoder", "car", "abc", data, _settings(), seed=0, pmo_model=_pmo_model(),
                         progress=False)
    assert encoder.status == "ok" and encoder.steps == 0 and len(encoder.snapshots) == 1
    ours = run_method("ours_rand", "car", "abc", data, _settings(), seed=0, decoder=_SphereAround(radius=0.5),
                      latent_size=4, renderer={"coarse_to_fine": False}, progress=False, snapshots=False)
    assert ours.status == "ok" and ours.steps == 1 and ours.forward_queries_per_step > 0
    assert len(ours.snapshots) == 1  # the final mesh only
    # The sphere of radius 0.5 against ground truth of radius 0.3, in PMO's frame (scale 2): 0.1^2 x 1000.
    assert ours.chamfer[METRIC] == pytest.approx(10.0, rel=0.5)
    with pytest.raises(ValueError, match="unknown Table 3 method"):
        run_method("nerf", "car", "abc", data, _settings(), seed=0, progress=False)
    with pytest.raises(ValueError, match="normalization_offset"):
        run_method("pmo_encoder", "car", "abc", MultiViewInput(data.images, data.masks, data.cameras, data.gt_points),
                   _settings(), seed=0, pmo_model=_pmo_model(), progress=False)


def test_a_skip_record_gives_a_skipped_result_that_round_trips(tmp_path):
    path = write_skip_record(tmp_path / "multi_view.h5", DataError(tmp_path / "seq.npy", "is truncated", "Re-extract"),
                             category="car", instance="bad")
    with pytest.raises(SkippedInstance) as caught:
        read_multi_view(path)
    result = skipped_result("car", "bad", "ours_rand", caught.value)
    back = read_instance(write_instance(tmp_path / "r.h5", result))
    assert back.status == "skipped" and back.skip_file == str(tmp_path / "seq.npy") and "truncated" in back.reason
    assert math.isnan(back.chamfer[METRIC])


def test_instance_results_round_trip_through_hdf5(tmp_path):
    result = InstanceResult("plane", "xyz", "ours_rand", chamfer={name: 1.25 + k for k, name in enumerate(METRICS)},
                            seconds=3.0, seconds_per_step=0.5, forward_queries_per_step=1234.0, steps=6,
                            losses=np.array([2.0, 1.5]),
                            snapshots=[(0, np.zeros((3, 3)), np.array([[0, 1, 2]])), (5, np.ones((3, 3)), np.array([[0, 2, 1]]))],
                            points=np.ones((10, 3)))
    path = write_instance(tmp_path / "r.h5", result, {"seed": 3})
    back = read_instance(path)
    assert back.row() == result.row()
    assert [e for e, _, _ in back.snapshots] == [0, 5] and np.array_equal(back.snapshots[1][2], [[0, 2, 1]])
    assert np.array_equal(back.points, result.points)
    with pytest.raises(DataError, match="snakemake table3"):
        read_instance(tmp_path / "none.h5")
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="delete it and rerun"):
        read_instance(tmp_path / "broken.h5")


def _result(category, instance, method, value=None, status="ok"):
    chamfer = {name: (float("nan") if value is None else value * (k + 1)) for k, name in enumerate(METRICS)}
    return InstanceResult(category, instance, method, status=status, chamfer=chamfer,
                          reason="" if status == "ok" else "why", seconds=2.0).row()


def test_table_counts_failures_and_skips_and_gives_both_intervals():
    rows = [_result("car", f"i{k}", "ours_rand", float(k)) for k in range(1, 6)]
    rows.append(_result("car", "i6", "ours_rand", status="failed"))
    rows.append(_result("car", "i7", "ours_rand", status="skipped"))
    table = summarize_table(rows)
    ours = table[(table["method"] == "ours_rand") & (table["metric"] == METRIC)].iloc[0]
    assert (ours["n"], ours["n_failed"], ours["n_skipped"]) == (6, 1, 1)
    assert ours["median"] == 3.0 and ours["mean"] == 3.0 and ours["paper"] == 0.919
    assert ours["median_ci95_low"] <= 3.0 <= ours["median_ci95_high"]
    assert 1.0 < ours["mean_ci95_low"] < 3.0 < ours["mean_ci95_high"] < 5.0
    assert set(table["metric"]) == set(METRICS) and len(table) == len(METRICS)


def test_paired_table_compares_ours_with_each_pmo_row_on_shared_instances():
    rows = []
    for k in range(12):
        rows.append(_result("car", f"i{k}", "ours_rand", 1.0 + 0.01 * k))
        rows.append(_result("car", f"i{k}", "pmo_rand", 3.0 + 0.02 * k))      # ours better, as the paper
        rows.append(_result("car", f"i{k}", "pmo_original", 0.5 + 0.01 * k))  # PMO better, as the paper
    rows.append(_result("car", "i12", "ours_rand", 9.0))  # no PMO pair: left out
    paired = paired_table(rows).set_index("method_b")
    rand, original = paired.loc["pmo_rand"], paired.loc["pmo_original"]
    assert rand["n_pairs"] == 12 and rand["ours_better"] == 12 and rand["ci95_high"] < 0
    assert rand["median_difference"] == pytest.approx(-2.0 - 0.01 * 5.5)
    assert rand["agrees_with_paper"] and rand["agrees_with_interval"] and rand["p_value"] < 0.01
    assert original["agrees_with_paper"] and original["paper_difference"] == pytest.approx(0.919 - 0.661)
    flipped = paired_table([{**r, METRIC: -r[METRIC]} if r["method"] == "ours_rand" else r for r in rows])
    assert not flipped.set_index("method_b").loc["pmo_original", "agrees_with_paper"]


def test_markdown_reports_means_medians_claims_skips_and_notes():
    rows = [_result("car", f"i{k}", "ours_rand", 1.0 + 0.1 * k) for k in range(4)]
    rows += [_result("car", f"i{k}", "pmo_rand", 3.0 + 0.1 * k) for k in range(4)]
    rows.append({**_result("car", "i9", "ours_rand", status="skipped"), "skip_file": "/d/seq.npy"})
    text = markdown_table(summarize_table(rows), paired_table(rows), skipped_table(rows), ["car", "plane"],
                          ["a note"])
    assert "| Ours (rand init) | 1.150 [" in text and "(n=4, 1 skipped) | 0.919 | - | 1.595 |" in text
    assert "| car | PMO (rand init) | 4 | -2.000 [-2.000, -2.000] | 0.125 | 4 / 0 | -0.268 | holds (interval excludes 0) |" in text
    assert "- car i9: why" in text and text.rstrip().endswith("a note")
    assert "PMO (encoder only)" not in text  # no rows, no line
    assert list(skipped_table(rows).columns) == ["category", "instance", "file", "reason"]


def test_protocol_notes_list_every_departure_from_dist_and_pmo():
    settings = {"resolution": 64, "background": "environment", "mesh_resolution": 256, "renderer": {"max_steps": 100},
                "ours": {"epochs": 20, "views_per_round": 8, "lr": 1e-2, "color_weight": 5.0, "l2_weight": 1.0,
                         "init_std": 0.1, "depth_threshold": 1e-3},
                "pmo": {"encoder_view": 27, "resolution": 224, "optimization": {"iterations": 50, "lr": 1e-3, "code_weight": 5e-2,
                                                             "similarity": True, "scale_weight": 2e-2,
                                                             "init_std": 0.1}}}
    specs = {"decoder": {"code_size": 128, "patches": 25, "grid": 5}, "encoder": {"width": 16, "resolution": 64},
             "train_instances": 64, "train_views": 60, "training_seconds": 600.0,
             "quality": {"shapes": 8, "decoder_train_chamfer_x1000": 0.5, "encoder_relative_code_error": 0.2,
                         "encoder_heldout_chamfer_x1000": 0.9, "heldout_views": [3, 9]}}
    notes = protocol_notes(settings, 24, {"car": "resources/priors/car: 4 x 128"}, {"car": ("resources/pmo/car", specs)},
                           "shipped")
    text = "\n".join(notes)
    assert "- frames per sequence: 24 (DIST, PMO: 72)" in text and "- our image size: 64 (DIST: 112)" in text
    assert "- PMO image size: 224" not in text and "frame 27" in text
    assert "- PMO iterations: 50 (PMO: 100)" in text and "- PMO code size: 128 (PMO: 1024)" in text
    assert "ours epochs" not in text and "PMO lr" not in text  # as the references: not listed
    assert "resources/priors/car: 4 x 128" in text and "trained in 10.0 min" in text and "0.900" in text


def test_shipped_networks_trained_with_other_settings_are_named_in_the_notes():
    pmo = {"resolution": 224, "encoder_view": 3, "decoder": {"epochs": 500, "patches": 25}, "encoder": {"epochs": 15}}
    specs = {"config": {"resolution": 224, "encoder_view": 3, "decoder": {"epochs": 50, "patches": 25},
                        "encoder": {"epochs": 15}}}
    assert stale_training_settings(pmo, specs) == ["decoder.epochs"]
    assert stale_training_settings(pmo, {"decoder": {}}) == []  # no recorded config: nothing to compare
    settings = {"resolution": 64, "background": "environment", "mesh_resolution": 96, "renderer": {"max_steps": 50},
                "ours": {"epochs": 5, "views_per_round": 8, "lr": 1e-2, "color_weight": 5.0, "l2_weight": 1.0,
                         "init_std": 0.1, "depth_threshold": 1e-3},
                "pmo": {**pmo, "optimization": {"iterations": 30, "lr": 1e-3, "code_weight": 5e-2, "similarity": True,
                                                "scale_weight": 2e-2, "init_std": 0.1}}}
    shipped = "\n".join(protocol_notes(settings, 24, {}, {"car": ("resources/pmo/car", specs)}, "shipped"))
    assert "differ from `table3.pmo`: car: decoder.epochs" in shipped
    trained = "\n".join(protocol_notes(settings, 24, {}, {"car": ("results/table3/pmo/car", specs)}, "trained"))
    assert "differ from" not in trained


def test_the_shipped_networks_were_trained_with_the_default_settings():
    """The embedded default reads resources/pmo (table3.pmo.source: shipped): they must be what the default
    config's table3_pmo_train writes, or the default's table would not be the config's."""
    import json

    import yaml

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())["table3"]
    assert config["pmo"]["source"] == "shipped"
    for category in config["categories"]:
        specs = json.loads((repo / "resources" / "pmo" / category / "specs.json").read_text())
        assert stale_training_settings(config["pmo"], specs) == [], category


def test_robustness_rows_cover_every_focal_scale_and_code_noise():
    settings = {**_settings(), "robustness": {"instances": 1, "focal_scales": [1.0, 2.0], "code_noise": [0.0, 0.1]}}
    rows = robustness_rows("car", [("abc", _data())], settings, seed=0, decoder=_SphereAround(radius=0.5), latent_size=4,
                           pmo_model=_pmo_model(), renderer={"coarse_to_fine": False}, progress=False)
    plan = sorted((r["experiment"], r["value"], r["method"]) for r in rows)
    assert plan == sorted([("focal_scale", 1.0, "ours_rand"), ("focal_scale", 1.0, "pmo_original"),
                           ("focal_scale", 2.0, "ours_rand"), ("focal_scale", 2.0, "pmo_original"),
                           ("pmo_code_noise", 0.0, "pmo_original"), ("pmo_code_noise", 0.1, "pmo_original")])
    noisy = [r for r in rows if r["experiment"] == "pmo_code_noise"]
    assert all(r["status"] == "ok" for r in noisy) and noisy[0][METRIC] != noisy[1][METRIC]
    assert list(pd.DataFrame(rows).columns)[:4] == ["experiment", "value", "category", "instance"]


def test_the_pmo_quality_table_reads_the_networks_specs_and_marks_unmeasured_ones():
    from dist_core.experiments.table3 import pmo_quality_table

    measured = {"train_instances": 64, "training_seconds": 600.0, "decoder": {"epochs": 500}, "encoder": {"epochs": 15},
                "quality": {"shapes": 8, "decoder_train_chamfer_x1000": 0.5, "heldout_views": [0, 6, 12, 18],
                            "encoder_relative_code_error": 0.3, "encoder_heldout_chamfer_x1000": 0.9}}
    table = pmo_quality_table({"car": ("resources/pmo/car", measured), "plane": ("old", {"decoder": {"epochs": 50}})})
    car, plane = table.iloc[0], table.iloc[1]
    assert (car["category"], car["training_minutes"], car["encoder_heldout_views"]) == ("car", 10.0, 4)
    assert car["decoder_train_chamfer_x1000"] == 0.5 and car["encoder_relative_code_error"] == 0.3
    assert plane["decoder_epochs"] == 50 and np.isnan(plane["decoder_train_chamfer_x1000"])
