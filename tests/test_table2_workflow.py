"""The `table2` target end to end through Snakemake on a tiny embedded dataset and a tiny prior trained in the
test, with one instance recorded as skipped by the data stage (about a minute: slow)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dist_core.data.errors import DataError
from dist_core.data.inputs import single_view_path, write_skip_record
from dist_core.data.synthetic import instance_ids
from dist_core.experiments.table2 import read_instance

REPO = Path(__file__).resolve().parents[1]
TINY = """\
results: results
data:
  categories: [table]
  synthetic: {train_per_category: 3, test_per_category: 3, sdf_samples: 2000, surface_samples: 300}
  single_view: {resolution: 16}
  pmo: {categories: [table], instances_per_category: 1, resolution: 24, points: 200}
priors:
  source: trained
  categories: [table]
  latent_size: 8
  network: {dims: [32, 32], norm_layers: [0, 1], latent_in: [1]}
  training: {epochs: 4, samples_per_scene: 256, scenes_per_batch: 3, snapshot_every: 2}
table2:
  categories: [table]
  instances: 3
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
    results = tmp_path / "results"
    inputs = [single_view_path("results/data/inputs", "04379243", i) for i in instance_ids(0, "table", "test", 3)]
    run = snakemake(tmp_path, *map(str, inputs))
    inputs = [tmp_path / i for i in inputs]
    assert run.returncode == 0, run.stderr[-3000:]
    # The data stage could not prepare the first instance: its input is a skip record.
    write_skip_record(inputs[0], DataError(tmp_path / "model.obj", "has no faces", "Re-export the mesh"),
                      category="table", instance=inputs[0].parent.name)
    run = snakemake(tmp_path, "table2")
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(results / "table2.csv")
    methods = {"deepsdf", "ours_depth", "ours", "ours_mask", "oracle"}
    assert len(table) == 2 * 5 and set(table.method) == methods
    assert (table.n == 2).all() and (table.n_skipped == 1).all() and "paper_median_chamfer_x1000" not in table
    assert {"median_chamfer_normalized_x1000", "median_chamfer_mesh_x1000", "median_silhouette_iou"} <= set(table)
    per_instance = pd.read_csv(results / "table2_per_instance.csv")
    assert len(per_instance) == 2 * 2 * 5 and inputs[0].parent.name not in set(per_instance.instance)
    ok = per_instance[~per_instance.failed]
    assert (ok.chamfer_normalized_x1000 > 0).all() and (ok[ok.method.str.startswith("ours")].steps == 3).all()
    skipped = pd.read_csv(results / "table2_skipped.csv")
    assert skipped.instance.tolist() == [inputs[0].parent.name] and "has no faces" in skipped.reason[0]
    paired = pd.read_csv(results / "table2_paired.csv")
    assert {"median_difference_x1000", "ci95_low_x1000", "p_value", "holds_with_interval"} <= set(paired)
    assert set(paired.frame) == {"normalized", "mesh"} and (paired.n_pairs <= 2).all()
    markdown = (results / "table2.md").read_text()
    assert "| **table** |" in markdown and "1 instance(s) skipped" in markdown and "has no faces" in markdown
    assert "## Priors" in markdown and "4 x 32" not in markdown and "2 x 32" in markdown
    assert (results / "table2" / "figure_table.png").stat().st_size > 5000
    curve = pd.read_csv(results / "table2" / "loss_chamfer.csv")
    assert len(curve) == 3 and curve.chamfer_normalized_x1000.notna().all()
    correlation = pd.read_csv(results / "table2" / "loss_chamfer_correlation.csv")
    assert set(correlation.frame) == {"normalized", "mesh"} and (correlation.points == 3).all()
    instance_files = sorted((results / "table2" / "table").glob("*.h5"))
    assert len(instance_files) == 3
    rows, attrs = read_instance(results / "table2" / "table" / f"{inputs[1].parent.name}.h5")
    assert attrs["category"] == "table" and len(rows) == 10
    assert "Nothing to be done" in snakemake(tmp_path, "table2", "--dry-run").stdout
