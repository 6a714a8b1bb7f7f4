"""Per-job timings of the workflow: Snakemake's ``benchmark:`` files gathered into one table.

Every heavy rule writes ``<results>/benchmarks/<job>.tsv`` (Snakemake's columns ``s``, ``h:m:s``,
``max_rss``, ``max_vms``, ``max_uss``, ``max_pss``, ``io_in``, ``io_out``, ``mean_load``, ``cpu_time``;
memory in MB). :func:`gather_benchmarks` reads them all into one row per job: ``job`` (the file's path
below the folder, without ``.tsv``: ``table2/sofa/<instance>``), ``rule`` (the rule family: the first
folder, or the file name without its category suffix), ``seconds``, ``cpu_seconds``, ``max_rss_mb``,
``mean_load`` and ``finished`` (the file's modification time, UTC). :func:`summarize_timings` sums them
per rule family.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

__all__ = ["BENCHMARK_COLUMNS", "read_benchmark", "gather_benchmarks", "summarize_timings"]

BENCHMARK_COLUMNS = ("s", "max_rss", "mean_load", "cpu_time")
_CATEGORIES = ("sofa", "plane", "table", "car", "chair")


def read_benchmark(path) -> pd.DataFrame:
    """One Snakemake benchmark TSV (one row per repeat); a clear error when it is not one."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a Snakemake benchmark file ({error}); delete it and rerun its rule") from error
    missing = [c for c in BENCHMARK_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no column {missing}); delete it and rerun its rule")
    return frame


def _rule_family(job: str) -> str:
    parts = job.split("/")
    if len(parts) > 1:
        return parts[0]
    name = parts[0]
    for category in _CATEGORIES:
        if name.endswith(f"_{category}"):
            return name[: -len(category) - 1]
    return name


def gather_benchmarks(folder) -> pd.DataFrame:
    """Every ``*.tsv`` below ``folder`` as one row per job (see the module docstring); the mean over repeats."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        frame = read_benchmark(path)
        job = path.relative_to(folder).with_suffix("").as_posix()
        numeric = lambda column: float(pd.to_numeric(frame[column], errors="coerce").mean())  # noqa: E731
        rows.append({"job": job, "rule": _rule_family(job), "seconds": numeric("s"),
                     "cpu_seconds": numeric("cpu_time"), "max_rss_mb": numeric("max_rss"),
                     "mean_load": numeric("mean_load"), "repeats": len(frame),
                     "finished": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")})
    columns = ["job", "rule", "seconds", "cpu_seconds", "max_rss_mb", "mean_load", "repeats", "finished"]
    return pd.DataFrame(rows, columns=columns)


def summarize_timings(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule family: ``jobs``, ``total_seconds``, ``median_seconds``, ``max_seconds``, ``max_rss_mb``."""
    grouped = jobs.groupby("rule", sort=True)
    return pd.DataFrame({
        "jobs": grouped.size(), "total_seconds": grouped["seconds"].sum(),
        "median_seconds": grouped["seconds"].median(), "max_seconds": grouped["seconds"].max(),
        "max_rss_mb": grouped["max_rss_mb"].max(),
    }).reset_index()


def main(argv=None) -> None:
    """``python -m dist_core.experiments.timings [benchmarks folder] [csv]``: gather now, without running the tables first."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "results/benchmarks")
    jobs = gather_benchmarks(folder)
    if len(args) > 1:
        from ..io import write_csv

        write_csv(args[1], jobs)
    print(summarize_timings(jobs).to_string(index=False))


if __name__ == "__main__":
    main()
