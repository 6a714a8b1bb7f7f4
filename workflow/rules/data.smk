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
if DATA_SYNTHETIC:
    for _category in DATA["categories"]:

        rule:
            name:
                f"data_generate_{_category}"
            output:
                train=data_split_file(_category, "train"),
                test=data_split_file(_category, "test"),
            log:
                _data_log(f"generate_{_category}"),
            benchmark:
                RESULTS / "benchmarks" / f"data_generate_{_category}.tsv"
            conda:
                DIST_ENV
            threads: 1
            resources:
                mem_mb=1500,
                runtime=30,
            params:
                category=_category,
                data=_data_settings(*_LAYOUT_KEYS, "synthetic"),
                seed=config["seed"],
            script:
                "../scripts/data_generate.py"

    rule data_pmo_index:
        output:
            cameras=_pmo.camera_path(DATA["pmo_root"]),
            test_list=_pmo.list_path(DATA["pmo_root"]),
        log:
            _data_log("pmo_index"),
        conda:
            DIST_ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            pmo=json.dumps(
                {k: v for k, v in DATA["pmo"].items() if k not in ("categories", "instances_per_category")},
                sort_keys=True,
            ),
            entries=[(_shapenet.synset_of(c), i) for c in DATA["pmo"]["categories"] for i in data_pmo_instances(c)],
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
            log:
                _data_log(f"pmo_sequences_{_category}"),
            benchmark:
                RESULTS / "benchmarks" / f"data_pmo_sequences_{_category}.tsv"
            conda:
                DIST_ENV
            threads: 1
            resources:
                mem_mb=2000,
                runtime=30,
            params:
                category=_category,
                instances=data_pmo_instances(_category),
                data=_data_settings(*_LAYOUT_KEYS, pmo=("resolution", "points")),
                seed=config["seed"],
            script:
                "../scripts/data_pmo_sequences.py"


rule data_single_view:
    input:
        _single_view_inputs,
    output:
        _inputs.single_view_path(DATA["inputs"], "{synset}", "{instance}"),
    log:
        RESULTS / "logs" / "data" / "single_view" / "{synset}" / "{instance}.log",
    benchmark:
        RESULTS / "benchmarks" / "data_single_view" / "{synset}" / "{instance}.tsv"
    wildcard_constraints:
        synset=_synsets(DATA["categories"]),
        instance="[0-9A-Za-z_-]+",
    conda:
        DIST_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        category=lambda wildcards: _shapenet.category_of(wildcards.synset),
        data=_data_settings("shapenet_root", "r2n2_root", "deepsdf_dir", "dataset", "single_view"),
        seed=config["seed"],
    script:
        "../scripts/data_single_view.py"


rule data_multi_view:
    input:
        _multi_view_inputs,
    output:
        _inputs.multi_view_path(DATA["inputs"], "{synset}", "{instance}"),
    log:
        RESULTS / "logs" / "data" / "multi_view" / "{synset}" / "{instance}.log",
    benchmark:
        RESULTS / "benchmarks" / "data_multi_view" / "{synset}" / "{instance}.tsv"
    wildcard_constraints:
        synset=_synsets(DATA["pmo"]["categories"]),
        instance="[0-9A-Za-z_-]+",
    conda:
        DIST_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        category=lambda wildcards: _shapenet.category_of(wildcards.synset),
        data=_data_settings("source", "pmo_root", "deepsdf_dir", "dataset", pmo=("canonical_frame",)),
        seed=config["seed"],
    script:
        "../scripts/data_multi_view.py"


rule data:
    """Every input of data.categories' test splits and of data.pmo's instances (the tables prepare their own)."""
    input:
        config_check("data"),
        _all_data,
