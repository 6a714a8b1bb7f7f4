# Shape priors: a DeepSDF auto-decoder per category (dist_core.prior), and their quality report.
#
# The tables read the priors of `priors.source`:
#   shipped      resources/priors/<category>: committed to the repository; no rule writes them, so a fresh
#                clone (whatever its file timestamps) never retrains;
#   trained      results/priors/<category>: written by `snakemake priors` (one job per category, resumable from
#                its last snapshot after a kill); the tables then depend on them;
#   experiments  priors.experiments[<category>]: DeepSDF experiment folders as DeepSDF's train_deep_sdf.py
#                leaves them (examples/sofas, ...); no rule writes them; without a MeanLatent.pth the mean of
#                their LatentCodes starts Table 2 (dist_core.prior.load_mean_latent).
rule prior_train:
    input:
        config_check("priors"),
        split=lambda wildcards: data_split_file(wildcards.category, "train"),
        test_split=lambda wildcards: data_split_file(wildcards.category, "test"),
    output:
        # Only files written once training has finished: snapshots are not outputs, so Snakemake neither
        # deletes them before a rerun nor after a kill, and the job resumes from them.
        provenance=PRIORS_TRAINED / "{category}" / _PROVENANCE_FILE,
        mean_latent=PRIORS_TRAINED / "{category}" / _MEAN_LATENT_FILE,
    log:
        RESULTS / "logs" / "priors" / "{category}.log",
    benchmark:
        RESULTS / "benchmarks" / "prior_train_{category}.tsv"
    wildcard_constraints:
        category="|".join(PRIORS["categories"]),
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=240),
    params:
        priors=_prior_settings(),
        data_dir=DATA["deepsdf_dir"],
        device=config["device"],
    script:
        "../scripts/prior_train.py"


rule priors:
    input:
        [PRIORS_TRAINED / c / _PROVENANCE_FILE for c in PRIORS["categories"]],


rule prior_report:
    input:
        config_check("priors"),
        # Input functions: a category without a split or a prior fails this target only.
        priors=lambda wildcards: [f for c in PRIORS["categories"] for f in prior_files(c)],
        splits=lambda wildcards: [data_split_file(c, s) for c in PRIORS["categories"] for s in ("train", "test")],
    output:
        csv=report(RESULTS / "priors" / "quality.csv", category="Shape priors", caption="../report/priors.rst"),
        per_shape=report(
            RESULTS / "priors" / "quality_per_shape.csv", category="Shape priors", caption="../report/priors.rst"
        ),
        picture=report(
            RESULTS / "priors" / "reconstructions.png", category="Shape priors", caption="../report/priors.rst"
        ),
    log:
        RESULTS / "logs" / "priors" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "prior_report.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=120),
    params:
        categories=PRIORS["categories"],
        prior_dirs=lambda wildcards: [str(prior_dir(c)) for c in PRIORS["categories"]],
        report=json.dumps(PRIORS["report"], sort_keys=True),
        data=_data_settings("deepsdf_dir", "shapenet_root", "splits", "dataset"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/prior_report.py"
