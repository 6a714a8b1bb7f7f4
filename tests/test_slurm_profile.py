"""profiles/slurm: a dry run through snakemake-executor-plugin-slurm puts GPU jobs on the GPU partition,
CPU jobs elsewhere, and packs the per-instance Table 2 jobs into groups."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install snakemake-executor-plugin-slurm")

REPO = Path(__file__).resolve().parents[1]


def job_resources(log: str) -> dict:
    """rule name -> list of resource strings of its jobs in a dry-run log."""
    jobs = {}
    for block in re.split(r"\n\s*\[[^\]]+\]\n", log):
        rule = re.search(r"^\s*rule (\w+):", block, re.M)
        resources = re.search(r"^\s*resources: (.*)$", block, re.M)
        if rule and resources:
            jobs.setdefault(rule.group(1), []).append(resources.group(1))
    return jobs


def test_slurm_profile_dry_run_sends_gpu_jobs_to_the_gpu_partition_in_groups(tmp_path):
    snakemake = Path(sys.executable).with_name("snakemake")
    run = subprocess.run(
        [str(snakemake), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "all", "--dry-run",
         "--workflow-profile", str(REPO / "profiles" / "slurm"), "--configfile", str(REPO / "config" / "config.yaml"),
         "--config", f"priors={{shipped_dir: {REPO / 'resources' / 'priors'}}}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    jobs = job_resources(log)
    # Every job that runs the renderer or trains a network asks for a GPU (the profile sets device: cuda).
    gpu_rules = [r for r in jobs if r.startswith(("table1", "table2_instance", "table2_curve", "table3_", "prior_",
                                                  "camera_demo", "color_demo", "convergence_figure"))]
    assert {"table1", "table2_instance", "camera_demo", "color_demo"} <= set(gpu_rules)
    for rule in gpu_rules:
        assert all("slurm_partition=gpu" in r and "gpu=1" in r for r in jobs[rule]), rule
    for rule in [r for r in jobs if r.startswith("data_")] + ["table2_tables", "timings"] + \
            (["table3"] if "table3" in jobs else []):
        assert jobs[rule] and all("slurm_partition=cpu" in r and "gpu=" not in r for r in jobs[rule]), rule
    instances = len(jobs["table2_instance"])
    assert instances > 8
    assert log.count("Group job t2") == -(-instances // 8)
    assert "slurm_account=your_account" in log
