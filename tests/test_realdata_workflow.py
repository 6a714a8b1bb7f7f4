"""`snakemake table2` with config/shapenet.yaml on a small tree written in the real formats (tests/realdata_tree.py),
pointed at by a tiny override config as a user would: ShapeNet soups with mixed winding and double-sided faces,
3D-R2N2 metadata, DeepSDF's preprocessing outputs and split JSONs, DeepSDF experiments as DeepSDF's training
leaves them (examples/sofas, module. keys, nn.Embedding codes, no MeanLatent.pth), no PMO data, and one sofa
whose rendering metadata is malformed. Then Table 3's data side on PMO-format sequences with a broken one."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from dist_core.baselines.deepsdf import depth_sdf_samples
from dist_core.data import deepsdf, inputs, r2n2, shapenet
from dist_core.decoder import Decoder
from dist_core.experiments.table1 import geometric_init_
from realdata_tree import (Solid, mesh_file, official_specs, write_deepsdf_instance, write_metadata,
                           write_official_experiment, write_shapenet_soup, write_split)

REPO = Path(__file__).resolve().parents[1]
DATASET = "ShapeNetV2"
OFFSET = 0.025  # the DeepSDF baseline's distance along the normal (normalised frame)


def _solids(rng, count):
    """Two boxes apart by more than the DeepSDF baseline's offsets (a seat and a back, a fuselage and a wing),
    jittered per instance: inside and outside are exact, and p + d n never reaches the other box."""
    solids = []
    for _ in range(count):
        a = (rng.uniform(-0.05, 0.05, 3), np.array([0.4, 0.12, 0.25]) + rng.uniform(0, 0.05, 3))
        b = (np.array([0.0, 0.45, 0.2]) + rng.uniform(-0.02, 0.02, 3), np.array([0.35, 0.12, 0.05]))
        assert b[0][1] - b[1][1] - (a[0][1] + a[1][1]) > 0.08  # the gap, in mesh units (the offset: about 0.015)
        solids.append(Solid((a, b)))
    return solids


def write_tree(root: Path) -> dict:
    """The user's disks: ShapeNetCore.v2, ShapeNetRendering, DeepSDF's data and examples folders."""
    rng = np.random.default_rng(11)
    layout = {"shapenet": root / "ShapeNetCore.v2", "r2n2": root / "ShapeNetRendering",
              "deepsdf": root / "DeepSDF" / "data", "examples": root / "DeepSDF" / "examples"}
    tree = {"solids": {}, "splits": {}, "layout": layout}
    for category, test_count in (("sofa", 2), ("plane", 1)):
        synset = shapenet.synset_of(category)
        train = [f"{k:x}" * 4 + f"{category}tr{k}" for k in range(3)]
        test = [f"{k + 7:x}" * 4 + f"{category}te{k}" for k in range(test_count)]
        for instance, solid in zip(train, _solids(rng, len(train))):
            write_deepsdf_instance(layout["deepsdf"], DATASET, synset, instance, solid, rng, surface=False)
        for instance, solid in zip(test, _solids(rng, len(test))):
            write_shapenet_soup(mesh_file(layout["shapenet"], synset, instance), solid, rng)
            write_metadata(layout["r2n2"], synset, instance)
            write_deepsdf_instance(layout["deepsdf"], DATASET, synset, instance, solid, rng)
            tree["solids"][(synset, instance)] = solid
        splits = {split: write_split(layout["examples"] / "splits" / f"sv2_{category}s_{split}.json", DATASET, synset,
                                     ids) for split, ids in (("train", train), ("test", test))}
        tree["splits"][category] = {k: str(v) for k, v in splits.items()}
        write_experiment(layout, category, train)
    synset = shapenet.synset_of("sofa")
    broken = sorted(i for s, i in tree["solids"] if s == synset)[-1]
    metadata = r2n2.metadata_path(layout["r2n2"], synset, broken)
    metadata.write_text(metadata.read_text().replace("0.839816056769", "0.83981605676 9", 1))
    tree["broken"] = (synset, broken, metadata)
    return tree


def write_experiment(layout, category, train):
    """A DeepSDF experiment of the tests' size, written as DeepSDF's training writes it. Its decoder starts as
    the SDF of a sphere for every code (dist_core.experiments.table1.geometric_init_), so that every fit has a
    surface to mesh; what the test checks is the pipeline, not the prior."""
    specs = official_specs(8, [32, 32, 32, 32], category)
    torch.manual_seed(len(train))
    decoder = geometric_init_(Decoder.from_specs(specs), radius=0.6)
    write_official_experiment(layout["examples"] / f"{category}s", specs, decoder.state_dict(),
                              torch.randn(len(train), 8) * 0.01)


def override(tree) -> dict:
    layout = tree["layout"]
    return {
        "results": "results",
        "data": {"categories": ["sofa", "plane"], "shapenet_root": str(layout["shapenet"]),
                 "deepsdf_dir": str(layout["deepsdf"]), "r2n2_root": str(layout["r2n2"]),
                 "pmo_root": str(layout["examples"].parent / "no-pmo-data"), "splits": tree["splits"],
                 "single_view": {"resolution": 24}, "pmo": {"categories": []}},
        "priors": {"categories": ["sofa", "plane"],
                   "experiments": {c: str(layout["examples"] / f"{c}s") for c in ("sofa", "plane")}},
        "table2": {"categories": ["sofa", "plane"], "instances": 2, "settings": ["dense", "20pts"], "threads": 1,
                   "gpus_per_job": 0, "ours": {"iterations": 3, "lr": 3e-3},
                   "deepsdf": {"iterations": 5, "samples_per_step": 200},
                   "mesh_resolution": 24, "chamfer_samples": 500,
                   "curve": {"category": "plane", "instance": 0, "setting": "dense", "method": "ours_mask", "every": 1,
                             "mesh_resolution": 16}},
    }


def snakemake(workdir, *args):
    command = [str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(REPO / "config" / "config.yaml"), str(REPO / "config" / "shapenet.yaml"),
               str(workdir / "tiny.yaml"), "--cores", "2", *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_table2_on_real_format_data_skips_only_the_broken_instance(tmp_path):
    tree = write_tree(tmp_path / "disks")
    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.yaml").write_text(yaml.safe_dump(override(tree)))
    run = snakemake(work, "table2")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = work / "results"
    synset, broken, metadata = tree["broken"]

    # The data stage recorded the broken sofa in place of its input, with the file and the reason.
    record = inputs.read_skip_record(inputs.single_view_path(results / "data" / "inputs", synset, broken))
    assert record["file"] == str(metadata) and "line 1 is malformed" in record["reason"]
    # ... and the table reports it and is built from the rest.
    skipped = pd.read_csv(results / "table2_skipped.csv")
    assert list(zip(skipped.category, skipped.instance)) == [("sofa", broken)]
    assert "line 1 is malformed" in skipped.reason[0]
    table = pd.read_csv(results / "table2.csv")
    assert set(table.category) == {"sofa", "plane"} and (table.n == 1).all()
    assert dict(table.groupby("category").n_skipped.first()) == {"plane": 0, "sofa": 1}

    # The official experiments loaded as they are, from the mean of their codes, and table2.md says so.
    log = (results / "logs" / "table2" / "plane").glob("*.log")
    assert any("no MeanLatent.pth, mean latent computed from the 3 training codes" in p.read_text() for p in log)
    experiment = (tree["layout"]["examples"] / "sofas").resolve()
    assert f"{experiment}: 4 x 32, latent 8, epoch 2000, mean latent of 3 training codes" in (results / "table2.md").read_text()

    # DeepSDF's samples at +-0.025 along the GT normals lie outside / inside the true solid at every pixel.
    prepared = [(s, i) for s, i in tree["solids"] if (s, i) != (synset, broken)]
    assert len(prepared) == 2
    for key in prepared:
        view = inputs.read_single_view(inputs.single_view_path(results / "data" / "inputs", *key))
        normalization = deepsdf.read_normalization(deepsdf.normalization_path(tree["layout"]["deepsdf"], DATASET, *key))
        samples = depth_sdf_samples(view.depth, view.normal, view.mask, view.camera, offsets=(OFFSET,), surface=False)
        solid, step = tree["solids"][key], OFFSET / normalization.scale

        def mesh_sdf(rows):
            return solid.sdf(normalization.invert(rows[:, :3].double().numpy()))

        assert view.mask.sum() > 50
        assert (mesh_sdf(samples.pos) > 0.5 * step).all()  # outside, a full step from the surface
        assert (mesh_sdf(samples.neg) < 1e-5).all()          # inside (on an edge: on the surface)
        assert (mesh_sdf(samples.neg) < 0).mean() > 0.9
    assert "Nothing to be done" in snakemake(work, "table2", "--dry-run").stdout

    # Fixing the file redoes that instance and the tables, and nothing else.
    metadata.write_text(metadata.read_text().replace("0.83981605676 9", "0.839816056769"))
    plan = snakemake(work, "table2", "--dry-run")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout[plan.stdout.index("Job stats:"):], re.M))
    assert {k: counts.get(k) for k in ("data_single_view", "table2_instance", "table2_tables", "table2_curve")} == {
        "data_single_view": "1", "table2_instance": "1", "table2_tables": "1", "table2_curve": None}
    assert f"{inputs.single_view_path(Path('results') / 'data' / 'inputs', synset, broken)}" in plan.stdout


def write_pmo_tree(root: Path, layout: dict, rng) -> dict:
    """PMO's data folder for three planes (sequences of the soups rendered in their mesh frame, one camera.npz,
    lists/all_test.list, AtlasNet-style points) with their DeepSDF NormalizationParameters; the second plane's
    sequence is a truncated array."""
    from dist_core.data import pmo
    from dist_core.data.groundtruth import lambertian, raycast

    synset = shapenet.synset_of("plane")
    ids = [f"pmo{k}plane" for k in range(3)]
    cameras = pmo.circle_cameras(4, 25.0, 2.5, 40.0, 32)
    pmo.write_camera_file(root, *pmo.cameras_to_pmo(cameras))
    pmo.write_test_list(root, [(synset, i) for i in ids])
    for instance, solid in zip(ids, _solids(rng, len(ids))):
        soup = write_shapenet_soup(mesh_file(layout["shapenet"], synset, instance), solid, rng)
        mesh = shapenet.load_mesh(soup)
        frames = [raycast(mesh, c, normal_frame="world") for c in cameras]
        images = np.stack([lambertian(np.full(g.normal.shape, 0.7), g.normal, g.mask) for g in frames])
        pmo.write_sequence(root, synset, instance, images, np.stack([g.mask for g in frames]))
        points = solid.surface(500, rng)
        pmo.write_points(root, synset, instance, points, np.zeros_like(points))
        write_deepsdf_instance(layout["deepsdf"], DATASET, synset, instance, solid, rng, surface=False)
    broken = pmo.sequence_path(root, synset, ids[1])
    np.save(broken, np.load(broken)[..., :3])  # RGB without the alpha channel
    return {"synset": synset, "ids": ids, "broken": broken}


@pytest.mark.slow
def test_table3_converts_only_its_pmo_sequences_and_skips_a_broken_one(tmp_path):
    tree = write_tree(tmp_path / "disks")
    sequences = write_pmo_tree(tmp_path / "disks" / "PMO" / "data", tree["layout"], np.random.default_rng(5))
    work = tmp_path / "work"
    work.mkdir()
    settings = override(tree)
    settings["data"].update(pmo_root=str(tmp_path / "disks" / "PMO" / "data"), pmo={"categories": ["plane"]})
    # The shipped PMO networks by absolute path: this run's working directory is not the repository.
    settings["table3"] = {"categories": ["plane"], "instances": 2, "pmo": {"shipped_dir": str(REPO / "resources" / "pmo")}}
    (work / "tiny.yaml").write_text(yaml.safe_dump(settings))
    plan = snakemake(work, "table3", "--dry-run")
    assert plan.returncode == 0, (plan.stdout + plan.stderr)[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout[plan.stdout.index("Job stats:"):], re.M))
    assert counts["data_multi_view"] == "2" and "data_single_view" not in counts  # the first 2 of PMO's list only
    targets = [inputs.multi_view_path(Path("results") / "data" / "inputs", sequences["synset"], i)
               for i in sequences["ids"][:2]]
    run = snakemake(work, *map(str, targets))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    converted = inputs.read_multi_view(work / targets[0])
    assert converted.images.shape == (4, 32, 32, 3) and converted.masks.any() and len(converted.gt_points) == 500
    record = inputs.read_skip_record(work / targets[1])
    assert record["file"] == str(sequences["broken"]) and "expected (V, H, W, 4) RGBA" in record["reason"]
    assert not (work / inputs.multi_view_path(Path("results") / "data" / "inputs", sequences["synset"],
                                              sequences["ids"][2])).exists()
    # Then Table 3 itself, as the README runs it on real data: the shipped PMO networks, the user's DeepSDF
    # experiment for ours, the broken sequence skipped (tiny sizes: the code paths, not the numbers).
    settings["table3"].update(resolution=16, mesh_resolution=24, robustness={"instances": 1},
                              ours={"epochs": 1, "views_per_round": 2, "snapshot_every": 1})
    settings["table3"]["pmo"].update(resolution=32, optimization={"iterations": 2, "snapshot_every": 1})
    (work / "tiny.yaml").write_text(yaml.safe_dump(settings))
    run = snakemake(work, "table3")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    table = pd.read_csv(work / "results" / "table3.csv")
    assert set(table.method) == {"ours_rand", "pmo_original", "pmo_rand", "pmo_encoder"}
    assert (table.n == 1).all() and (table.n_skipped == 1).all()
    markdown = (work / "results" / "table3.md").read_text()
    assert str(REPO / "resources" / "pmo" / "plane") in markdown and "AtlasNet 25 patches" in markdown
