"""Gather the benchmark: files of every job into results/timings.csv (dist_core.experiments.timings)."""

import logging

from dist_core.io import write_csv
from dist_core.runtime import setup
from dist_core.experiments.timings import gather_benchmarks, summarize_timings

setup(snakemake.threads, snakemake.log[0], "cpu")
jobs = gather_benchmarks(snakemake.params.folder)
write_csv(snakemake.output.jobs, jobs)
by_rule = summarize_timings(jobs)
write_csv(snakemake.output.rules, by_rule)
logging.getLogger("timings").info("%d jobs, %.0f s in all\n%s", len(jobs), jobs["seconds"].sum(),
                                  by_rule.to_string(index=False))
