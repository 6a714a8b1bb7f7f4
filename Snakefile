# dist: reproduce DIST (Liu et al., CVPR 2020). `snakemake table1`, `snakemake --cores 4 table2`,
# `snakemake table3`; the embedded default runs from a fresh clone with no download.
import sys

# The workflow runs the dist_core of its own checkout, and Snakemake hands this path on to every job, so a job
# in a conda environment (workflow/envs/dist.yaml) imports the same code.
sys.path.insert(0, workflow.basedir)

from snakemake.utils import min_version, update_config, validate

from dist_core.config_checks import ConfigError, parse_problems, target_problems, typed_overrides

min_version("9.0")


configfile: "config/config.yaml"


# Snakemake reads the values inside `--config table1='{resolution: 256}'` as strings: give them their YAML types.
update_config(config, typed_overrides(workflow.config_settings.config))
# A misspelt key or a wrong type stops here, naming the key (every key: config/README.md).
validate(config, "workflow/schemas/config.schema.yaml")
# Relations between keys (dist_core.config_checks): contradictions stop here; what a family of targets needs
# from the other sections stops the run when one of its rules is in the DAG (config_check in common.smk).
if parse_problems(config):
    raise ConfigError(parse_problems(config))
CONFIG_PROBLEMS = target_problems(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/prior.smk"
include: "workflow/rules/table1.smk"
include: "workflow/rules/table2.smk"
include: "workflow/rules/table3.smk"
include: "workflow/rules/demos.smk"
include: "workflow/rules/report.smk"


# The default target: every table, figure and demo, then the timings (workflow/rules/report.smk).
rule all:
    default_target: True
    input:
        report_targets,
        rules.timings.output,
        report_table_page("timings"),
