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


# Resources follow the rule, whatever its wildcards: a rule whose jobs run the renderer or train a network
# declares `resources: **gpu_job(...)`, any other rule its `mem_mb` and `runtime` (minutes). Locally Snakemake
# counts them only against --resources (`--resources gpu=1` runs one GPU job at a time); on a cluster they
# place the job: profiles/slurm names its GPU partition as the default resource `gpu_partition`, which GPU jobs
# take as their slurm_partition, while every other job keeps the profile's slurm_partition.
def _profile_default_resource(name):
    """A default resource set by the profile or --default-resources, as a string; None when unset."""
    defaults = workflow.resource_settings.default_resources
    resource = defaults.get(name) if defaults is not None else None
    return None if resource is None else str(resource.raw).strip("'\"")


GPU_PARTITION = _profile_default_resource("gpu_partition")


def gpu_job(mem_mb, runtime, gpus=1):
    """Resources of a job that runs the renderer or trains a network: `gpus` GPUs (0: none counted, e.g. jobs
    that share one GPU), `mem_mb` MB of memory, `runtime` minutes; with a gpu_partition, that partition and
    at least one GPU."""
    resources = {"mem_mb": mem_mb, "runtime": runtime, "gpu": gpus}
    if GPU_PARTITION:
        resources.update(slurm_partition=GPU_PARTITION, gpu=max(1, gpus))
    return resources
