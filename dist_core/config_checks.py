"""Checks of the workflow's configuration that a JSON schema cannot express, and the typing of ``--config``.

The schema (``workflow/schemas/config.schema.yaml``) checks each key on its own: names, types, ranges, the
fixed sets of values. What is left are the relations between keys, which this module checks before any job
runs, each message naming the key and the fix:

* :func:`parse_problems`: mistakes that would stop the rule files from being read at all
  (``table2.curve.instance`` past ``table2.instances``); the Snakefile raises them before it reads them.
* :func:`target_problems`: what a family of targets needs from its own and the other sections
  (``table2.categories`` must be prepared by ``data`` and have a prior, ``table2.curve.category`` must be one
  of them). They are raised only when a rule of that family is in the
  jobs to run (an input function of its rules, :func:`raise_problems`), so a configuration trimmed for a
  quick ``snakemake table2`` need not also be consistent for Table 3 or the demos.

:func:`typed_overrides` gives ``--config`` values their YAML types: Snakemake reads
``--config table1='{resolution: 256}'`` with YAML's base loader, so nested values arrive as strings
(``'256'``) and the schema would refuse them.

Nothing here imports Snakemake; every function takes the merged configuration as a plain dictionary.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

__all__ = ["ConfigError", "typed_overrides", "parse_problems", "target_problems", "raise_problems", "TARGETS"]

# Families of targets whose rules call raise_problems(problems, family) as an input function.
TARGETS = ("data", "priors", "table2", "table3", "demos", "report")


class ConfigError(ValueError):
    """One or more configuration mistakes; the message has one line per mistake, each naming the key."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))


def _typed_scalar(value: str):
    """A YAML plain scalar with its type (``'256'`` -> 256, ``'false'`` -> False, ``'null'`` -> None); any
    other string (a path, a name, text that YAML would read as a mapping) stays as it is."""
    try:
        typed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return typed if typed is None or isinstance(typed, (bool, int, float)) else value


