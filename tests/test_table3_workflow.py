"""`snakemake table3` end to end on a tiny embedded dataset: data, a tiny prior, PMO training, the three
methods, the tables and figures (slow: about a minute)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = """\
results: results
data:
  categories: [car]
  synthetic: {train_per_category: 3, test_per_category: 3, sdf_samples: 2000, surface_samples: 300}
  single_view: {resolution: 24}
  pmo: {categories: [car], instances_per_category: 2, elevations: [30.0], azimuth_step: 90.0, resolution: 24,
        points: 300}
priors:
  source: trained
  categories: [car]
  latent_size: 8
  network: {dims: [32, 32], norm_layers: [0, 1], latent_in: [1]}
  training: {epochs: 6, samples_per_scene: 256, scenes_per_batch: 2, snapshot_every: 2}
table3:
  categories: [car]
  instances: 2
  resolution: 16
  frames: null
  mesh_resolution: 24
  ours: {epochs: 2, views_per_round: 3, snapshot_every: 1}
  pmo:
    source: trained
    resolution: 16
    encoder_view: 1
    train_points: 200
    backgrounds: 1
    heldout_every: 2
    decoder: {code_size: 8, patches: 2, grid: 2, epochs: 3, batch: 2, points_per_patch: 10, target_points: 50}
    encoder: {width: 4, resolution: 16, epochs: 2, batch: 4}
    optimization: {iterations: 2, snapshot_every: 1}
"""


def snakemake(tmp_path, *args):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"), str(tmp_path / "tiny.yaml"),
               "--cores", "2", *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_table3_runs_end_to_end_skips_a_broken_sequence_and_loads_with_plain_pandas(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    data = snakemake(tmp_path, "data_pmo_sequences_car")
    assert data.returncode == 0, data.stderr[-3000:]
    broken = sorted((tmp_path / "results" / "data" / "pmo" / "sequences" / "02958343").glob("*.npy"))[1]
    broken.write_bytes(b"truncated")  # the second instance's sequence: a skip record, not a failed table
    run = snakemake(tmp_path, "table3")
    assert run.returncode == 0, run.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "table3.csv")
    assert sorted(set(table["method"])) == ["ours_rand", "pmo_encoder", "pmo_original", "pmo_rand"]
    assert {"category", "method", "metric", "median", "mean", "median_ci95_low", "mean_ci95_high", "n", "n_failed",
            "n_skipped", "paper"} <= set(table.columns)
    assert (table["n"] == 1).all() and (table["n_skipped"] == 1).all()
    assert set(table["metric"]) == {"chamfer_gt_to_pred_x1000_pmo_frame", "chamfer_pred_to_gt_x1000_pmo_frame",
                                    "chamfer_gt_to_pred_x1000_normalized_frame"}
    per_instance = pd.read_csv(results / "table3_per_instance.csv")
    assert len(per_instance) == 8 and set(per_instance["status"]) <= {"ok", "failed", "skipped"}
    assert (per_instance["status"] == "skipped").sum() == 4
    ours = per_instance[(per_instance["method"] == "ours_rand") & (per_instance["status"] != "skipped")].iloc[0]
    assert ours["steps"] == 2 * 2 and ours["forward_queries_per_step"] > 0  # 4 frames: 2 steps per epoch
    skipped = pd.read_csv(results / "table3_skipped.csv")
    quality = pd.read_csv(results / "table3_pmo_quality.csv")
    assert list(quality["category"]) == ["car"] and quality["decoder_epochs"].iloc[0] == 3 and (quality["decoder_train_chamfer_x1000"] > 0).all()
    assert len(skipped) == 1 and (tmp_path / skipped["file"].iloc[0]).resolve() == broken.resolve()
    paired = pd.read_csv(results / "table3_paired.csv")
    assert sorted(paired["method_b"]) == ["pmo_encoder", "pmo_original", "pmo_rand"]
    markdown = (results / "table3.md").read_text()
    assert "| Ours (rand init) |" in markdown and "1 instance(s) could not be prepared" in markdown
    assert "Priors (ours): car:" in markdown and "PMO networks (trained)" in markdown
    assert (results / "table3_car.png").stat().st_size > 1000
    assert (results / "table3" / "pmo" / "car" / "pmo.pth").is_file()
    assert "Nothing to be done" in snakemake(tmp_path, "table3", "--dry-run").stdout
