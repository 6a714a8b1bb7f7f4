"""The Snakemake workflow end to end on a CPU-tiny configuration (slow: minutes on a loaded 2-core CPU)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")


def run_snakemake(target, results, *extra):
    command = [SNAKEMAKE, target, "--configfile", str(ROOT / "tests" / "configs" / "tiny.yaml"),
               "--config", f"results={results}", "--cores", "2", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_table1_writes_a_tidy_csv_with_every_ablation_row(tmp_path):
    done = run_snakemake("table1", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "table1.csv")
    assert set(table["scene"].str.split(",").str[0]) == {"sphere r=0.6 (analytic)", "chair"}
    for _, scene in table.groupby("scene"):
        assert len(scene) == 7
        paper = scene.set_index(["method", "max_steps"])["forward_queries"]
        # Each switch of the paper cuts queries (the two coarse-to-fine rows differ only in max steps).
        ordered = [paper[("+ parallel", 50)], paper[("+ dynamic", 50)], paper[("+ aggressive", 50)],
                   paper[("+ coarse-to-fine", 50)], paper[("+ refine, cone split (ours)", 50)]]
        assert all(a > b for a, b in zip(ordered, ordered[1:])), ordered
        assert (scene["seconds_per_step"] > 0).all() and (scene["backward_queries"] > 0).all()
    assert (tmp_path / "table1.md").read_text().startswith("# Table 1")
    # A second run finds everything up to date.
    again = run_snakemake("table1", tmp_path, "--dry-run")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
