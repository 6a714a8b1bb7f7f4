# Config access, paths and helpers of every rule file (the rule files hold only rules, as Snakemake's linter
# asks). Logic lives in dist_core; this file only names paths and options.
import json
from pathlib import Path

from dist_core.config_checks import raise_problems as raise_config_problems
from dist_core.baselines.pmo_train import training_settings as _pmo_training_settings
from dist_core.data import deepsdf as _deepsdf
from dist_core.data import inputs as _inputs
from dist_core.data import pmo as _pmo
from dist_core.data import shapenet as _shapenet
from dist_core.data import synthetic as _synthetic
from dist_core.data.embedded import LAYOUT_KEYS as _LAYOUT_KEYS
from dist_core.data.embedded import split_file as _split_file
from dist_core.data.errors import DataError as _DataError
from dist_core.decoder import LATENT_CODES_DIR as _LATENT_CODES_DIR
from dist_core.decoder import MODEL_PARAMS_DIR as _MODEL_PARAMS_DIR
from dist_core.decoder import SPECS_FILE as _SPECS_FILE
from dist_core.prior import MEAN_LATENT_FILE as _MEAN_LATENT_FILE
from dist_core.prior import PROVENANCE_FILE as _PROVENANCE_FILE

RESULTS = Path(config.get("results", "results"))
# The software of every rule that runs code (`--software-deployment-method conda`); relative to the rule files.
DIST_ENV = "../envs/dist.yaml"


def config_json(section):
    """A config section as canonical JSON: passed as a param, so editing it reruns the rule."""
    return json.dumps(config[section], sort_keys=True)


def config_check(family):
    """An input function for the rules of a family of targets (dist_core.config_checks.TARGETS): no inputs,
    or the ConfigError that names each key to fix, raised when one of those rules is in the DAG, before any
    job runs."""

    def check(wildcards):
        return raise_config_problems(CONFIG_PROBLEMS, family)

    return check


# Resources follow the rule, whatever its wildcards: a rule whose jobs run the renderer or train a network
# declares `resources: **gpu_job(...)`, any other rule its `mem_mb` and `runtime` (minutes). Locally Snakemake
# counts them only against --resources (`--resources gpu=1` runs one GPU job at a time); on a cluster they
# place the job: profiles/slurm names its GPU partition as the default resource `gpu_partition`, which GPU jobs
# take as their slurm_partition, while every other job keeps the profile's slurm_partition.
def shipped_folder(path):
    """A folder shipped with the repository (priors.shipped_dir, table3.pmo.shipped_dir): a relative path is
    relative to the repository, so that `--directory` elsewhere still finds it."""
    return Path(workflow.basedir) / path


def input_folder(key):
    """A param function: the folder that holds the first file of the rule's input `key` (a prior's or a model's
    folder, derived from the inputs as Snakemake's linter asks of paths)."""
    return lambda wildcards, input: str(Path(getattr(input, key)[0]).parent)


def _profile_default_resource(name):
    """A default resource set by the profile or --default-resources, as a string; None when unset."""
    defaults = workflow.resource_settings.default_resources
    resource = defaults.get(name) if defaults is not None else None
    return None if resource is None else str(resource.raw).strip("'\"")


GPU_PARTITION = _profile_default_resource("gpu_partition")


def gpu_job(mem_mb, runtime, gpus=1):
    """Resources of a job that runs the renderer or trains a network: `gpus` GPUs (0: none counted, e.g. jobs
    that share one GPU), `mem_mb` MB of memory, `runtime` minutes; with a gpu_partition, that partition and
    at least one GPU."""
    resources = {"mem_mb": mem_mb, "runtime": runtime, "gpu": gpus}
    if GPU_PARTITION:
        resources.update(slurm_partition=GPU_PARTITION, gpu=max(1, gpus))
    return resources


