"""Split files of PMO's test shapes for DeepSDF's preprocessing (dist_core.data.splits)."""

import pytest

from dist_core.data import deepsdf, pmo, shapenet
from dist_core.data.errors import DataError
from dist_core.data.splits import main, pmo_split_paths, pmo_splits


def _shapenet(root, synset, ids):
    for instance in ids:
        path = shapenet.mesh_path(root, synset, instance)
        path.parent.mkdir(parents=True)
        path.write_text("v 0 0 0\n")


def test_pmo_splits_hold_out_pmo_test_shapes_and_round_trip_through_deepsdf_files(tmp_path, capsys):
    car, plane = shapenet.synset_of("car"), shapenet.synset_of("plane")
    pmo.write_test_list(tmp_path / "pmo", [(car, "c3"), (plane, "p1"), (car, "c1")])
    _shapenet(tmp_path / "shapenet", car, ["c1", "c2", "c3", "c4"])
    _shapenet(tmp_path / "shapenet", plane, ["p1", "p2"])
    assert pmo_splits(tmp_path / "pmo", tmp_path / "shapenet", "car") == (["c2", "c4"], ["c3", "c1"])
    main(["--pmo-root", str(tmp_path / "pmo"), "--shapenet-root", str(tmp_path / "shapenet"), "--output",
          str(tmp_path / "splits"), "car", "plane"])
    assert "car: 2 train, 2 test shapes" in capsys.readouterr().out
    paths = pmo_split_paths(tmp_path / "splits", "plane")
    assert paths["test"].name == "pmo_planes_test.json"
    assert deepsdf.split_ids(paths["test"], plane) == ["p1"] and deepsdf.split_ids(paths["train"], plane) == ["p2"]
    assert deepsdf.read_split(pmo_split_paths(tmp_path / "splits", "car")["train"]) == {"ShapeNetV2": {car: ["c2", "c4"]}}


def test_a_category_pmo_does_not_hold_is_named(tmp_path):
    pmo.write_test_list(tmp_path / "pmo", [(shapenet.synset_of("car"), "c1")])
    (tmp_path / "shapenet").mkdir()
    with pytest.raises(DataError, match="all_test.list: lists no shape of sofa"):
        pmo_splits(tmp_path / "pmo", tmp_path / "shapenet", "sofa")
