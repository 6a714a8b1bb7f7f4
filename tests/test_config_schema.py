"""The config schema: the shipped configurations pass, mistakes stop the workflow naming the key, and every
key of the schema is documented in config/README.md."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from workflow_runs import merged

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())




def check(config):
    validate(copy.deepcopy(config), str(SCHEMA))


@pytest.mark.parametrize("extra", ["shapenet.yaml", None, "tiny"])
def test_shipped_configurations_are_valid(extra):
    config = default_config()
    if extra == "shapenet.yaml":
        config = merged(config, yaml.safe_load((REPO / "config" / "shapenet.yaml").read_text()))
    elif extra == "tiny":
        config = merged(config, yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text()))
    check(config)


@pytest.mark.parametrize("path, value, message", [
    (("tabel1",), {}, "'tabel1' was unexpected"),
    (("renderer", "epss"), 1e-4, "'epss' was unexpected"),
    (("renderer", "eps"), -1.0, "-1.0 is less than or equal to the minimum of 0"),
    (("data", "synthetic", "test_per_category"), "16", "'16' is not of type 'integer'"),
    (("data", "categories"), ["sofa", "bed"], "'bed' is not one of"),
    (("data", "single_view", "sparse"), ["dense", "ten percent"], "'ten percent' does not match"),
    (("priors", "source"), "downloaded", "'downloaded' is not one of ['shipped', 'trained'"),
    (("device",), "gpu", "'gpu' does not match"),
    (("table2", "ours", "iteratons"), 5, "'iteratons' was unexpected"),
    (("table3", "methods"), ["ours_rand", "pmo_orignal"], "'pmo_orignal' is not one of"),
    (("table3", "pmo", "decoder", "epohcs"), 5, "'epohcs' was unexpected"),
])
def test_a_mistake_is_reported_with_the_key(path, value, message):
    config = default_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as error:
        check(config)
    text = str(error.value)
    assert message in text
    if len(path) > 1 and not path[-1] in message:
        assert "".join(f"[{k!r}]" for k in path) in text


def test_the_workflow_stops_at_start_on_a_misspelt_key(tmp_path):
    snakemake = Path(sys.executable).with_name("snakemake")
    run = subprocess.run([str(snakemake), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
                          "table1", "--configfile", str(REPO / "config" / "config.yaml"), "--config",
                          "renderer={epss: 1}"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Error validating config file" in output and "'epss' was unexpected" in output
    assert not (tmp_path / "results").exists()


def _keys(node, schema):
    """Every property name of the schema, following $ref."""
    if isinstance(node, dict):
        if "$ref" in node and not node["$ref"].startswith("#/properties/"):  # those are walked anyway
            target = schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            yield from _keys(target, schema)
        for key, child in node.get("properties", {}).items():
            yield key
            yield from _keys(child, schema)
        for combined in ("oneOf", "anyOf", "allOf"):
            for child in node.get(combined, []):
                yield from _keys(child, schema)
        for child in (node.get("items"), node.get("additionalProperties")):
            yield from _keys(child, schema)


def test_every_key_of_the_schema_is_documented():
    schema = yaml.safe_load(SCHEMA.read_text())
    readme = (REPO / "config" / "README.md").read_text()
    keys = set(_keys(schema, schema))
    assert {"renderer", "eps", "lights", "convergence", "canonical_frame", "diverge_factor"} <= keys
    missing = sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}\b", readme))
    assert not missing, f"config/README.md does not document {missing}"


def _open_objects(node, path="schema"):
    """Paths of the schema's object blocks that list properties but accept others."""
    if isinstance(node, dict):
        if "properties" in node and node.get("additionalProperties") is not False:
            yield path
        for key, child in node.items():
            yield from _open_objects(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _open_objects(child, f"{path}[{i}]")


def test_every_settings_block_refuses_unknown_keys():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert list(_open_objects(schema)) == []
