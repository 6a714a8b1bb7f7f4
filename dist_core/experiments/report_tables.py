"""Results tables as HTML pages for the workflow's report (``snakemake --report``), which shows an HTML file
where it only offers a CSV for download.

``python -m dist_core.experiments.report_tables results/table2.csv table2.html "Table 2" "Chamfer x 1000"``
writes one page by hand.
"""

from __future__ import annotations

import html
import math
import sys
from pathlib import Path

import pandas as pd

from ..io import atomic_path, read_csv

__all__ = ["format_cell", "html_table", "csv_to_html", "main"]

_STYLE = """\
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
caption { caption-side: top; text-align: left; padding: 0.3em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
dl { font-size: 0.85em; color: #444; }
"""


def format_cell(value) -> str:
    """A cell as text: integers as they are, other numbers with four significant digits, a missing or NaN
    value (a method whose every run failed) as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value)


def html_table(frame: pd.DataFrame, title: str, caption: str, metadata: dict | None = None) -> str:
    """A standalone HTML page with ``frame`` as one table: ``title`` as its heading, ``caption`` (the units)
    above it, ``metadata`` (a CSV's ``# key: value`` lines) below it. Text columns are left-aligned."""
    text_columns = {c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])}

    def cell(tag, column, text):
        return f'<{tag} class="text">{html.escape(text)}</{tag}>' if column in text_columns \
            else f"<{tag}>{html.escape(text)}</{tag}>"

    header = "".join(cell("th", c, str(c)) for c in frame.columns)
    rows = "\n".join("<tr>" + "".join(cell("td", c, format_cell(v)) for c, v in zip(frame.columns, row)) + "</tr>"
                     for row in frame.itertuples(index=False, name=None))
    notes = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in (metadata or {}).items())
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>\n{_STYLE}</style></head><body>\n<h2>{html.escape(title)}</h2>\n<table>\n"
            f"<caption>{html.escape(caption)}</caption>\n<thead><tr>{header}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n"
            f"</table>\n" + (f"<dl>{notes}</dl>\n" if notes else "") + f"<p>{len(frame)} rows.</p>\n</body></html>\n")


def csv_to_html(csv_path, html_path, title: str, caption: str) -> Path:
    """Write the CSV at ``csv_path`` (plain, or with :func:`dist_core.io.write_csv`'s metadata lines) as the
    HTML page of :func:`html_table`, atomically."""
    frame, metadata = read_csv(csv_path)
    html_path = Path(html_path)
    with atomic_path(html_path) as tmp:
        tmp.write_text(html_table(frame, title, caption, metadata), encoding="utf-8")
    return html_path


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        raise SystemExit("usage: python -m dist_core.experiments.report_tables TABLE.csv PAGE.html TITLE CAPTION")
    csv_to_html(*args)


if __name__ == "__main__":
    main()
