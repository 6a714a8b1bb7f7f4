# dist: reproduce DIST (Liu et al., CVPR 2020). `snakemake table1`, `snakemake --cores 4 table2`,
# `snakemake table3`; the embedded default runs from a fresh clone with no download.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# A misspelt key or a wrong type stops here, naming the key (every key: config/README.md).
validate(config, "workflow/schemas/config.schema.yaml")


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
