"""The README's commands and examples work as written."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
SETTINGS = ["dense", "50pct", "10pct", "100pts", "50pts", "20pts"]
METHODS = ["deepsdf", "ours", "ours_mask"]


def python_block_after(heading: str) -> str:
    section = README[README.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_pandas_example_runs_after_table2_alone_in_the_papers_order(tmp_path):
    # What `snakemake table2` leaves: table2.csv (rows in the paper's order) and the benchmark files.
    rows = [{"category": c, "setting": s, "method": m, "n": 2, "n_failed": 2 if m == "ours" else 0,
             "median_chamfer_mesh_x1000": float("nan") if m == "ours" else 1.0 + METHODS.index(m)}
            for c in ("sofa", "plane") for m in METHODS for s in SETTINGS]
    (tmp_path / "results" / "benchmarks" / "table2" / "sofa").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(tmp_path / "results" / "table2.csv", index=False)
    (tmp_path / "results" / "benchmarks" / "table2" / "sofa" / "a.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "12.5\t0:00:12\t300\t1\t1\t1\t0\t0\t90.0\t11.0\n")
    example = python_block_after("Reading the results with pandas")
    run = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if line.startswith("setting"))
    assert header.split()[1:] == SETTINGS  # not the alphabet's 100pts, 10pct, 20pts, ...
    methods = [line.split()[-7] if line.split()[0] in ("sofa", "plane") else line.split()[0]
               for line in run.stdout.splitlines() if re.match(r"^(sofa|plane)?\s*(deepsdf|ours)", line)]
    assert methods == METHODS * 2  # the method whose runs all failed is kept
    assert re.search(r"^\s*table2\s+1\s+12\.5", run.stdout, re.M)


def test_the_set_up_is_two_commands_in_a_fresh_virtual_environment():
    section = README[README.index("## Set up and run"):README.index("## Rendering from Python")]
    setup = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(setup) == 2 and setup[0].startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert setup[1].startswith('pip install -e ".[test]"')
    assert "snakemake --cores 4 table2" in section and "snakemake --unlock" in section
    assert 'python -m pytest -q -m "not slow"' in section
    ci = (REPO / ".ci" / "run").read_text()
    assert "python -m pytest -q\n" in ci and "not slow" not in ci  # CI runs the slow tests too
