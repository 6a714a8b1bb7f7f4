# Shape priors: a DeepSDF auto-decoder per category (dist_core.prior), and their quality report.
#
# The tables read the priors of `priors.source`:
#   shipped  resources/priors/<category>: committed to the repository; no rule writes them, so a fresh
#            clone (whatever its file timestamps) never retrains;
#   trained  results/priors/<category>: written by `snakemake priors` (one job per category, resumable from
#            its last snapshot after a kill); the tables then depend on them.
# Helpers for other rule files:
#   prior_dir(category)     the DeepSDF experiment folder the tables load (dist_core.decoder.load_experiment)
#   prior_files(category)   input files that make a rule depend on that prior
from dist_core.prior import MEAN_LATENT_FILE as _MEAN_LATENT_FILE
from dist_core.prior import PROVENANCE_FILE as _PROVENANCE_FILE

PRIORS = config["priors"]
if PRIORS["source"] not in ("shipped", "trained"):
    raise ValueError(f"config priors.source must be 'shipped' or 'trained', got {PRIORS['source']!r}")
PRIORS_TRAINED = RESULTS / "priors"


def prior_dir(category):
    if PRIORS["source"] == "shipped":
        return Path(PRIORS["shipped_dir"]) / category
    return PRIORS_TRAINED / category


def prior_files(category):
    folder = prior_dir(category)
    if PRIORS["source"] == "shipped":
        return [folder / "specs.json", folder / "ModelParameters" / "latest.pth", folder / _MEAN_LATENT_FILE]
    # Written last by prior_train: their presence means the whole experiment folder is complete.
    return [folder / _PROVENANCE_FILE, folder / _MEAN_LATENT_FILE]


def _prior_settings():
    """The training settings without the report's: editing the report does not retrain."""
    return json.dumps({k: v for k, v in PRIORS.items() if k not in ("source", "shipped_dir", "report")},
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
        priors=[prior_files(c) for c in PRIORS["categories"]],
        splits=[data_split_file(c, s) for c in PRIORS["categories"] for s in ("train", "test")],
    output:
        csv=report(RESULTS / "priors" / "quality.csv", category="Shape priors", caption="../report/priors.rst"),
        per_shape=report(RESULTS / "priors" / "quality_per_shape.csv", category="Shape priors",
                         caption="../report/priors.rst"),
        picture=report(RESULTS / "priors" / "reconstructions.png", category="Shape priors",
                       caption="../report/priors.rst"),
    params:
        categories=PRIORS["categories"],
        prior_dirs=[str(prior_dir(c)) for c in PRIORS["categories"]],
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
