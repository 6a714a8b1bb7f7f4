"""The procedural ShapeNet-like generators: deterministic, watertight, one solid, ShapeNet v2 placement."""

import json

import numpy as np
import pytest

from dist_core.data import synthetic
from dist_core.data.deepsdf import normalization_parameters
from dist_core.data.shapenet import SYNSETS

CATEGORIES = sorted(SYNSETS)


@pytest.mark.parametrize("category", CATEGORIES)
def test_generator_is_deterministic(category):
    a = synthetic.generate(category, 3, "train", 5)
    b = synthetic.generate(category, 3, "train", 5)
    assert a.instance == b.instance
    np.testing.assert_array_equal(a.mesh.vertices, b.mesh.vertices)
    np.testing.assert_array_equal(a.mesh.faces, b.mesh.faces)
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())


@pytest.mark.parametrize("category", CATEGORIES)
def test_meshes_are_single_watertight_solids_placed_like_shapenet_v2(category):
    for index in range(6):
        shape = synthetic.generate(category, 0, "test", index)
        mesh = shape.mesh
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert len(mesh.split(only_watertight=False)) == 1, f"{category} {index} falls apart"
        lo, hi = mesh.bounds
        np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-9)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        normalization = normalization_parameters(mesh.vertices, mesh.faces)
        radius = np.linalg.norm(normalization.apply(mesh.vertices), axis=1).max()
        assert radius == pytest.approx(1 / 1.03)  # inside the unit sphere with DeepSDF's margin


def test_categories_are_upright_with_the_expected_proportions():
    # +y up: cars and sofas are wider than tall, planes long along z, tables and chairs stand on legs
    extents = {c: synthetic.generate(c, 0, "train", 0).mesh.extents for c in CATEGORIES}
    assert extents["car"][2] > extents["car"][0] > extents["car"][1]
    assert extents["sofa"][0] > extents["sofa"][1]
    assert extents["plane"][1] < min(extents["plane"][0], extents["plane"][2])


def test_instances_vary_within_a_category():
    volumes = [synthetic.generate("chair", 0, "train", i).mesh.volume for i in range(8)]
    assert len({round(v, 6) for v in volumes}) == 8
    labels = [{p.label for p in synthetic.generate("chair", 0, "train", i).parts} for i in range(20)]
    assert any("arm" in s for s in labels) and any("arm" not in s for s in labels)
    assert any("column" in s for s in labels) and any("leg" in s for s in labels)


def test_ids_are_shapenet_like_and_split_streams_are_disjoint():
    train = synthetic.instance_ids(0, "sofa", "train", 10)
    test = synthetic.instance_ids(0, "sofa", "test", 10)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in train + test)
    assert len(set(train) | set(test)) == 20
    assert synthetic.instance_ids(0, "sofa", "test", 3) == test[:3]  # more train shapes never move the test set
    assert synthetic.instance_ids(1, "sofa", "train", 1) != train[:1]


def test_colour_field_survives_json_and_follows_parts():
    shape = synthetic.generate("car", 0, "test", 1)
    rebuilt = synthetic.SyntheticShape.from_json(json.loads(json.dumps(shape.to_json())))
    points = shape.mesh.sample(500, return_index=False)
    albedo = shape.albedo(points)
    np.testing.assert_allclose(rebuilt.albedo(points), albedo)
    assert albedo.min() >= 0.0 and albedo.max() <= 1.0
    labels = {shape.parts[i].label for i in shape.part_index(points)}
    assert {"body", "wheel"} <= labels
    assert albedo.std(axis=0).max() > 0.02  # textured, not flat


def test_part_sdfs_are_exact_on_simple_points():
    part = synthetic.Part("x", "box", (0.5, 0.2, 0.1), np.eye(4))
    np.testing.assert_allclose(part.sdf(np.array([[1.0, 0, 0], [0, 0, 0], [0.5, 0.2, 0.1]])), [0.5, -0.1, 0.0])
    capsule = synthetic.Part("x", "capsule", (0.1, 0.3), np.eye(4))
    np.testing.assert_allclose(capsule.sdf(np.array([[0, 0, 0.6], [0.3, 0, 0]])), [0.2, 0.2])
