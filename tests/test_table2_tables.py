"""Table 2's tables and figures from per-instance rows with known answers: medians in both frames, ordered
settings, methods that always failed, skipped instances, paired claims, the markdown, the protocol lines and
the Fig. 5 correlation."""

import math

import numpy as np
import pandas as pd
import pytest

from dist_core.experiments.table2_figures import curve_correlation, curve_figure
from dist_core.experiments.table2_tables import (PAPER_TABLE2, assemble, claims_markdown, document, markdown_table,
                                                 paired, protocol_lines, skipped_frame)


def _rows(instances=10, settings=("dense", "20pts"), better_by=0.5, scale=2.0):
    """Per-instance rows where DeepSDF scores 2 + k / 10 on instance k and the renderer methods ``better_by``
    less on every instance but the last (worse there by the same amount); the oracle is 1.0 everywhere."""
    rows = []
    for k in range(instances):
        for s in settings:
            deepsdf = 2.0 + k / 10
            values = {"deepsdf": deepsdf, "ours_mask": deepsdf - better_by if k < instances - 1 else deepsdf + better_by,
                      "ours": deepsdf + 0.1, "oracle": 1.0}
            for method, value in values.items():
                rows.append({"category": "sofa", "instance": f"i{k}", "setting": s, "method": method,
                             "chamfer_mesh_x1000": value, "chamfer_normalized_x1000": value * scale**2,
                             "scale": scale, "silhouette_iou": 0.9, "failed": False, "seconds_per_step": 0.1,
                             "forward_queries_per_step": 100.0})
    return rows


def test_assemble_orders_settings_keeps_failed_methods_and_counts_skips(tmp_path):
    rows = _rows(instances=4, settings=("20pts", "dense"))
    for r in rows:
        if r["method"] == "ours":
            r.update(failed=True, chamfer_mesh_x1000=math.nan, chamfer_normalized_x1000=math.nan)
    skipped = skipped_frame([("sofa", "bad", "/data/model.obj", "has no faces"),
                             ("plane", "gone", "/data/x.txt", "missing")])
    table = assemble(rows, skipped.to_dict("records"), with_paper=True)
    # The paper's column order, whatever order the rows came in; a categorical sorts as the paper's table.
    assert list(table.setting.cat.categories) == ["dense", "20pts"] and table.setting.cat.ordered
    assert list(table.sort_values("setting").setting.astype(str))[:1] == ["dense"]
    ours = table[table.method == "ours"]
    assert len(ours) == 2 and ours.n.tolist() == [4, 4] and ours.n_failed.tolist() == [4, 4]
    assert ours.median_chamfer_mesh_x1000.isna().all()
    first = table[(table.method == "deepsdf") & (table.setting == "dense")].iloc[0]
    assert first.median_chamfer_mesh_x1000 == pytest.approx(2.15) and first.n == 4 and first.n_skipped == 1
    assert first.median_chamfer_normalized_x1000 == pytest.approx(4 * 2.15)
    assert first.ci95_low_chamfer_normalized_x1000 <= 8.6 <= first.ci95_high_chamfer_normalized_x1000
    assert first.paper_median_chamfer_x1000 == PAPER_TABLE2["sofa", "deepsdf"][0]
    # A category whose instances were all skipped still has its row, with the count.
    plane = table[table.category == "plane"]
    assert len(plane) == 1 and plane.iloc[0].n == 0 and plane.iloc[0].n_skipped == 1
    table.to_csv(tmp_path / "t.csv", index=False)
    assert pd.read_csv(tmp_path / "t.csv").shape == table.shape


def test_paired_claims_hold_with_the_interval_only_when_the_pairs_say_so():
    pairs = paired(_rows(instances=12))
    mask = pairs[(pairs.method == "ours_mask") & (pairs.baseline == "deepsdf") & (pairs.frame == "mesh")]
    assert len(mask) == 2
    m = mask.iloc[0]
    # 11 of 12 instances better by 0.5, one worse by 0.5: median -0.5, interval below 0, Wilcoxon significant.
    assert m.n_pairs == 12 and m.median_difference_x1000 == pytest.approx(-0.5)
    assert m.method_better == 11 and m.baseline_better == 1 and m.holds and m.holds_with_interval
    assert m.ci95_high_x1000 < 0 and m.p_value < 0.01
    normalised = pairs[(pairs.method == "ours_mask") & (pairs.baseline == "deepsdf") & (pairs.frame == "normalized")]
    assert normalised.iloc[0].median_difference_x1000 == pytest.approx(-0.5 * 4)
    worse = pairs[(pairs.method == "ours") & (pairs.baseline == "deepsdf")].iloc[0]
    assert not worse.holds and not worse.holds_with_interval and worse.baseline_better == 12
    gap = pairs[(pairs.method == "ours_mask") & (pairs.baseline == "oracle") & (pairs.frame == "mesh")].iloc[0]
    assert gap.median_difference_x1000 > 0