def typed_overrides(overrides: Mapping) -> dict:
    """``--config`` values (Snakemake's ``workflow.config_settings.config``) with nested YAML scalars typed.

    Top-level values are already typed by Snakemake (int, float, bool); inside a mapping or a list every
    scalar is a string. Strings that are not YAML numbers, booleans or null are kept.
    """

    def typed(value):
        if isinstance(value, Mapping):
            return {k: typed(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [typed(v) for v in value]
        return _typed_scalar(value) if isinstance(value, str) else value

    return {key: typed(value) if isinstance(value, (Mapping, list, tuple)) else value
            for key, value in overrides.items()}


def _listing(values) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def _values(values) -> list:
    """A key's value as a list: a list or tuple as it is, anything else as its one item."""
    return list(values) if isinstance(values, (list, tuple)) else [values]


def _missing(key: str, values, where: str, allowed, fix: str) -> list[str]:
    """One message per value of ``key`` that is not among ``allowed`` (the values of config key ``where``)."""
    allowed = list(allowed)
    return [f"config {key}: {value!r} is not in {where} {_listing(allowed)}; {fix}"
            for value in _values(values) if value not in allowed]


def parse_problems(config: Mapping) -> list[str]:
    """Mistakes that would stop the rule files from being read at all (a bare IndexError otherwise)."""
    problems = []
    table2 = config.get("table2") or {}
    curve = table2.get("curve") or {}
    if "instance" in curve and "instances" in table2 and curve["instance"] >= table2["instances"]:
        problems.append(f"config table2.curve.instance: {curve['instance']} is not one of the {table2['instances']} "
                        f"instances of table2.instances (0 to {table2['instances'] - 1}); lower it or raise "
                        "table2.instances")
    return problems


def _prior_problems(config: Mapping, key: str, categories) -> list[str]:
    """A category whose prior the workflow trains must be one of priors.categories, and one whose prior is a
    DeepSDF experiment must have a folder in priors.experiments (shipped priors are files that the rules'
    inputs name; Snakemake reports a missing one by its path)."""
    priors = config.get("priors") or {}
    if priors.get("source") == "experiments":
        return [f"config {key}: {category!r} has no DeepSDF experiment in priors.experiments; add "
                f"`{category}: <DeepSDF experiment folder>` there (DeepSDF names them examples/{category}s) or drop "
                f"{category!r} here" for category in _values(categories)
                if category not in (priors.get("experiments") or {})]
    if priors.get("source") != "trained":
        return []
    return _missing(key, categories, "priors.categories", priors.get("categories", []),
                    "with priors.source: trained only those priors are trained; add it there")


def _prepared_problems(config: Mapping, key: str, categories) -> list[str]:
    """A category whose embedded dataset the workflow must generate must be one of data.categories."""
    data = config.get("data") or {}
    if data.get("source") != "synthetic":
        return []
    return _missing(key, categories, "data.categories", data.get("categories", []),
                    "the embedded dataset is generated for those categories only; add it there or drop it here")


def _table2_problems(config: Mapping) -> list[str]:
    table2, data = config.get("table2") or {}, config.get("data") or {}
    categories = table2.get("categories", [])
    problems = _missing("table2.categories", categories, "data.categories", data.get("categories", []),
                        "single-view inputs are prepared for those categories only; add it there or drop it here")
    problems += _prior_problems(config, "table2.categories", categories)
    sparse = (data.get("single_view") or {}).get("sparse", [])
    problems += _missing("table2.settings", table2.get("settings", []), "data.single_view.sparse", sparse,
                         "the single-view inputs hold those settings only; add it there or drop it here")
    curve = table2.get("curve") or {}
    if "category" in curve:
        problems += _missing("table2.curve.category", curve["category"], "table2.categories", categories,
                             "the curve follows one of the table's instances: pick one of those categories")
    if "setting" in curve:
        problems += _missing("table2.curve.setting", curve["setting"], "data.single_view.sparse", sparse,
                             "the single-view inputs hold those settings only; pick one of them")
    test_count = (data.get("synthetic") or {}).get("test_per_category")
    if data.get("source") == "synthetic" and test_count is not None and table2.get("instances", 0) > test_count:
        problems.append(f"config table2.instances: {table2['instances']} is more than the {test_count} test shapes "
                        "of data.synthetic.test_per_category; lower it or raise test_per_category")
    return problems


def _table3_problems(config: Mapping) -> list[str]:
    table3, data = config.get("table3") or {}, config.get("data") or {}
    pmo = data.get("pmo") or {}
    categories = table3.get("categories", [])
    problems = _missing("table3.categories", categories, "data.pmo.categories", pmo.get("categories", []),
                        "multi-view inputs are prepared for those categories only; add it there or drop it here")
    problems += _prepared_problems(config, "data.pmo.categories", pmo.get("categories", []))
    if "ours_rand" in table3.get("methods", []):
        problems += _prior_problems(config, "table3.categories", categories)
    robustness = table3.get("robustness") or {}
    if robustness.get("instances", 0) > table3.get("instances", 0):
        problems.append(f"config table3.robustness.instances: {robustness['instances']} is more than the "
                        f"{table3.get('instances', 0)} of table3.instances; lower it or raise table3.instances")
    count = pmo.get("instances_per_category")
    if count is not None and table3.get("instances", 0) > count:
        problems.append(f"config table3.instances: {table3['instances']} is more than the {count} sequences of "
                        "data.pmo.instances_per_category; lower it or raise instances_per_category (null: all)")
    return problems


def _demos_problems(config: Mapping) -> list[str]:
    demos = config.get("demos") or {}
    problems = []
    for name in ("camera", "color"):
        if "category" in (demos.get(name) or {}):
            problems += _prior_problems(config, f"demos.{name}.category", demos[name]["category"])
    if "category" in (demos.get("color") or {}):
        problems += _prepared_problems(config, "demos.color.category", demos["color"]["category"])
    return problems


def _report_problems(config: Mapping) -> list[str]:
    convergence = (config.get("report") or {}).get("convergence") or {}
    if "category" not in convergence:
        return []
    return _prior_problems(config, "report.convergence.category", convergence["category"])


def target_problems(config: Mapping) -> dict[str, list[str]]:
    """The mistakes that stop each family of targets (:data:`TARGETS`), by family."""
    priors = config.get("priors") or {}
    data_pmo = ((config.get("data") or {}).get("pmo") or {}).get("categories", [])
    return {
        "data": _prepared_problems(config, "data.pmo.categories", data_pmo),
        "priors": _prepared_problems(config, "priors.categories", priors.get("categories", [])),
        "table2": _table2_problems(config),
        "table3": _table3_problems(config),
        "demos": _demos_problems(config),
        "report": _report_problems(config),
    }


def raise_problems(problems: Mapping[str, list[str]], family: str) -> list:
    """Raise :class:`ConfigError` with the mistakes of ``family``; with none, return no inputs (``[]``), so
    that a rule can name this as an input function."""
    if family not in problems:
        raise KeyError(f"unknown family of targets {family!r}; choose from {sorted(problems)}")
    if problems[family]:
        raise ConfigError(problems[family])
    return []
