"""Helpers of the tests that run the workflow from a scratch working directory."""

import copy
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def merged(base: dict, extra: dict) -> dict:
    """Snakemake's merge of a second config file: nested sections key by key."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _shipped_config(sections: dict) -> dict:
    """Config sections that point the shipped priors and PMO networks at the repository, with ``sections``'
    keys added to them (a section's keys replace the same keys, as --config does)."""
    values = {"priors": {"shipped_dir": str(REPO / "resources" / "priors")},
              "table3": {"pmo": {"shipped_dir": str(REPO / "resources" / "pmo")}}}
    for section, keys in sections.items():
        values[section] = {**values.get(section, {}), **keys}
    return values


def shipped_overrides(**sections) -> list[str]:
    """`--config` values that point the shipped priors and PMO networks at the repository's resources/ (a
    scratch working directory has none), with the keys of ``sections`` added: shipped_overrides(table3={...})."""
    return [f"{section}={json.dumps(keys)}" for section, keys in _shipped_config(sections).items()]


def planned_params(workdir, target: str, config: dict) -> dict:
    """``{(rule, wildcards): params}`` of every job that `snakemake <target> --forceall` would run with the
    default config plus ``config`` (merged key by key, as --config is), planned through Snakemake's API from
    ``workdir`` without running anything."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    overrides = _shipped_config(config)
    with SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(resource_settings=ResourceSettings(cores=1),
                                    config_settings=ConfigSettings(config=overrides,
                                                                   configfiles=[REPO / "config" / "config.yaml"]),
                                    snakefile=REPO / "Snakefile", workdir=Path(workdir))
        dag_api = workflow_api.dag(DAGSettings(targets={target}))
        workflow = dag_api.workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        return {(job.rule.name, tuple(sorted(job.wildcards_dict.items()))): dict(job.params.items())
                for job in workflow.dag.jobs}