def test_paired_leaves_failed_fits_out():
    rows = _rows(instances=6)
    for r in rows:
        if r["instance"] == "i0" and r["method"] == "ours_mask":
            r.update(failed=True)
    m = paired(rows)
    m = m[(m.method == "ours_mask") & (m.baseline == "deepsdf")].iloc[0]
    assert m.n_pairs == 5


def test_markdown_marks_claims_and_the_document_says_what_was_skipped():
    rows = _rows(instances=12)
    skipped = skipped_frame([("sofa", "bad", "/data/model.obj", "model.obj: has no faces. Re-extract it")])
    table, pairs = assemble(rows, skipped.to_dict("records")), paired(rows)
    md = markdown_table(table, "mesh", pairs)
    assert "| | dense | 20 pts |" in md and "| **sofa** |" in md
    assert "| Ours (mask) | 2.05 [" in md and "]‡ |" in md  # better on 11 of 12 with the interval below 0
    claims = claims_markdown(pairs)
    assert "Ours (mask) < DeepSDF: 2 of 2 cells by the paired median, 2 with the 95 % interval below 0" in claims
    doc = document(table, pairs, skipped, {"sofa": "resources/priors/sofa: 4 x 128, latent 64"},
                   ["settings: dense, 20pts (DIST / paper: all six)"], 12)
    assert "1 instance(s) skipped" in doc and "sofa bad: model.obj: has no faces" in doc
    assert "resources/priors/sofa: 4 x 128" in doc and "The prior's floor" in doc and "## Mesh frame" in doc


def test_protocol_lines_name_each_difference_from_dists_code():
    paper = {"settings": ["dense", "50pct", "10pct", "100pts", "50pts", "20pts"],
             "ours": {"iterations": 200, "lr": 1e-3, "w_depth": 10.0, "w_mask_gt": 1.0, "w_mask_out": 1.0,
                      "w_normal": 0.0, "w_l2": 1.0},
             "deepsdf": {"offsets": [0.025], "surface_points": False}, "mesh_resolution": 256, "chamfer_samples": 30000}
    renderer = {"grad_samples": 3, "max_steps": 100}
    assert not [line for line in protocol_lines(paper, renderer, 137, 200) if "DIST / paper" in line]
    cheap = {**paper, "ours": {**paper["ours"], "iterations": 50}, "mesh_resolution": 128}
    differences = [line for line in protocol_lines(cheap, {"grad_samples": 1, "max_steps": 50}, 128, 20)
                   if "DIST / paper" in line]
    assert len(differences) == 6 and any(line.startswith("meshes for scoring: 128^3") for line in differences)


def test_curve_correlation_and_figure_legend(tmp_path):
    iterations = np.arange(1, 21)
    loss = 1.0 / iterations
    chamfer = np.where(iterations % 5 == 0, 2.0 + 3.0 * loss, np.nan)
    chamfer[0] = 5.0
    curve = pd.DataFrame({"iteration": iterations, "loss": loss, "chamfer_normalized_x1000": chamfer})
    c = curve_correlation(curve)
    assert c["points"] == 5 and c["spearman_rho"] == pytest.approx(1.0) and c["pearson_r"] == pytest.approx(1.0)
    flat = curve.assign(chamfer_normalized_x1000=np.where(np.isnan(chamfer), np.nan, 1.0))
    assert math.isnan(curve_correlation(flat)["pearson_r"])
    fig = curve_figure(tmp_path / "curve.png", curve, "sofa")
    assert (tmp_path / "curve.png").stat().st_size > 5000
    assert fig.axes[0].get_legend() is not None and "Spearman rho = 1.00" in fig.axes[1].get_title()
