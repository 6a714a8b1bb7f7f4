"""The `priors` and `prior_report` rules end to end on a tiny embedded dataset, and the quality table in the
report (about a minute: slow)."""

import base64
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dist_core.decoder import load_experiment
from dist_core.prior import ship_prior

REPO = Path(__file__).resolve().parents[1]
TINY = """\
results: results
data:
  categories: [table]
  synthetic: {train_per_category: 3, test_per_category: 2, sdf_samples: 2000, surface_samples: 300}
  single_view: {resolution: 24}
  pmo: {categories: [table], instances_per_category: 1, resolution: 24, points: 200}
priors:
  source: trained
  categories: [table]
  latent_size: 8
  network: {dims: [32, 32], norm_layers: [0, 1], latent_in: [1]}
  training: {epochs: 6, samples_per_scene: 256, scenes_per_batch: 2, snapshot_every: 2}
  report:
    train_instances: 2
    test_instances: 1
    resolution: 32
    picture_shapes: 1
    fit: {iterations: 20, samples_per_step: 500}
"""


def embedded_files(report: Path) -> dict:
    """name -> bytes of every file that a self-contained Snakemake report embeds."""
    text = report.read_text(errors="replace")
    return {name: base64.b64decode(data) for name, data in
            re.findall(r'"data_uri": "data:[^;"]*;charset=[^;"]*;filename=([^;"]+);base64,([A-Za-z0-9+/=]+)"', text)}


def snakemake(tmp_path, *args):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"), str(tmp_path / "tiny.yaml"),
               "--cores", "2", *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_priors_train_report_and_ship_without_retraining(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = snakemake(tmp_path, "prior_report", "report_table_prior_quality")
    assert run.returncode == 0, run.stderr[-3000:]
    prior = tmp_path / "results" / "priors" / "table"
    decoder, codes, specs = load_experiment(prior)
    assert codes.shape == (3, 8) and specs["NetworkSpecs"]["dims"] == [32, 32] and specs["NumEpochs"] == 6
    quality = pd.read_csv(tmp_path / "results" / "priors" / "quality.csv")
    assert list(quality["split"]) == ["train", "test"] and list(quality["shapes"]) == [2, 1]
    assert (quality["median_chamfer_x1000"] > 0).all() and quality["epochs"].eq(6).all()
    assert (tmp_path / "results" / "priors" / "reconstructions.png").stat().st_size > 1000
    assert "Nothing to be done" in snakemake(tmp_path, "prior_report", "--dry-run").stdout

    # The report shows the quality table itself, not only a link to the CSV.
    report = snakemake(tmp_path, "--report", str(tmp_path / "report.html"), "report_table_prior_quality")
    assert report.returncode == 0, report.stderr[-3000:]
    page = embedded_files(tmp_path / "report.html")["prior_quality.html"].decode()
    assert "<caption>DeepSDF&#x27;s Chamfer distance x 1000 between each shape" in page
    median = f"{quality['median_chamfer_x1000'].iloc[0]:.4g}"
    assert f"<td>{median}</td>" in page and '<td class="text">train</td>' in page

    # Shipped: copied beside the workflow, then read directly; no job may (re)train it, whatever the
    # timestamps of the training outputs say.
    ship_prior(prior, tmp_path / "resources" / "priors" / "table")
    (prior / "provenance.json").touch()
    shipped = snakemake(tmp_path, "prior_report", "--forceall", "--dry-run", "--config", "priors={'source': 'shipped'}")
    assert shipped.returncode == 0, shipped.stderr[-3000:]
    assert "prior_report" in shipped.stdout and "prior_train" not in shipped.stdout