# ---- Data (rules: data.smk) ----
# Helpers:
#   data_split_file(category, split)     DeepSDF split JSON (train / test): a path, nothing is read
#   data_instances(category, split)      instance ids of a split (reads the split file: input functions only)
#   data_single_view(category, instance) results/.../single_view.h5 (Table 2 input)
#   data_pmo_instances(category)         instances of the multi-view experiment (reads PMO's test list for
#                                        real data: input functions only)
#   data_pmo_listing(categories)         the same while the DAG is built, without failing when PMO's data
#                                        are absent (see its docstring)
#   data_multi_view(category, instance)  results/.../multi_view.h5 (Table 3 input)


def _with_results(value):
    """Config paths may start with {results}: the run's results folder (config key `results`)."""
    if isinstance(value, dict):
        return {k: _with_results(v) for k, v in value.items()}
    return value.replace("{results}", str(RESULTS)) if isinstance(value, str) else value


DATA = _with_results(config["data"])
DATA_SYNTHETIC = DATA["source"] == "synthetic"
if DATA["source"] not in ("synthetic", "shapenet"):
    raise ValueError(f"config data.source must be 'synthetic' or 'shapenet', got {DATA['source']!r}")


def data_split_file(category, split):
    return _split_file(DATA["splits"], category, split)


def data_instances(category, split):
    if DATA_SYNTHETIC:
        return _synthetic.instance_ids(config["seed"], category, split, DATA["synthetic"][f"{split}_per_category"])
    return _deepsdf.split_ids(data_split_file(category, split), _shapenet.synset_of(category))


def data_single_view(category, instance):
    return _inputs.single_view_path(DATA["inputs"], _shapenet.synset_of(category), instance)


def data_pmo_instances(category):
    if DATA_SYNTHETIC:
        ids = data_instances(category, "test")
    else:
        ids = [m for _, m in _pmo.read_test_list(DATA["pmo_root"], _shapenet.synset_of(category))]
    count = DATA["pmo"].get("instances_per_category")
    return ids if count is None else ids[:count]


def data_pmo_listing(categories):
    """``({category: instances}, error)`` for rule files whose jobs name instances among their outputs, which
    Snakemake needs while it builds the DAG (Table 3's jobs per category and method): PMO's test list is
    read then, and when it cannot be (no PMO data on this machine) every category lists no instance and
    ``error`` is the DataError that names the file, for the targets that need it to raise."""
    try:
        return {c: data_pmo_instances(c) for c in categories}, None
    except _DataError as error:
        return {c: [] for c in categories}, error


def data_multi_view(category, instance):
    return _inputs.multi_view_path(DATA["inputs"], _shapenet.synset_of(category), instance)


def _data_log(name):
    return RESULTS / "logs" / "data" / f"{name}.log"


def _pmo_file(kind, category, instance):
    synset = _shapenet.synset_of(category)
    return (_pmo.sequence_path if kind == "sequence" else _pmo.points_path)(DATA["pmo_root"], synset, instance)


def _synsets(categories):
    return "|".join(_shapenet.synset_of(c) for c in categories) or "(?!)"  # (?!): no category, no match


def _existing(paths):
    """The real dataset's files of an instance that exist. They are inputs so that a replaced or newly added
    file reruns its instance; a missing one is not, since a missing input would stop the whole workflow
    where the job records the instance as skipped. The embedded data's files are written by the
    data_generate rules, which their split files stand for."""
    return [] if DATA_SYNTHETIC else [p for p in paths if Path(p).is_file()]


def _single_view_inputs(wildcards):
    category = _shapenet.category_of(wildcards.synset)
    sources = _inputs.single_view_sources(
        DATA["shapenet_root"],
        DATA["r2n2_root"],
        DATA["deepsdf_dir"],
        DATA["dataset"],
        wildcards.synset,
        wildcards.instance,
    )
    return [data_split_file(category, "test"), *_existing(sources)]


def _multi_view_inputs(wildcards):
    category = _shapenet.category_of(wildcards.synset)
    if DATA_SYNTHETIC:
        return [
            data_split_file(category, "test"),
            _pmo.camera_path(DATA["pmo_root"]),
            _pmo_file("sequence", category, wildcards.instance),
            _pmo_file("points", category, wildcards.instance),
        ]
    sources = _inputs.multi_view_sources(
        DATA["pmo_root"], DATA["deepsdf_dir"], DATA["dataset"], wildcards.synset, wildcards.instance
    )
    return [_pmo.list_path(DATA["pmo_root"]), *_existing(sources)]


