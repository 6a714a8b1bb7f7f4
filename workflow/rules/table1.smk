# Table 1: the renderer's efficiency ablation (paper Table 1), on the fixed sphere scene of issue 2 and
# on a decoder of DeepSDF's architecture fitted to a procedural chair.
# The fit's own settings are the decoder rule's param, so editing the benchmark (resolution, perturbation)
# does not refit the decoder.
T1_FIT_KEYS = ("dims", "latent_size", "fit_iterations", "fit_batch", "fit_lr")


rule table1_decoder:
    output:
        specs=RESULTS / "table1" / "decoder" / "specs.json",
    log:
        RESULTS / "logs" / "table1_decoder.log",
    benchmark:
        RESULTS / "benchmarks" / "table1_decoder.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=60),
    params:
        settings=json.dumps({k: config["table1"]["decoder"][k] for k in T1_FIT_KEYS}, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table1_decoder.py"


rule table1:
    input:
        decoder=rules.table1_decoder.output.specs,
    output:
        csv=report(RESULTS / "table1.csv", category="Table 1", caption="../report/table1.rst"),
        markdown=report(RESULTS / "table1.md", category="Table 1", caption="../report/table1.rst"),
    log:
        RESULTS / "logs" / "table1.log",
    benchmark:
        RESULTS / "benchmarks" / "table1.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=32000, runtime=120),
    params:
        settings=config_json("table1"),
        renderer=config_json("renderer"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/table1.py"
