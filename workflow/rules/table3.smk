# Table 3 (paper section 4.2.2): shape from multi-view colour images by photometric consistency, ours (rand
# init) against PMO (original / rand init / encoder only). One job per (category, method) runs the first
# table3.instances sequences (loading the model per instance would cost more than a step); an instance whose
# input is a skip record gets a result marked skipped; the `table3` rule gathers them, the paired comparisons
# and the list of skipped instances.
#
# PMO's models: table3.pmo.source shipped (the default) = resources/pmo/<category> (committed, never rebuilt);
# trained = results/table3/pmo/<category> (rule table3_pmo_train, tens of minutes on a 2-core CPU).
rule table3_pmo_train:
    input:
        split=lambda wildcards: data_split_file(wildcards.category, "train"),
    output:
        specs=T3_DIR / "pmo" / "{category}" / "specs.json",
    log:
        RESULTS / "logs" / "table3" / "pmo_train_{category}.log",
    benchmark:
        RESULTS / "benchmarks" / "table3_pmo_train_{category}.tsv"
    wildcard_constraints:
        category="|".join(T3_CATEGORIES),
    conda:
        DIST_ENV
    threads: T3["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=120),
    params:
        # The networks' training settings: not where they come from, nor how PMO optimises with them.
        pmo=json.dumps(_pmo_training_settings(T3["pmo"]), sort_keys=True),
        instances=lambda wildcards: data_instances(wildcards.category, "train"),
        data=_data_settings("shapenet_root", "deepsdf_dir", "dataset"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table3_pmo_train.py"


for _category in T3_CATEGORIES:
    for _method in T3_METHODS:

        rule:
            name:
                f"table3_{_category}_{_method}"
            input:
                views=[data_multi_view(_category, i) for i in table3_instances(_category)],
                model=prior_files(_category) if _method == "ours_rand" else [table3_pmo_dir(_category) / "specs.json"],
            output:
                [table3_result(_category, _method, i) for i in table3_instances(_category)],
            log:
                RESULTS / "logs" / "table3" / f"{_category}_{_method}.log",
            benchmark:
                RESULTS / "benchmarks" / f"table3_{_category}_{_method}.tsv"
            conda:
                DIST_ENV
            threads: T3["threads"]
            resources:
                **gpu_job(mem_mb=8000, runtime=120),
            params:
                category=_category,
                method=_method,
                instances=table3_instances(_category),
                model_dir=input_folder("model"),
                settings=_table3_settings(),
                seed=config["seed"],
                device=config["device"],
            script:
                "../scripts/table3_method.py"


rule table3:
    input:
        config_check("table3"),
        table3_list_check,
        results=[table3_result(c, m, i) for c in T3_CATEGORIES for m in T3_METHODS for i in table3_instances(c)],
        views=[data_multi_view(c, i) for c in T3_CATEGORIES for i in table3_instances(c)],
        priors=[prior_files(c) for c in T3_CATEGORIES],
        pmo=[table3_pmo_dir(c) / "specs.json" for c in T3_CATEGORIES],
    output:
        csv=report(RESULTS / "table3.csv", category="Table 3", caption="../report/table3.rst"),
        per_instance=report(RESULTS / "table3_per_instance.csv", category="Table 3", caption="../report/table3.rst"),
        paired=report(RESULTS / "table3_paired.csv", category="Table 3", caption="../report/table3.rst"),
        skipped=RESULTS / "table3_skipped.csv",
        pmo_quality=report(RESULTS / "table3_pmo_quality.csv", category="Table 3", caption="../report/table3.rst"),
        markdown=report(RESULTS / "table3.md", category="Table 3", caption="../report/table3.rst"),
        figures=[
            report(RESULTS / f"table3_{c}.png", category="Table 3", caption="../report/table3.rst")
            for c in T3_CATEGORIES
        ],
    log:
        RESULTS / "logs" / "table3" / "table3.log",
    conda:
        DIST_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        categories=T3_CATEGORIES,
        methods=T3_METHODS,
        instances=[table3_instances(c) for c in T3_CATEGORIES],
        prior_dirs=[str(prior_dir(c)) for c in T3_CATEGORIES],
        pmo_dirs=[str(table3_pmo_dir(c)) for c in T3_CATEGORIES],
        settings=_table3_settings(),
        seed=config["seed"],
    script:
        "../scripts/table3.py"


rule table3_robustness:
    """Paper Fig. 10: focal-length shift of the test images and noise on PMO's encoder code (optional target)."""
    input:
        config_check("table3"),
        table3_list_check,
        views=[
            data_multi_view(c, i) for c in T3_CATEGORIES for i in table3_instances(c)[: T3["robustness"]["instances"]]
        ],
        priors=[prior_files(c) for c in T3_CATEGORIES],
        pmo=[table3_pmo_dir(c) / "specs.json" for c in T3_CATEGORIES],
    output:
        csv=report(RESULTS / "table3_robustness.csv", category="Table 3", caption="../report/table3.rst"),
    log:
        RESULTS / "logs" / "table3" / "robustness.log",
    benchmark:
        RESULTS / "benchmarks" / "table3_robustness.tsv"
    conda:
        DIST_ENV
    threads: T3["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=240),
    params:
        categories=T3_CATEGORIES,
        instances=[table3_instances(c)[: T3["robustness"]["instances"]] for c in T3_CATEGORIES],
        prior_dirs=[str(prior_dir(c)) for c in T3_CATEGORIES],
        pmo_dirs=[str(table3_pmo_dir(c)) for c in T3_CATEGORIES],
        settings=_table3_settings(robustness=True),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table3_robustness.py"