def _data_settings(*keys, pmo=None):
    """The data keys that a rule reads (and those of data.pmo in `pmo`) as JSON; editing another key does not
    rerun it. A param function."""
    settings = {k: DATA[k] for k in keys}
    if pmo is not None:
        settings["pmo"] = {k: DATA["pmo"][k] for k in pmo}
    text = json.dumps(settings, sort_keys=True)
    # A function: Snakemake would read the {category} of a split-file pattern in a param string as a wildcard.
    return lambda wildcards: text


def _all_data(wildcards):
    files = [data_split_file(c, s) for c in DATA["categories"] for s in ("train", "test")]
    files += [data_single_view(c, i) for c in DATA["categories"] for i in data_instances(c, "test")]
    return files + [data_multi_view(c, i) for c in DATA["pmo"]["categories"] for i in data_pmo_instances(c)]


# ---- Shape priors (rules: prior.smk) ----
# Helpers:
#   prior_dir(category)     the DeepSDF experiment folder the tables load (dist_core.prior.load_prior)
#   prior_files(category)   input files that make a rule depend on that prior

PRIORS = config["priors"]
if PRIORS["source"] not in ("shipped", "trained", "experiments"):
    raise ValueError(f"config priors.source must be 'shipped', 'trained' or 'experiments', got {PRIORS['source']!r}")
PRIORS_TRAINED = RESULTS / "priors"


def prior_dir(category):
    if PRIORS["source"] == "shipped":
        return shipped_folder(PRIORS["shipped_dir"]) / category
    if PRIORS["source"] == "experiments":
        experiments = PRIORS.get("experiments") or {}
        if category not in experiments:
            # Reported by the config check of each target that needs it (dist_core.config_checks), before any
            # job runs; the targets that do not need this category run.
            return Path(f"priors.experiments has no {category}")
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
    """The training settings of one prior: editing the report, the source or the list of categories does not
    retrain."""
    skip = ("source", "shipped_dir", "experiments", "categories", "report")
    return json.dumps({k: v for k, v in PRIORS.items() if k not in skip}, sort_keys=True)


# ---- Table 2 (rules: table2.smk) ----
T2 = config["table2"]


def table2_instances(category):
    return data_instances(category, "test")[: T2["instances"]]


def table2_result(category, instance):
    return RESULTS / "table2" / category / f"{instance}.h5"


def _table2_params():
    """Everything an instance's numbers depend on, as JSON: editing it reruns the instance jobs."""
    keys = ("settings", "methods", "ours", "deepsdf", "renderer", "batch_render", "mesh_resolution", "chamfer_samples")
    return json.dumps({k: T2[k] for k in keys}, sort_keys=True)


def _curve_instance():
    return table2_instances(T2["curve"]["category"])[T2["curve"]["instance"]]


# ---- Table 3 (rules: table3.smk) ----
T3 = config["table3"]
T3_DIR = RESULTS / "table3"
T3_METHODS = list(T3["methods"])
if T3["pmo"]["source"] not in ("trained", "shipped"):
    raise ValueError(f"config table3.pmo.source must be 'trained' or 'shipped', got {T3['pmo']['source']!r}")
# A category without multi-view data is an error only when a Table 3 target is asked for (config_check): a
# config that trims data.pmo.categories (a quick data or Table 2 run) must still parse.
T3_CATEGORIES = [c for c in T3["categories"] if c in DATA["pmo"]["categories"]]


# Each (category, method) job names its instances among its outputs, so PMO's test list is read while the DAG is
# built; without PMO data no category lists an instance and only the Table 3 targets fail (table3_list_check).
T3_LISTED, T3_LIST_ERROR = data_pmo_listing(T3_CATEGORIES)


def table3_instances(category):
    return T3_LISTED[category][: T3["instances"]]


