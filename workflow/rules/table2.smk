# Table 2: shape completion from one dense or sparse depth image (paper section 4.2.1).
#
# One job per test instance runs every setting and method (dist_core.experiments.table2.evaluate_instance): a job
# spends about 3 s importing torch and loading the prior against one to two minutes of optimisation, and
# 17 jobs per instance (setting x method) would repeat that start-up 17 times. On a cluster,
# `--groups table2_instance=t2 --group-components t2=<n>` packs several instances per submission.
# Then one job assembles the tables and figures, and one draws the loss-vs-Chamfer curve (paper Fig. 5).
rule table2_instance:
    input:
        view=lambda wildcards: data_single_view(wildcards.category, wildcards.instance),
        prior=lambda wildcards: prior_files(wildcards.category),
    output:
        RESULTS / "table2" / "{category}" / "{instance}.h5",
    log:
        RESULTS / "logs" / "table2" / "{category}" / "{instance}.log",
    benchmark:
        RESULTS / "benchmarks" / "table2" / "{category}" / "{instance}.tsv"
    wildcard_constraints:
        category="|".join(T2["categories"]),
        instance="[0-9A-Za-z_-]+",
    conda:
        DIST_ENV
    threads: T2["threads"]
    resources:
        **gpu_job(mem_mb=8000, runtime=20, gpus=T2["gpus_per_job"]),
    params:
        table2=_table2_params(),
        renderer=config_json("renderer"),
        prior_dir=input_folder("prior"),
        deepsdf_dir=DATA["deepsdf_dir"],
        dataset=DATA["dataset"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table2_instance.py"


rule table2_tables:
    input:
        config_check("table2"),
        # Input functions (and a param function below): the split files are read only when Table 2 is asked for.
        results=lambda wildcards: [table2_result(c, i) for c in T2["categories"] for i in table2_instances(c)],
        views=lambda wildcards: [data_single_view(c, i) for c in T2["categories"] for i in table2_instances(c)],
    output:
        csv=report(RESULTS / "table2.csv", category="Table 2", caption="../report/table2.rst"),
        per_instance=RESULTS / "table2_per_instance.csv",
        paired=report(RESULTS / "table2_paired.csv", category="Table 2", caption="../report/table2_paired.rst"),
        skipped=RESULTS / "table2_skipped.csv",
        markdown=report(RESULTS / "table2.md", category="Table 2", caption="../report/table2.rst"),
        figures=[
            report(
                RESULTS / "table2" / f"figure_{c}.png",
                category="Table 2",
                subcategory="Figures",
                caption="../report/table2_figure.rst",
            )
            for c in T2["categories"]
        ],
    log:
        RESULTS / "logs" / "table2" / "tables.log",
    conda:
        DIST_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        categories=T2["categories"],
        instances=lambda wildcards: {c: table2_instances(c) for c in T2["categories"]},
        figure_instance=T2["figure_instance"],
        prior_dirs=[str(prior_dir(c)) for c in T2["categories"]],
        table2=_table2_params(),
        renderer=config_json("renderer"),
        resolution=DATA["single_view"]["resolution"],
        notes=T2.get("notes", []),
        with_paper=not DATA_SYNTHETIC,
        shapenet_root=DATA["shapenet_root"],
        deepsdf_dir=DATA["deepsdf_dir"],
        dataset=DATA["dataset"],
        seed=config["seed"],
    script:
        "../scripts/table2_tables.py"


rule table2_curve:
    input:
        config_check("table2"),
        view=lambda wildcards: data_single_view(T2["curve"]["category"], _curve_instance()),
        prior=prior_files(T2["curve"]["category"]),
    output:
        csv=RESULTS / "table2" / "loss_chamfer.csv",
        correlation=RESULTS / "table2" / "loss_chamfer_correlation.csv",
        figure=report(
            RESULTS / "table2" / "loss_chamfer.png",
            category="Table 2",
            subcategory="Figures",
            caption="../report/table2_curve.rst",
        ),
    log:
        RESULTS / "logs" / "table2" / "curve.log",
    benchmark:
        RESULTS / "benchmarks" / "table2" / "curve.tsv"
    conda:
        DIST_ENV
    threads: T2["threads"]
    resources:
        **gpu_job(mem_mb=8000, runtime=30, gpus=T2["gpus_per_job"]),
    params:
        table2=_table2_params(),
        curve=json.dumps(T2["curve"], sort_keys=True),
        renderer=config_json("renderer"),
        prior_dir=input_folder("prior"),
        deepsdf_dir=DATA["deepsdf_dir"],
        dataset=DATA["dataset"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table2_curve.py"


rule table2:
    input:
        rules.table2_tables.output,
        rules.table2_curve.output,
