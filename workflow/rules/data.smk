# Data: the embedded procedural dataset (data.source: synthetic) written in the real formats, or the real
# datasets (data.source: shapenet, config/shapenet.yaml); then the inputs of the fitting stage, one HDF5 per
# instance and input kind, each made by its own job.
#
# A table asks for the inputs of its own instances only, and nothing here reads a dataset while the DAG is
# built: the instance lists (split files, PMO's test list) are read by input functions, that is only for the
# targets that need them. `snakemake table1` needs no dataset at all, `snakemake table2` no PMO data.
#
# One job per instance: an instance whose files are missing or malformed gets a skip record in place of its
# input (dist_core.data.inputs.prepare_instance) and costs that instance only; a job never deletes another
# instance's finished input. The price is the start-up of each job (about 3 s of imports against 0.05 to 0.5 s
# of work); on a cluster, `--groups data_single_view=data --group-components data=<n>` packs them.
#
# Helpers for other rule files:
#   data_split_file(category, split)     DeepSDF split JSON (train / test): a path, nothing is read
#   data_instances(category, split)      instance ids of a split (reads the split file: input functions only)
#   data_single_view(category, instance) results/.../single_view.h5 (Table 2 input)
#   data_pmo_instances(category)         instances of the multi-view experiment (reads PMO's test list for
#                                        real data: input functions only)
#   data_pmo_listing(categories)         the same while the DAG is built, without failing when PMO's data
#                                        are absent (see its docstring)
#   data_multi_view(category, instance)  results/.../multi_view.h5 (Table 3 input)
from dist_core.data import deepsdf as _deepsdf
from dist_core.data import inputs as _inputs
from dist_core.data import pmo as _pmo
from dist_core.data import shapenet as _shapenet
from dist_core.data import synthetic as _synthetic
from dist_core.data.embedded import split_file as _split_file
from dist_core.data.errors import DataError as _DataError


def _with_results(value):
    """Config paths may start with {results}: the run's results folder (config key `results`)."""
    if isinstance(value, dict):
        return {k: _with_results(v) for k, v in value.items()}
    return value.replace("{results}", str(RESULTS)) if isinstance(value, str) else value


DATA = _with_results(config["data"])
DATA_JSON = json.dumps(DATA, sort_keys=True)
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
    sources = _inputs.single_view_sources(DATA["shapenet_root"], DATA["r2n2_root"], DATA["deepsdf_dir"],
                                          DATA["dataset"], wildcards.synset, wildcards.instance)
    return [data_split_file(category, "test"), *_existing(sources)]


def _multi_view_inputs(wildcards):
    category = _shapenet.category_of(wildcards.synset)
    if DATA_SYNTHETIC:
        return [data_split_file(category, "test"), _pmo.camera_path(DATA["pmo_root"]),
                _pmo_file("sequence", category, wildcards.instance), _pmo_file("points", category, wildcards.instance)]
    sources = _inputs.multi_view_sources(DATA["pmo_root"], DATA["deepsdf_dir"], DATA["dataset"], wildcards.synset,
                                         wildcards.instance)
    return [_pmo.list_path(DATA["pmo_root"]), *_existing(sources)]


def _data_settings(*keys):
    """The data keys a rule reads, as JSON: editing another key does not rerun it."""
    return json.dumps({k: DATA[k] for k in keys}, sort_keys=True)


if DATA_SYNTHETIC:
    for _category in DATA["categories"]:

        rule:
            name:
                f"data_generate_{_category}"
            output:
                train=data_split_file(_category, "train"),
                test=data_split_file(_category, "test"),
            params:
                category=_category,
                data=lambda wildcards: DATA_JSON,
                seed=config["seed"],
            threads: 1
            resources:
                mem_mb=1500,
                runtime=30,
            log:
                _data_log(f"generate_{_category}"),
            benchmark:
                RESULTS / "benchmarks" / f"data_generate_{_category}.tsv"
            script:
                "../scripts/data_generate.py"

    rule data_pmo_index:
        output:
            cameras=_pmo.camera_path(DATA["pmo_root"]),
            test_list=_pmo.list_path(DATA["pmo_root"]),
        params:
            pmo=json.dumps(DATA["pmo"], sort_keys=True),
            entries=[(_shapenet.synset_of(c), i) for c in DATA["pmo"]["categories"] for i in data_pmo_instances(c)],
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        log:
            _data_log("pmo_index"),
        script:
            "../scripts/data_pmo_index.py"

    for _category in DATA["pmo"]["categories"]:

        rule:
            name:
                f"data_pmo_sequences_{_category}"
            input:
                split=data_split_file(_category, "test"),
                cameras=_pmo.camera_path(DATA["pmo_root"]),
            output:
                sequences=[_pmo_file("sequence", _category, i) for i in data_pmo_instances(_category)],
                points=[_pmo_file("points", _category, i) for i in data_pmo_instances(_category)],
            params:
                category=_category,
                instances=data_pmo_instances(_category),
                data=lambda wildcards: DATA_JSON,
                seed=config["seed"],
            threads: 1
            resources:
                mem_mb=2000,
                runtime=30,
            log:
                _data_log(f"pmo_sequences_{_category}"),
            benchmark:
                RESULTS / "benchmarks" / f"data_pmo_sequences_{_category}.tsv"
            script:
                "../scripts/data_pmo_sequences.py"


rule data_single_view:
    input:
        _single_view_inputs,
    output:
        _inputs.single_view_path(DATA["inputs"], "{synset}", "{instance}"),
    wildcard_constraints:
        synset=_synsets(DATA["categories"]),
        instance="[0-9A-Za-z_-]+",
    params:
        category=lambda wildcards: _shapenet.category_of(wildcards.synset),
        data=_data_settings("shapenet_root", "r2n2_root", "deepsdf_dir", "dataset", "single_view"),
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    log:
        RESULTS / "logs" / "data" / "single_view" / "{synset}" / "{instance}.log",
    benchmark:
        RESULTS / "benchmarks" / "data_single_view" / "{synset}" / "{instance}.tsv"
    script:
        "../scripts/data_single_view.py"


rule data_multi_view:
    input:
        _multi_view_inputs,
    output:
        _inputs.multi_view_path(DATA["inputs"], "{synset}", "{instance}"),
    wildcard_constraints:
        synset=_synsets(DATA["pmo"]["categories"]),
        instance="[0-9A-Za-z_-]+",
    params:
        category=lambda wildcards: _shapenet.category_of(wildcards.synset),
        data=_data_settings("source", "pmo_root", "deepsdf_dir", "dataset", "pmo"),
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        RESULTS / "logs" / "data" / "multi_view" / "{synset}" / "{instance}.log",
    benchmark:
        RESULTS / "benchmarks" / "data_multi_view" / "{synset}" / "{instance}.tsv"
    script:
        "../scripts/data_multi_view.py"


def _all_data(wildcards):
    files = [data_split_file(c, s) for c in DATA["categories"] for s in ("train", "test")]
    files += [data_single_view(c, i) for c in DATA["categories"] for i in data_instances(c, "test")]
    return files + [data_multi_view(c, i) for c in DATA["pmo"]["categories"] for i in data_pmo_instances(c)]


rule data:
    """Every input of data.categories' test splits and of data.pmo's instances (the tables prepare their own)."""
    input:
        config_check("data"),
        _all_data,
