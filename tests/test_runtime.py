"""dist_core.runtime.setup: a job's log holds its own output (log records, warnings, prints, progress bars'
last state) and the traceback that ended it, as well as the terminal."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

FAILING_JOB = """\
import logging, sys, warnings
from tqdm import tqdm
from dist_core.runtime import setup

device = setup(1, sys.argv[1], "cpu")
print("printed on stdout")
logging.getLogger("job").info("a log record")
warnings.warn("a warning from the job")
for _ in tqdm(range(50), desc="progress", mininterval=0):
    pass
raise RuntimeError("the job failed here")
"""


def test_a_failing_job_leaves_its_output_and_traceback_in_its_log_and_on_the_terminal(tmp_path):
    script, log = tmp_path / "job.py", tmp_path / "job.log"
    script.write_text(FAILING_JOB)
    run = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    text = log.read_text()
    for expected in ("device cpu (config: cpu), 1 torch threads", "printed on stdout", "job: a log record",
                     "UserWarning: a warning from the job", "Traceback (most recent call last)",
                     "RuntimeError: the job failed here"):
        assert expected in text, expected
        assert expected in run.stdout + run.stderr, expected
    # The progress bar's 51 states reach the terminal; the log keeps the last one.
    bar_lines = [line for line in text.splitlines() if line.startswith("progress:")]
    assert len(bar_lines) == 1 and "50/50" in bar_lines[0]
    assert run.stderr.count("progress:") > 2
    assert text.index("printed on stdout") < text.index("RuntimeError: the job failed here")


def test_a_second_setup_writes_to_its_own_log_only(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""\
        import sys
        from dist_core.runtime import setup
        setup(1, sys.argv[1], "cpu")
        print("first")
        setup(1, sys.argv[2], "cpu")
        print("second")
    """))
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    run = subprocess.run([sys.executable, str(script), str(first), str(second)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "first" in first.read_text() and "second" not in first.read_text()
    assert "second" in second.read_text() and run.stdout.splitlines() == ["first", "second"]


def test_a_failing_rule_of_the_workflow_leaves_its_traceback_in_its_log(tmp_path):
    # The timings rule's own script, in a one-rule workflow, fed a benchmark folder with a foreign file.
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "notes.tsv").write_text("a\tb\n1\t2\n")
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        rule timings:
            output:
                jobs="timings.csv",
                rules="timings_by_rule.csv",
            params:
                folder="benchmarks",
            threads: 1
            log:
                "logs/timings.log",
            script:
                "{REPO / 'workflow' / 'scripts' / 'timings_gather.py'}"
    """))
    run = subprocess.run([SNAKEMAKE, "--cores", "1", "timings"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode != 0
    log = (tmp_path / "logs" / "timings.log").read_text()
    assert "Traceback (most recent call last)" in log and "notes.tsv: not a Snakemake benchmark file" in log
    assert "logs/timings.log" in run.stdout + run.stderr  # Snakemake points at the log
