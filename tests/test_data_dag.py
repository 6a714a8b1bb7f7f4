"""A table's DAG needs only its own data: dry runs of config/shapenet.yaml as shipped, on a machine without the
datasets (Table 1), with DeepSDF's files but no PMO data (Table 2), and the error a Table 3 target gives then."""

import re
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from dist_core.data import inputs, shapenet
from dist_core.decoder import Decoder
from realdata_tree import official_specs, write_official_experiment, write_split

REPO = Path(__file__).resolve().parents[1]


def dry_run(workdir, target, *configs):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(REPO / "config" / "config.yaml"), str(REPO / "config" / "shapenet.yaml"),
               *map(str, configs), "--config", f"results={workdir / 'results'}", "--dry-run", "--", target]
    run = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr


def job_counts(log):
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", log[log.index("Job stats:"):], re.M)}


def test_shipped_real_data_config_plans_table1_with_no_dataset_on_disk(tmp_path):
    data = yaml.safe_load((REPO / "config" / "shapenet.yaml").read_text())["data"]
    assert not Path(data["shapenet_root"]).exists()  # as on a machine without the datasets
    code, log = dry_run(tmp_path, "table1")
    assert code == 0, log[-3000:]
    assert not any(name.startswith("data_") for name in job_counts(log))
    # Every split it names is one DeepSDF ships (examples/splits/sv2_<category>s_<split>.json); car has none.
    assert sorted(data["splits"]) == sorted(data["categories"]) and "car" not in data["splits"]
    assert {Path(p).name for s in data["splits"].values() for p in s.values()} == {
        f"sv2_{c}s_{s}.json" for c in ("sofa", "plane", "table", "chair") for s in ("train", "test")}


def test_table2_plans_from_deepsdf_files_without_pmo_data_and_table3_names_what_it_lacks(tmp_path):
    synset = shapenet.synset_of("sofa")
    splits = {split: write_split(tmp_path / "splits" / f"sv2_sofas_{split}.json", "ShapeNetV2", synset, ids)
              for split, ids in (("train", ["sofa-train-0"]), ("test", ["sofa-test-0", "sofa-test-1", "sofa-test-2"]))}
    specs = official_specs(4, [8, 8], "sofa")
    experiment = write_official_experiment(tmp_path / "examples" / "sofas", specs, Decoder.from_specs(specs).state_dict(),
                                           torch.zeros(1, 4))
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({
        "data": {"categories": ["sofa"], "splits": {"sofa": {k: str(v) for k, v in splits.items()}},
                 "pmo_root": str(tmp_path / "no-pmo")},
        "priors": {"categories": ["sofa"], "experiments": {"sofa": str(experiment)}},
        "table2": {"categories": ["sofa"], "instances": 2, "curve": {"category": "sofa", "instance": 1}},
    }))
    code, log = dry_run(tmp_path, "table2", override)
    assert code == 0, log[-3000:]
    counts = job_counts(log)
    assert counts["data_single_view"] == 2 and counts["table2_instance"] == 2  # the first 2 of the split only
    assert "data_multi_view" not in counts
    for instance in ("sofa-test-0", "sofa-test-1"):
        assert str(inputs.single_view_path(tmp_path / "results" / "data" / "inputs", synset, instance)) in log
    assert "sofa-test-2" not in log

    code, log = dry_run(tmp_path, "table3", override)
    assert code != 0
    assert f"{tmp_path / 'no-pmo' / 'lists' / 'all_test.list'}: PMO test list not found" in log
