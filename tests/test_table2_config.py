"""config/paper.yaml is the paper's protocol: it validates on top of either dataset's config, and Table 2's
protocol lines find no difference from DIST's code in it; the embedded default names each of its deviations."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from dist_core.experiments.table2_tables import protocol_lines

from workflow_runs import merged

REPO = Path(__file__).resolve().parents[1]


def _load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())




def _protocol(config):
    table2 = config["table2"]
    renderer = {**config["renderer"], **table2["renderer"]}
    return protocol_lines(table2, renderer, config["data"]["single_view"]["resolution"], table2["instances"])


@pytest.mark.parametrize("datasets", [["config.yaml"], ["config.yaml", "shapenet.yaml"]])
def test_paper_config_is_dists_protocol_on_either_dataset(datasets):
    config = _load(datasets[0])
    for name in datasets[1:] + ["paper.yaml"]:
        config = merged(config, _load(name))
    validate(copy.deepcopy(config), str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert [line for line in _protocol(config) if "DIST / paper" in line] == []
    assert config["table2"]["methods"] == ["deepsdf", "ours_depth", "ours", "ours_mask", "oracle"]


def test_embedded_default_states_each_deviation():
    lines = [line for line in _protocol(_load("config.yaml")) if "DIST / paper" in line]
    assert any(line.startswith("instances: first") for line in lines)
    assert all("(DIST / paper: " in line for line in lines)
