"""The `table2` target end to end through Snakemake on a tiny embedded dataset and a tiny prior trained in the
test (about a minute: slow)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dist_core.experiments.table2 import read_instance

REPO = Path(__file__).resolve().parents[1]
TINY = """\
results: results
data:
  categories: [table]
  synthetic: {train_per_category: 3, test_per_category: 2, sdf_samples: 2000, surface_samples: 300}
  single_view: {resolution: 16}
  pmo: {categories: [table], instances_per_category: 1, views: 3, resolution: 24, points: 200}
priors:
  source: trained
  categories: [table]
  latent_size: 8
  network: {dims: [32, 32], norm_layers: [0, 1], latent_in: [1]}
  training: {epochs: 4, samples_per_scene: 256, scenes_per_batch: 3, snapshot_every: 2}
table2:
  categories: [table]
  instances: 2
  settings: [dense, 20pts]
  ours: {iterations: 3}
  deepsdf: {iterations: 5, samples_per_step: 200}
  mesh_resolution: 24
  chamfer_samples: 500
  curve: {category: table, instance: 1, setting: dense, method: ours_mask, every: 1, mesh_resolution: 16}
"""


def snakemake(tmp_path, *args):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"), str(tmp_path / "tiny.yaml"),
               "--cores", "2", *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_table2_target_writes_tables_figures_and_instance_files(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = snakemake(tmp_path, "table2")
    assert run.returncode == 0, run.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "table2.csv")
    assert len(table) == 2 * 3 and set(table.method) == {"deepsdf", "ours", "ours_mask"}
    assert (table.n == 2).all() and "median_ci95_low" in table and "paper_median_chamfer_x1000" not in table
    per_instance = pd.read_csv(results / "table2_per_instance.csv")
    assert len(per_instance) == 2 * 2 * 3
    ok = per_instance[~per_instance.failed]
    assert (ok.chamfer_x1000 > 0).all() and (ok[ok.method != "deepsdf"].steps == 3).all()
    assert "| **table** |" in (results / "table2.md").read_text()
    assert (results / "table2" / "figure_table.png").stat().st_size > 5000
    curve = pd.read_csv(results / "table2" / "loss_chamfer.csv")
    assert len(curve) == 3 and curve.chamfer_x1000.notna().all()
    instance_files = sorted((results / "table2" / "table").glob("*.h5"))
    assert len(instance_files) == 2
    rows, attrs = read_instance(instance_files[0])
    assert attrs["category"] == "table" and len(rows) == 6
    assert "Nothing to be done" in snakemake(tmp_path, "table2", "--dry-run").stdout
