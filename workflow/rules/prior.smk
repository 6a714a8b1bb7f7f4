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
# Helpers for other rule files:
#   prior_dir(category)     the DeepSDF experiment folder the tables load (dist_core.prior.load_prior)
#   prior_files(category)   input files that make a rule depend on that prior
from dist_core.decoder import LATENT_CODES_DIR as _LATENT_CODES_DIR
from dist_core.decoder import MODEL_PARAMS_DIR as _MODEL_PARAMS_DIR
from dist_core.decoder import SPECS_FILE as _SPECS_FILE
from dist_core.prior import MEAN_LATENT_FILE as _MEAN_LATENT_FILE
from dist_core.prior import PROVENANCE_FILE as _PROVENANCE_FILE

PRIORS = config["priors"]
if PRIORS["source"] not in ("shipped", "trained", "experiments"):
    raise ValueError(f"config priors.source must be 'shipped', 'trained' or 'experiments', got {PRIORS['source']!r}")
PRIORS_TRAINED = RESULTS / "priors"


def prior_dir(category):
    if PRIORS["source"] == "shipped":
        return Path(PRIORS["shipped_dir"]) / category
    if PRIORS["source"] == "experiments":
        experiments = PRIORS.get("experiments") or {}
        if category not in experiments:
            raise ValueError(f"config priors.experiments has no folder for {category!r}: add "
                             f"`{category}: <DeepSDF experiment folder>` (DeepSDF names them examples/{category}s)")
        return Path(experiments[category])
    return PRIORS_TRAINED / category


def prior_files(category):
    folder = prior_dir(category)
    if PRIORS["source"] == "trained":
        # Written last by prior_train: their presence means the whole experiment folder is complete.
        return [folder / _PROVENANCE_FILE, folder / _MEAN_LATENT_FILE]
    mean = folder / _MEAN_LATENT_FILE
    if PRIORS["source"] == "experiments" and not mean.is_file():
        mean = folder / _LATENT_CODES_DIR / "latest.pth"
    return [folder / _SPECS_FILE, folder / _MODEL_PARAMS_DIR / "latest.pth", mean]


def _prior_settings():
    """The training settings without the report's: editing the report does not retrain."""
    return json.dumps({k: v for k, v in PRIORS.items() if k not in ("source", "shipped_dir", "experiments", "report")},
                      sort_keys=True)


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
    wildcard_constraints:
        category="|".join(PRIORS["categories"]),
    params:
        priors=_prior_settings(),
        data_dir=DATA["deepsdf_dir"],
        device=config["device"],
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=240),
    log:
        RESULTS / "logs" / "priors" / "{category}.log",
    benchmark:
        RESULTS / "benchmarks" / "prior_train_{category}.tsv"
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
        per_shape=report(RESULTS / "priors" / "quality_per_shape.csv", category="Shape priors",
                         caption="../report/priors.rst"),
        picture=report(RESULTS / "priors" / "reconstructions.png", category="Shape priors",
                       caption="../report/priors.rst"),
    params:
        categories=PRIORS["categories"],
        prior_dirs=lambda wildcards: [str(prior_dir(c)) for c in PRIORS["categories"]],
        report=json.dumps(PRIORS["report"], sort_keys=True),
        data=lambda wildcards: json.dumps(DATA, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=120),
    log:
        RESULTS / "logs" / "priors" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "prior_report.tsv"
    script:
        "../scripts/prior_report.py"
