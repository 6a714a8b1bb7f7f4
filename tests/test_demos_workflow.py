"""Rules camera_demo, color_demo and convergence_figure end to end on tiny settings with the shipped chair
prior, then `snakemake --report` over them (about a minute: slow)."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workflow_runs import shipped_overrides

REPO = Path(__file__).resolve().parents[1]
TINY = f"""\
results: results
threads: 1              # two one-thread jobs at a time on --cores 2
data:
  categories: [chair]
  synthetic: {{train_per_category: 2, test_per_category: 1, sdf_samples: 1000, surface_samples: 200}}
  pmo: {{categories: [chair], instances_per_category: 1, resolution: 16, points: 100}}
priors: {{source: shipped, shipped_dir: {REPO / 'resources' / 'priors'}, categories: [chair]}}
table2: {{categories: [chair]}}
table3: {{categories: [chair]}}
demos:
  camera: {{category: chair, resolution: 32, iterations: 15, lr: 0.02, snapshots: [0, 15]}}
  color: {{category: chair, shapes: 2, samples_per_shape: 2000, iterations: 40, hidden: 32, layers: 2,
          batch: 1024, resolutions: [16, 24]}}
report:
  convergence: {{category: chair, instance: 0, eps: [5.0e-3, 5.0e-5], resolution: 32}}
"""


def snakemake(tmp_path, *args):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), *args, "--cores", "2", "--configfile", str(REPO / "config" / "config.yaml"),
               str(tmp_path / "tiny.yaml")]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_demo_and_figure_rules_and_the_report(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    targets = ["camera_demo", "color_demo", "convergence_figure"]
    run = snakemake(tmp_path, *targets)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    results = tmp_path / "results"
    pose = pd.read_csv(results / "demos" / "camera_pose.csv")
    assert list(pose["iteration"]) == list(range(16))
    assert pose["rotation_error_degrees"].iloc[0] == pytest.approx(15.0, abs=1e-3)
    assert pose["rotation_error_degrees"].iloc[-1] < pose["rotation_error_degrees"].iloc[0]
    renders = pd.read_csv(results / "demos" / "color_renders.csv")
    assert len(renders) == 2 * 4 and (renders["forward_queries"] > 0).all()
    convergence = pd.read_csv(results / "figures" / "convergence.csv")
    assert list(convergence["tracer"]) == ["paper", "paper", "ours", "ours"]
    # A larger threshold stops rays earlier: fewer queries, a dilated (never smaller) silhouette.
    paper = convergence[convergence.tracer == "paper"].set_index("eps")
    assert paper.loc[5e-3, "forward_queries"] < paper.loc[5e-5, "forward_queries"]
    assert paper.loc[5e-3, "valid_pixels"] >= paper.loc[5e-5, "valid_pixels"]
    for picture in ("demos/camera_pose.png", "demos/color_renders.png", "figures/convergence.png"):
        assert (results / picture).stat().st_size > 5000, picture
    assert (results / "benchmarks" / "demos" / "camera.tsv").is_file()

    report = snakemake(tmp_path, "--report", str(tmp_path / "report.html"), *targets)
    assert report.returncode == 0, (report.stdout + report.stderr)[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    for name in ("camera_pose.png", "color_renders.png", "convergence.png", "Fig. 7"):
        assert name in html, name


def test_a_bare_snakemake_plans_every_table_figure_demo_and_the_timings(tmp_path):
    run = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"),
                          "--directory", str(tmp_path), "--dry-run", "--configfile", str(REPO / "config" / "config.yaml"),
                          "--config", *shipped_overrides()],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    stats = log[log.index("Job stats:"):]
    for rule in ("all", "timings", "table1", "table2_tables", "camera_demo", "color_demo", "convergence_figure"):
        assert re.search(rf"^{rule}\s+\d+$", stats, re.M), rule
