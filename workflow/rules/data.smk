# Data: the embedded procedural dataset (data.source: synthetic) written in the real formats, or the real
# datasets (data.source: shapenet, config/shapenet.yaml); then the inputs of the fitting stage, one HDF5 per
# instance and input kind. One job per category: per-instance jobs would spend more time importing than
# working (about 3 s of start-up against 0.05 s of ray casting per instance).
#
# Helpers for other rule files:
#   data_split_file(category, split)     DeepSDF split JSON (train / test)
#   data_instances(category, split)      instance ids of a split, known when the DAG is built
#   data_single_view(category, instance) results/.../single_view.h5 (Table 2 input)
#   data_pmo_instances(category)         instances of the multi-view experiment
#   data_multi_view(category, instance)  results/.../multi_view.h5 (Table 3 input)
from dist_core.data import deepsdf as _deepsdf
from dist_core.data import pmo as _pmo
from dist_core.data import shapenet as _shapenet
from dist_core.data import synthetic as _synthetic
from dist_core.data.embedded import split_file as _split_file
from dist_core.data.inputs import multi_view_path as _multi_view_path
from dist_core.data.inputs import single_view_path as _single_view_path

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
    path = data_split_file(category, split)
    return [i for _, _, i in _deepsdf.split_instances(_deepsdf.read_split(path), _shapenet.synset_of(category))]


def data_single_view(category, instance):
    return _single_view_path(DATA["inputs"], _shapenet.synset_of(category), instance)


def data_pmo_instances(category):
    if DATA_SYNTHETIC:
        ids = data_instances(category, "test")
    else:
        ids = [m for _, m in _pmo.read_test_list(DATA["pmo_root"], _shapenet.synset_of(category))]
    count = DATA["pmo"].get("instances_per_category")
    return ids if count is None else ids[:count]


def data_multi_view(category, instance):
    return _multi_view_path(DATA["inputs"], _shapenet.synset_of(category), instance)


def _data_log(name):
    return RESULTS / "logs" / "data" / f"{name}.log"


def _pmo_file(kind, category, instance):
    synset = _shapenet.synset_of(category)
    return (_pmo.sequence_path if kind == "sequence" else _pmo.points_path)(DATA["pmo_root"], synset, instance)


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


for _category in DATA["categories"]:

    rule:
        name:
            f"data_single_view_{_category}"
        input:
            split=data_split_file(_category, "test"),
        output:
            [data_single_view(_category, i) for i in data_instances(_category, "test")],
        params:
            category=_category,
            instances=data_instances(_category, "test"),
            data=lambda wildcards: DATA_JSON,
            seed=config["seed"],
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        log:
            _data_log(f"single_view_{_category}"),
        benchmark:
            RESULTS / "benchmarks" / f"data_single_view_{_category}.tsv"
        script:
            "../scripts/data_single_view.py"


for _category in DATA["pmo"]["categories"]:

    rule:
        name:
            f"data_multi_view_{_category}"
        input:
            sequences=[_pmo_file("sequence", _category, i) for i in data_pmo_instances(_category)],
            cameras=_pmo.camera_path(DATA["pmo_root"]),
        output:
            [data_multi_view(_category, i) for i in data_pmo_instances(_category)],
        params:
            category=_category,
            instances=data_pmo_instances(_category),
            data=lambda wildcards: DATA_JSON,
            seed=config["seed"],
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        log:
            _data_log(f"multi_view_{_category}"),
        benchmark:
            RESULTS / "benchmarks" / f"data_multi_view_{_category}.tsv"
        script:
            "../scripts/data_multi_view.py"


rule data:
    input:
        config_check("data"),
        [data_split_file(c, s) for c in DATA["categories"] for s in ("train", "test")],
        [data_single_view(c, i) for c in DATA["categories"] for i in data_instances(c, "test")],
        [data_multi_view(c, i) for c in DATA["pmo"]["categories"] for i in data_pmo_instances(c)],
