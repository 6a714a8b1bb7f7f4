"""One results CSV as an HTML table in the report (dist_core.experiments.report_tables)."""

import logging

from dist_core.experiments.report_tables import csv_to_html
from dist_core.runtime import setup

setup(snakemake.threads, snakemake.log[0], "cpu")
csv_to_html(snakemake.input.csv, snakemake.output.html, snakemake.params.title, snakemake.params.caption)
logging.getLogger("report_table").info("%s -> %s", snakemake.input.csv, snakemake.output.html)
