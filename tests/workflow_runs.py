"""Helpers of the tests that run the workflow from a scratch working directory."""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def shipped_overrides(**sections) -> list[str]:
    """`--config` values that point the shipped priors and PMO networks at the repository's resources/ (a
    scratch working directory has none), with the keys of ``sections`` added: shipped_overrides(table3={...})."""
    values = {"priors": {"shipped_dir": str(REPO / "resources" / "priors")},
              "table3": {"pmo": {"shipped_dir": str(REPO / "resources" / "pmo")}}}
    for section, keys in sections.items():
        values[section] = {**values.get(section, {}), **keys}
    return [f"{section}={json.dumps(keys)}" for section, keys in values.items()]
