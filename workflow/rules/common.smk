# Config access and helpers shared by every rule file. Logic lives in dist_core; this file only names
# paths and options.
import json
from pathlib import Path

from dist_core.config_checks import raise_problems as raise_config_problems

RESULTS = Path(config.get("results", "results"))


def config_json(section):
    """A config section as canonical JSON: passed as a param, so editing it reruns the rule."""
    return json.dumps(config[section], sort_keys=True)


def config_check(family):
    """An input function for the rules of a family of targets (dist_core.config_checks.TARGETS): no inputs,
    or the ConfigError that names each key to fix, raised when one of those rules is in the DAG, before any
    job runs."""

    def check(wildcards):
        return raise_config_problems(CONFIG_PROBLEMS, family)

    return check
