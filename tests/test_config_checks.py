"""Relations between config keys (dist_core.config_checks): each mistake is named with its key and fix, at
parse time or when a rule of the family that needs it is in the DAG; `--config` values get their YAML types."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dist_core.config_checks import ConfigError, parse_problems, raise_problems, target_problems, typed_overrides

from workflow_runs import merged, shipped_overrides

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())




def with_values(config, **values):
    """config with dotted keys set: with_values(c, **{"table2.curve.instance": 4})."""
    config = copy.deepcopy(config)
    for dotted, value in values.items():
        node = config
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return config


def test_the_shipped_configurations_have_no_problems():
    default = default_config()
    shapenet = yaml.safe_load((REPO / "config" / "shapenet.yaml").read_text())
    for config in (default, merged(default, shapenet)):
        assert parse_problems(config) == []
        assert target_problems(config) == {family: [] for family in target_problems(config)}


def test_a_curve_instance_past_the_table_is_a_parse_problem():
    problems = parse_problems(with_values(default_config(), **{"table2.curve.instance": 4, "table2.instances": 2}))
    assert problems == ["config table2.curve.instance: 4 is not one of the 2 instances of table2.instances (0 to 1); "
                        "lower it or raise table2.instances"]


@pytest.mark.parametrize("family, values, message", [
    ("table2", {"data.categories": ["sofa", "plane"]},
     "config table2.categories: 'table' is not in data.categories [sofa, plane]; single-view inputs are prepared"),
    ("table2", {"table2.curve.category": "chair"},
     "config table2.curve.category: 'chair' is not in table2.categories [sofa, plane, table]; the curve follows"),
    ("table2", {"table2.settings": ["dense", "5pts"]}, "config table2.settings: '5pts' is not in data.single_view.sparse"),
    ("table2", {"table2.curve.setting": "30pct"}, "config table2.curve.setting: '30pct' is not in data.single_view.sparse"),
    ("table2", {"table2.instances": 1000}, "config table2.instances: 1000 is more than the "),
    ("table2", {"priors.source": "trained", "priors.categories": ["sofa", "plane"]},
     "config table2.categories: 'table' is not in priors.categories [sofa, plane]; with priors.source: trained"),
    ("table3", {"table3.robustness.instances": 9, "table3.instances": 3, "data.pmo.instances_per_category": None},
     "config table3.robustness.instances: 9 is more than the 3 of table3.instances"),
    ("table3", {"table3.categories": ["car", "sofa"]}, "config table3.categories: 'sofa' is not in data.pmo.categories"),
    ("table3", {"table3.instances": 3, "data.pmo.instances_per_category": 2, "table3.robustness.instances": 1},
     "config table3.instances: 3 is more than the 2 sequences of data.pmo.instances_per_category"),
    ("table3", {"data.categories": ["sofa", "plane", "table", "car"]},
     "config data.pmo.categories: 'chair' is not in data.categories [sofa, plane, table, car]"),
    ("demos", {"data.categories": ["sofa"]}, "config demos.color.category: 'chair' is not in data.categories [sofa]"),
    ("demos", {"priors.source": "trained", "priors.categories": ["sofa"]},
     "config demos.camera.category: 'chair' is not in priors.categories [sofa]"),
    ("report", {"priors.source": "trained", "priors.categories": ["sofa"]},
     "config report.convergence.category: 'chair' is not in priors.categories [sofa]"),
    ("priors", {"data.categories": ["sofa"]}, "config priors.categories: 'plane' is not in data.categories [sofa]"),
    ("demos", {"priors.source": "experiments", "priors.experiments": {"sofa": "/x/sofas"}},
     "config demos.camera.category: 'chair' has no DeepSDF experiment in priors.experiments; add `chair: <DeepSDF"),
    ("table2", {"priors.source": "experiments", "priors.experiments": {"sofa": "/x/sofas", "chair": "/x/chairs"}},
     "config table2.categories: 'plane' has no DeepSDF experiment in priors.experiments"),
    ("data", {"data.categories": ["sofa"]}, "config data.pmo.categories: 'plane' is not in data.categories [sofa]"),
])
def test_what_a_family_of_targets_needs_is_named_with_the_key_and_the_fix(family, values, message):
    problems = target_problems(with_values(default_config(), **values))
    assert any(p.startswith(message) for p in problems[family]), problems[family]
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        raise_problems(problems, family)
    assert message in str(error.value)


def test_a_family_with_no_problems_needs_no_inputs_and_an_unknown_family_is_refused():
    problems = target_problems(with_values(default_config(), **{"data.categories": ["sofa"]}))
    assert raise_problems(problems, "report") == []
    with pytest.raises(KeyError, match="unknown family of targets 'tabel2'"):
        raise_problems(problems, "tabel2")


def test_real_data_needs_no_embedded_categories():
    config = with_values(default_config(), **{"data.source": "shapenet", "data.categories": ["sofa"],
                                              "table2.categories": ["sofa"], "table2.curve.category": "sofa"})
    problems = target_problems(config)
    assert problems["priors"] == [] and problems["demos"] == [] and problems["table2"] == []


def test_config_overrides_get_their_yaml_types():
    # What Snakemake's parser makes of --config table1='{resolution: 256, ...}' renderer=... seed=3.
    parsed = {"table1": {"resolution": "256", "fov_degrees": "40.0", "decoder": {"fit_lr": "2.0e-4"}},
              "renderer": {"dynamic": "false", "step_clamp": "null", "scales": ["4", "1"]},
              "data": {"inputs": "{results}/data/inputs", "dataset": "ShapeNetV2", "single_view": {"sparse": ["10pct"]}},
              "seed": 3, "results": "/tmp/r"}
    typed = typed_overrides(parsed)
    assert typed["table1"] == {"resolution": 256, "fov_degrees": 40.0, "decoder": {"fit_lr": 2.0e-4}}
    assert typed["renderer"] == {"dynamic": False, "step_clamp": None, "scales": [4, 1]}
    assert typed["data"] == parsed["data"] and typed["seed"] == 3 and typed["results"] == "/tmp/r"


def dry_run(tmp_path, target, *overrides):
    run = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", target,
                          "--configfile", str(REPO / "config" / "config.yaml"), "--config", *overrides],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr


def test_a_nested_config_override_on_the_command_line_is_accepted(tmp_path):
    code, log = dry_run(tmp_path, "table1", "table1={resolution: 256, decoder: {fit_lr: 2.0e-4}}",
                        "renderer={coarse_to_fine: false}")
    assert code == 0, log[-3000:]
    assert "rule table1:" in log and "is not of type" not in log


def test_a_cross_key_mistake_stops_the_dry_run_naming_the_key(tmp_path):
    count = default_config()["table2"]["instances"]
    code, log = dry_run(tmp_path, "table1", f"table2={{curve: {{instance: {count}}}}}")
    assert code != 0 and f"config table2.curve.instance: {count} is not one of the {count} instances" in log
    # A family's needs stop only its own targets: Table 1 plans with data trimmed to one category ...
    code, log = dry_run(tmp_path, "table1", "data={categories: [sofa]}", *shipped_overrides())
    assert code == 0, log[-3000:]
    # ... and Table 2 stops before any job runs, naming the key.
    code, log = dry_run(tmp_path, "table2", "data={categories: [sofa]}", *shipped_overrides())
    assert code != 0 and "config table2.categories: 'plane' is not in data.categories [sofa]" in log
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("target, overrides, message", [
    ("data", ["data={categories: [sofa]}"], "config data.pmo.categories: 'plane' is not in data.categories [sofa]"),
    ("prior_report", ["data={categories: [sofa]}"], "config priors.categories: 'plane' is not in data.categories"),
    ("table3", ["table3={instances: 3, robustness: {instances: 1}}", "data={pmo: {instances_per_category: 2}}"],
     "config table3.instances: 3 is more than the 2 sequences"),
])
def test_each_family_of_targets_checks_its_needs_before_its_first_job(tmp_path, target, overrides, message):
    code, log = dry_run(tmp_path, target, *overrides, *shipped_overrides())
    assert code != 0 and message in log, log[-3000:]


def test_a_category_without_an_experiment_stops_only_the_targets_that_need_it(tmp_path):
    """priors.experiments without a chair (the demos' category): Table 1 plans, the demos stop naming the key."""
    experiments = "priors={source: experiments, experiments: {sofa: /x/sofas, plane: /x/planes, table: /x/tables}}"
    code, log = dry_run(tmp_path, "table1", experiments)
    assert code == 0, log[-3000:]
    code, log = dry_run(tmp_path, "demos", experiments)
    assert code != 0 and "config demos.camera.category: 'chair' has no DeepSDF experiment" in log, log[-3000:]
