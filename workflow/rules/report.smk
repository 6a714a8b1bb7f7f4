# The report and what only it needs: `snakemake --report results/report.html` gathers every output marked
# report(...) (Tables 1-3, their figures, the demos, the convergence figure and the timings) in the DAG of
# the default target `all` (in the Snakefile: Snakemake ignores default_target in included files). Rules:
# convergence_figure (paper Fig. 7), timings (results/timings.csv from the benchmark: files of every rule) and
# report_table_<name>: each results table as an HTML page (results/report/<name>.html), which the report shows
# where it only offers a CSV for download. Included last: the tables' rules are defined by then.
report: "../report/workflow.rst"


rule convergence_figure:
    input:
        config_check("report"),
        prior=prior_files(REPORT["convergence"]["category"]),
    output:
        csv=report(
            RESULTS / "figures" / "convergence.csv",
            category="Renderer",
            subcategory="Convergence (Fig. 7)",
            caption="../report/convergence.rst",
        ),
        figure=report(
            RESULTS / "figures" / "convergence.png",
            category="Renderer",
            subcategory="Convergence (Fig. 7)",
            caption="../report/convergence.rst",
        ),
    log:
        RESULTS / "logs" / "report" / "convergence.log",
    benchmark:
        RESULTS / "benchmarks" / "report" / "convergence.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=8000, runtime=20),
    params:
        settings=json.dumps(REPORT["convergence"], sort_keys=True),
        renderer=config_json("renderer"),
        prior_dir=input_folder("prior"),
        device=config["device"],
    script:
        "../scripts/report_convergence.py"


rule timings:
    input:
        # Only to run last: the script reads whatever benchmark files exist when it runs.
        report_targets,
    output:
        jobs=report(RESULTS / "timings.csv", category="Timings", caption="../report/timings.rst"),
        rules=report(RESULTS / "timings_by_rule.csv", category="Timings", caption="../report/timings.rst"),
    log:
        RESULTS / "logs" / "report" / "timings.log",
    conda:
        DIST_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        folder=str(RESULTS / "benchmarks"),
    script:
        "../scripts/timings_gather.py"


for _name, ((_rule, _key), _category, _title, _caption) in REPORT_TABLES.items():

    rule:
        name:
            f"report_table_{_name}"
        input:
            csv=getattr(getattr(rules, _rule).output, _key),
        output:
            html=report(
                report_table_page(_name), category=_category, subcategory="Tables", caption="../report/table_html.rst"
            ),
        log:
            RESULTS / "logs" / "report" / f"table_{_name}.log",
        conda:
            DIST_ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            title=_title,
            caption=_caption,
        script:
            "../scripts/report_table.py"
