"""Results tables as HTML pages for the report (dist_core.experiments.report_tables), and the workflow's plan
that puts every table (Tables 1-3, prior quality, timings) in the report."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from dist_core.experiments.report_tables import csv_to_html, format_cell, html_table
from dist_core.io import write_csv

from workflow_runs import shipped_overrides

REPO = Path(__file__).resolve().parents[1]


def cells(page: str) -> list[list[str]]:
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return [re.findall(r"<td(?: [^>]*)?>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_cells_keep_integers_round_other_numbers_and_show_a_failed_method_as_a_dash():
    assert [format_cell(v) for v in (3, 7.0, 0.123456, 1234567.0, 2.5e-5, float("nan"), None, True, "ours")] == \
        ["3", "7", "0.1235", "1234567", "2.5e-05", "\u2013", "\u2013", "True", "ours"]


def test_a_csv_with_metadata_becomes_one_table_with_its_caption_and_notes(tmp_path):
    frame = pd.DataFrame({"category": ["sofa", "sofa"], "method": ["ours", "deepsdf <base>"],
                          "median_chamfer_x1000": [0.51234, math.nan], "n": [5, 5], "n_failed": [0, 5]})
    csv = write_csv(tmp_path / "table2.csv", frame, {"chamfer": "DeepSDF, mesh frame"})
    page = csv_to_html(csv, tmp_path / "report" / "table2.html", "Table 2", "Chamfer x 1000, squared").read_text()
    assert cells(page) == [["sofa", "ours", "0.5123", "5", "0"], ["sofa", "deepsdf &lt;base&gt;", "\u2013", "5", "5"]]
    assert "<caption>Chamfer x 1000, squared</caption>" in page and "<h2>Table 2</h2>" in page
    assert "<dt>chamfer</dt><dd>DeepSDF, mesh frame</dd>" in page and "2 rows." in page
    header = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", page)
    assert header == list(frame.columns)
    assert '<td class="text">sofa</td>' in page and "<td>5</td>" in page  # text left, numbers right


def test_an_empty_table_still_has_its_header():
    page = html_table(pd.DataFrame(columns=["rule", "jobs"]), "Timings", "seconds")
    assert cells(page) == [] and "<th" in page and "0 rows." in page


def test_the_default_target_puts_every_table_page_in_the_report(tmp_path):
    run = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"),
                          "--directory", str(tmp_path), "--dry-run", "--configfile", str(REPO / "config" / "config.yaml"),
                          "--config", *shipped_overrides()],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    pages = set(re.findall(r"results/report/(\w+)\.html", log))
    assert pages == {"table1", "table2", "table3", "prior_quality", "pmo_quality", "timings"}
    for name, source in [("table1", "results/table1.csv"), ("table2", "results/table2.csv"),
                         ("table3", "results/table3.csv"), ("prior_quality", "results/priors/quality.csv"),
                         ("pmo_quality", "results/table3_pmo_quality.csv"), ("timings", "results/timings_by_rule.csv")]:
        block = re.search(rf"rule report_table_{name}:\n(.*?)\n\n", log, re.S)
        assert block and f"input: {source}" in block.group(1), name
