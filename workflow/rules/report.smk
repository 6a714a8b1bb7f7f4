# The report and what only it needs: `snakemake --report results/report.html` gathers every output marked
# report(...) (Tables 1-3, their figures, the demos, the convergence figure and the timings) in the DAG of
# the default target `all` (in the Snakefile: Snakemake ignores default_target in included files). Rules:
# convergence_figure (paper Fig. 7), timings (results/timings.csv from the benchmark: files of every rule) and
# report_table_<name>: each results table as an HTML page (results/report/<name>.html), which the report shows
# where it only offers a CSV for download. Included last: the tables' rules are defined by then.
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
    """The final outputs of every table, demo and figure the workflow defines, and the tables' HTML pages (but
    the timings'). An input function: it runs once every rule file is included, whatever their order."""
    targets = [*rules.convergence_figure.output, *rules.demos.input, *rules.prior_report.output]
    for name in ("table1", "table2", "table3"):
        if workflow.is_rule(name):
            table = workflow.get_rule(name)
            targets += list(table.output) or list(table.input)
    return targets + [report_table_page(name) for name in REPORT_TABLES if name != "timings"]


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


# name of the page: (rule and output key of its CSV, report category, title, caption saying the units)
REPORT_TABLES = {
    "table1": (("table1", "csv"), "Table 1", "Table 1: the sphere tracer's efficiency",
               "network queries counted per rendering (forward, backward, per pixel), seconds of wall time for the "
               "trace and for one optimisation step (forward, backward and Adam update), peak memory in MB."),
    "table2": (("table2_tables", "csv"), "Table 2", "Table 2: shape completion from one depth image",
               "Chamfer distance x 1000 as DeepSDF computes it (mesh frame, squared distances, both directions "
               "summed): median, mean and the 95 % bootstrap interval of the median per category, setting and "
               "method; seconds and network queries per optimisation step."),
    "table3": (("table3", "csv"), "Table 3", "Table 3: shape from multi-view images",
               "Chamfer distances x 1000 (10,000 points each, mean squared nearest-neighbour distance), one row "
               "per category, method and metric: the paper's (ground truth to prediction, PMO's frame), the other "
               "direction (PMO's frame) and ground truth to prediction in the DeepSDF normalised frame; median and "
               "mean with 95 % bootstrap intervals; n, n_failed, n_skipped; seconds per instance and per step; "
               "network queries per step."),
    "prior_quality": (("prior_report", "csv"), "Shape priors", "Quality of the shape priors",
                      "DeepSDF's Chamfer distance x 1000 between each shape's mesh and its ground-truth surface "
                      "samples (squared distances, both directions summed), per category and split; training "
                      "time in seconds."),
    "timings": (("timings", "rules"), "Timings", "Timings per rule family",
                "jobs, wall time in seconds (total, median, longest job) and peak resident memory in MB, from "
                "Snakemake's benchmark files of this run."),
}


def report_table_page(name):
    return RESULTS / "report" / f"{name}.html"


for _name, ((_rule, _key), _category, _title, _caption) in REPORT_TABLES.items():

    rule:
        name:
            f"report_table_{_name}"
        input:
            csv=getattr(getattr(rules, _rule).output, _key),
        output:
            html=report(report_table_page(_name), category=_category, subcategory="Tables",
                        caption="../report/table_html.rst"),
        params:
            title=_title,
            caption=_caption,
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        log:
            RESULTS / "logs" / "report" / f"table_{_name}.log",
        script:
            "../scripts/report_table.py"
