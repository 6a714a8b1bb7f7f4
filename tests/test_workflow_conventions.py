"""The workflow follows Snakemake's conventions: `snakemake --lint` finds nothing, `snakefmt` leaves the rule
files as they are, and the repository carries what the snakemake-workflows catalog reads."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workflow_runs import planned_params, shipped_overrides

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def lints(tmp_path) -> tuple[int, list[str]]:
    run = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--lint",
                          "--configfile", str(REPO / "config" / "config.yaml"), "--config", *shipped_overrides()],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return run.returncode, re.findall(r"^\s+\* (.*?):\s*$", run.stdout + run.stderr, re.M)


def test_lint_is_clean(tmp_path):
    code, found = lints(tmp_path)
    assert code == 0 and found == [], found


def test_snakefmt_leaves_the_workflow_unchanged():
    snakefmt = shutil.which("snakefmt") or str(Path(sys.executable).with_name("snakefmt"))
    if not Path(snakefmt).exists():
        pytest.skip("pip install snakefmt")
    run = subprocess.run([snakefmt, "--check", "Snakefile", "workflow/rules"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_the_catalog_file_describes_the_usage():
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert set(usage["software-stack-deployment"]) >= {"conda", "apptainer", "apptainer+conda"}
    assert usage["report"] is True and "snakemake" in usage["mandatory-flags"]["desc"]
    assert "MIT License" in (REPO / "LICENSE").read_text()


def test_the_rules_environment_holds_the_projects_dependencies():
    """workflow/envs/dist.yaml (--software-deployment-method conda) lists pyproject.toml's dependencies but
    Snakemake, which runs the jobs from its own environment, and every rule that runs code names it."""
    import tomllib

    env = yaml.safe_load((REPO / "workflow" / "envs" / "dist.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(p for p in pip if not p.startswith("--")) == sorted(d for d in project if "snakemake" not in d)
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        assert text.count("script:") == text.count("        DIST_ENV\n"), path.name


def _changed(before, after):
    """The rules of the jobs whose params differ between two plans."""
    return sorted({key[0] for key, params in after.items() if before.get(key) != params})


def test_an_edit_reruns_only_the_jobs_that_read_the_edited_key(tmp_path):
    """Params hold only the settings a rule reads: threads, another table's keys, the list of prior categories
    and PMO's test-time settings change no params of the jobs that do not read them; a fit setting does."""
    trained = {"pmo": {"source": "trained"}}  # plan PMO's training too (the default reads shipped networks)
    base3 = planned_params(tmp_path, "table3", {"table3": trained})
    assert any(rule.startswith("table3_car_") for rule, _ in base3) and any(r == "table3_pmo_train" for r, _ in base3)
    for edit in ({"table3": {**trained, "threads": 2}}, {"table2": {"threads": 2, "instances": 3}, "table3": trained},
                 {"priors": {"categories": ["plane", "car"]}, "table3": trained},
                 {"data": {"single_view": {"resolution": 96}}, "table3": trained}):
        assert _changed(base3, planned_params(tmp_path, "table3", edit)) == [], edit
    pmo_test_time = _changed(base3, planned_params(tmp_path, "table3", {"table3": {"pmo": {
        "source": "trained", "optimization": {"iterations": 7}}}}))
    assert "table3_pmo_train" not in pmo_test_time and "table3_car_pmo_original" in pmo_test_time
    assert "table3_car_ours_rand" in _changed(base3, planned_params(tmp_path, "table3", {"table3": {**trained, "ours": {
        "lr": 0.02}}}))
    base2 = planned_params(tmp_path, "table2", {})
    assert _changed(base2, planned_params(tmp_path, "table2", {"data": {"pmo": {"points": 5000}},
                                                              "table3": {"instances": 2}})) == []
    lr = 2 * yaml.safe_load((REPO / "config" / "config.yaml").read_text())["table2"]["ours"]["lr"]
    assert "table2_instance" in _changed(base2, planned_params(tmp_path, "table2", {"table2": {"ours": {"lr": lr}}}))
