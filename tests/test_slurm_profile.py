"""profiles/slurm: a dry run through snakemake-executor-plugin-slurm puts GPU jobs on the GPU partition by what
their rules declare (not by rule name), CPU jobs elsewhere, and packs the per-instance Table 2 and data jobs into groups."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install snakemake-executor-plugin-slurm")

from workflow_runs import shipped_overrides

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


def resource(resources: str, name: str):
    found = re.search(rf"(?:^|, ){name}=([^,]+)", resources)
    return found.group(1) if found else None


def test_slurm_profile_sends_every_renderer_job_to_the_gpu_partition_whatever_the_categories(tmp_path):
    snakemake = Path(sys.executable).with_name("snakemake")
    # chair is not a Table 3 category of the default (and has no shipped PMO networks: PMO is trained here).
    run = subprocess.run(
        [str(snakemake), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "all", "--dry-run",
         "--workflow-profile", str(REPO / "profiles" / "slurm"), "--configfile", str(REPO / "config" / "config.yaml"),
         "--config", "device=cuda", *shipped_overrides(table3={"categories": ["car", "plane", "chair"],
                                                                "pmo": {"source": "trained"}})],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    jobs = job_resources(log)
    # Every job that runs the renderer or trains a network asks for a GPU (the profile sets device: cuda).
    gpu_rules = [r for r in jobs if r.startswith(("table1", "table2_instance", "table2_curve", "table3_", "prior_",
                                                  "camera_demo", "color_demo", "convergence_figure"))]
    assert {"table1", "table2_instance", "camera_demo", "color_demo", "table3_chair_ours_rand",
            "table3_chair_pmo_rand", "table3_pmo_train"} <= set(gpu_rules)
    for rule in gpu_rules:
        for resources in jobs[rule]:
            assert resource(resources, "slurm_partition") == "gpu" and resource(resources, "gpu") == "1", rule
            assert int(resource(resources, "runtime")) >= 20 and int(resource(resources, "mem_mb")) >= 8000, rule
    cpu_rules = [r for r in jobs if r.startswith("data_")] + ["table2_tables", "timings", "table3"]
    for rule in cpu_rules:
        assert jobs[rule], rule
        for resources in jobs[rule]:
            assert resource(resources, "slurm_partition") == "cpu" and resource(resources, "gpu") is None, rule
    instances = len(jobs["table2_instance"])
    assert instances > 8
    assert log.count("Group job t2") == -(-instances // 8)
    prepared = len(jobs["data_single_view"]) + len(jobs["data_multi_view"])
    assert prepared > 50 and log.count("Group job inputs") == -(-prepared // 50)
    assert "slurm_account=your_account" in log


def test_the_slurm_profile_names_no_rule():
    profile = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    assert "set-resources" not in profile and "set-threads" not in profile