def table3_list_check(wildcards=None):
    """Input function of the Table 3 targets: no inputs, or the error that names PMO's unreadable test list."""
    if T3_LIST_ERROR is not None:
        raise T3_LIST_ERROR
    return []


def table3_pmo_dir(category):
    if T3["pmo"]["source"] == "shipped":
        return shipped_folder(T3["pmo"]["shipped_dir"]) / category
    return T3_DIR / "pmo" / category


def table3_result(category, method, instance):
    return T3_DIR / category / method / f"{instance}.h5"


def _table3_settings(robustness=False):
    """The table3 section with the renderer overrides applied: a param, so edits rerun the fits (the
    robustness plan only reruns its own rule)."""
    # Which jobs exist (categories, methods, instances) and how many threads they get are not settings.
    skip = {"categories", "methods", "instances", "threads"} | (set() if robustness else {"robustness"})
    settings = {k: v for k, v in T3.items() if k not in skip}
    return json.dumps({**settings, "renderer": {**config["renderer"], **T3.get("renderer", {})}}, sort_keys=True)


# ---- The report (rules: report.smk) ----
REPORT = config.get("report", {})


def report_targets(wildcards=None):
    """The final outputs of every table, demo and figure the workflow defines, and the tables' HTML pages (but
    the timings'). An input function: it runs once every rule file is included, whatever their order."""
    targets = [*rules.convergence_figure.output, *rules.demos.input, *rules.prior_report.output]
    for name in ("table1", "table2", "table3"):
        if workflow.is_rule(name):
            table = workflow.get_rule(name)
            targets += list(table.output) or list(table.input)
    return targets + [report_table_page(name) for name in REPORT_TABLES if name != "timings"]


# name of the page: (rule and output key of its CSV, report category, title, caption saying the units)
REPORT_TABLES = {
    "table1": (
        ("table1", "csv"),
        "Table 1",
        "Table 1: the sphere tracer's efficiency",
        "network queries counted per rendering (forward, backward, per pixel), seconds of wall time for the "
        "trace and for one optimisation step (forward, backward and Adam update), peak memory in MB.",
    ),
    "table2": (
        ("table2_tables", "csv"),
        "Table 2",
        "Table 2: shape completion from one depth image",
        "Chamfer distance x 1000 as DeepSDF computes it (mesh frame, squared distances, both directions "
        "summed): median, mean and the 95 % bootstrap interval of the median per category, setting and "
        "method; seconds and network queries per optimisation step.",
    ),
    "table3": (
        ("table3", "csv"),
        "Table 3",
        "Table 3: shape from multi-view images",
        "Chamfer distances x 1000 (10,000 points each, mean squared nearest-neighbour distance), one row "
        "per category, method and metric: the paper's (ground truth to prediction, PMO's frame), the other "
        "direction (PMO's frame) and ground truth to prediction in the DeepSDF normalised frame; median and "
        "mean with 95 % bootstrap intervals; n, n_failed, n_skipped; seconds per instance and per step; "
        "network queries per step.",
    ),
    "prior_quality": (
        ("prior_report", "csv"),
        "Shape priors",
        "Quality of the shape priors",
        "DeepSDF's Chamfer distance x 1000 between each shape's mesh and its ground-truth surface "
        "samples (squared distances, both directions summed), per category and split; training "
        "time in seconds.",
    ),
    "pmo_quality": (
        ("table3", "pmo_quality"),
        "Table 3",
        "Quality of the PMO baseline's networks",
        "per category: the decoder's autoencoding Chamfer distance x 1000 on training shapes (median, mesh frame, as "
        "the shape priors' table), the encoder's relative code error (squared error over the spread of the training "
        "codes; 0 exact, 1 no better than their mean) and decoded Chamfer x 1000 on held-out views, training epochs "
        "and minutes.",
    ),
    "timings": (
        ("timings", "rules"),
        "Timings",
        "Timings per rule family",
        "jobs, wall time in seconds (total, median, longest job) and peak resident memory in MB, from "
        "Snakemake's benchmark files of this run.",
    ),
}


def report_table_page(name):
    return RESULTS / "report" / f"{name}.html"
