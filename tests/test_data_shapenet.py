"""ShapeNetCore loaders on fixtures written in the real layouts (v1 model.obj, v2 models/model_normalized.obj)."""

import numpy as np
import pytest
import trimesh

from dist_core.data import shapenet
from dist_core.data.deepsdf import Normalization
from dist_core.data.errors import DataError

MULTI_PART_OBJ = """\
mtllib model.mtl
o seat
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
usemtl fabric
f 1 2 3
f 1 3 4
o leg
v 0 0 1
v 1 0 1
v 0 1 1
usemtl wood
f 5 6 7
f 5 5 6
f 5 6 7
"""


def _write(root, synset, instance, relative, text):
    path = root / synset / instance / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_v1_and_v2_layouts_are_found(tmp_path):
    v1 = _write(tmp_path, "03001627", "old", "model.obj", MULTI_PART_OBJ)
    v2 = _write(tmp_path, "03001627", "new", "models/model_normalized.obj", MULTI_PART_OBJ)
    assert shapenet.find_mesh(tmp_path, "03001627", "old") == v1
    assert shapenet.find_mesh(tmp_path, "03001627", "new") == v2
    assert shapenet.list_instances(tmp_path, "03001627") == ["new", "old"]


def test_multi_part_obj_is_merged_and_degenerate_faces_dropped(tmp_path):
    path = _write(tmp_path, "03001627", "x", "model.obj", MULTI_PART_OBJ)
    mesh = shapenet.load_mesh(path)
    # two faces of the seat and one of the leg survive; the repeated-vertex face (zero area) is dropped,
    # and the duplicated leg face is kept (it is a real, if redundant, triangle)
    assert len(mesh.faces) == 4
    assert mesh.area == pytest.approx(1.0 + 0.5 + 0.5)


def test_face_with_a_vertex_index_out_of_range_is_a_clear_error(tmp_path):
    path = _write(tmp_path, "s", "broken", "model.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n")
    with pytest.raises(DataError, match=r"broken/model\.obj.*cannot be read as a mesh"):
        shapenet.load_mesh(path)


def test_missing_root_synset_and_instance_name_the_path_and_fix(tmp_path):
    with pytest.raises(DataError, match=r"nowhere.*ShapeNet root folder does not exist.*shapenet_root"):
        shapenet.find_mesh(tmp_path / "nowhere", "03001627", "x")
    with pytest.raises(DataError, match=r"03001627.*synset folder missing"):
        shapenet.find_mesh(tmp_path, "03001627", "x")
    _write(tmp_path, "03001627", "other", "model.obj", MULTI_PART_OBJ)
    with pytest.raises(DataError, match=r"03001627/absent.*no models/model_normalized.obj"):
        shapenet.find_mesh(tmp_path, "03001627", "absent")


def test_empty_and_unreadable_meshes_are_clear_errors(tmp_path):
    empty = _write(tmp_path, "s", "empty", "model.obj", "# nothing here\n")
    with pytest.raises(DataError, match=r"empty/model\.obj.*no face with positive area"):
        shapenet.load_mesh(empty)
    flat = _write(tmp_path, "s", "flat", "model.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")
    with pytest.raises(DataError, match="no face with positive area"):
        shapenet.load_mesh(flat)
    with pytest.raises(DataError, match="mesh file not found"):
        shapenet.load_mesh(tmp_path / "missing.obj")


def test_watertight_check(tmp_path):
    box = trimesh.creation.box()
    shapenet.check_watertight(box, tmp_path / "box.obj")
    open_box = trimesh.Trimesh(box.vertices, box.faces[:-1], process=False)
    with pytest.raises(DataError, match=r"open\.obj.*not watertight"):
        shapenet.check_watertight(open_box, tmp_path / "open.obj")
    inverted = trimesh.Trimesh(box.vertices, box.faces[:, ::-1], process=False)
    with pytest.raises(DataError, match="outward-wound"):
        shapenet.check_watertight(inverted, tmp_path / "inv.obj")


def test_round_trip_of_an_exported_mesh_and_normalisation(tmp_path):
    box = trimesh.creation.box(extents=(1, 2, 3))
    path = tmp_path / "02958343" / "car" / "models" / "model_normalized.obj"
    path.parent.mkdir(parents=True)
    box.export(path)
    mesh = shapenet.load_mesh(shapenet.find_mesh(tmp_path, "02958343", "car"))
    assert mesh.volume == pytest.approx(6.0)
    moved = shapenet.normalized_mesh(mesh, Normalization(np.array([1.0, 0, 0]), 2.0))
    np.testing.assert_allclose(moved.bounds, [[1.0, -2, -3], [3.0, 2, 3]])


def test_category_synset_mapping():
    assert shapenet.synset_of("chair") == "03001627" and shapenet.synset_of("03001627") == "03001627"
    assert shapenet.category_of("02691156") == "plane"
    with pytest.raises(KeyError, match="known"):
        shapenet.synset_of("lamp")
