# The report and what only it needs: `snakemake --report results/report.html` gathers every output marked
# report(...) (Tables 1-3, their figures, the demos, the convergence figure and the timings) in the DAG of
# the default target `all` (in the Snakefile: Snakemake ignores default_target in included files). Rules:
# convergence_figure (paper Fig. 7) and timings (results/timings.csv from the benchmark: files of every rule).
REPORT = config.get("report", {})


report: "../report/workflow.rst"


rule convergence_figure:
    input:
        config_check("report"),
        prior=prior_files(REPORT["convergence"]["category"]),
    output:
        csv=report(RESULTS / "figures" / "convergence.csv", category="Renderer", subcategory="Convergence (Fig. 7)",
                   caption="../report/convergence.rst"),
        figure=report(RESULTS / "figures" / "convergence.png", category="Renderer",
                      subcategory="Convergence (Fig. 7)", caption="../report/convergence.rst"),
    params:
        settings=json.dumps(REPORT["convergence"], sort_keys=True),
        renderer=config_json("renderer"),
        prior_dir=str(prior_dir(REPORT["convergence"]["category"])),
        device=config["device"],
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=8000, runtime=20),
    log:
        RESULTS / "logs" / "report" / "convergence.log",
    benchmark:
        RESULTS / "benchmarks" / "report" / "convergence.tsv"
    script:
        "../scripts/report_convergence.py"


def report_targets(wildcards=None):
    """The final outputs of every table, demo and figure the workflow defines. An input function: it runs
    once every rule file is included, whatever their order in the Snakefile."""
    targets = [*rules.convergence_figure.output, *rules.demos.input, *rules.prior_report.output]
    for name in ("table1", "table2", "table3"):
        if workflow.is_rule(name):
            table = workflow.get_rule(name)
            targets += list(table.output) or list(table.input)
    return targets


rule timings:
    input:
        # Only to run last: the script reads whatever benchmark files exist when it runs.
        report_targets,
    output:
        jobs=report(RESULTS / "timings.csv", category="Timings", caption="../report/timings.rst"),
        rules=report(RESULTS / "timings_by_rule.csv", category="Timings", caption="../report/timings.rst"),
    params:
        folder=str(RESULTS / "benchmarks"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        RESULTS / "logs" / "report" / "timings.log",
    script:
        "../scripts/timings_gather.py"
