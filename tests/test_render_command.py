"""``python -m dist_core render``: files, cameras and errors, on a tiny experiment written by save_experiment."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from dist_core import Decoder, save_experiment
from dist_core.__main__ import main as dist_main
from dist_core.experiments.table1 import geometric_init_

SIZE = 24


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A 3 x 32 decoder initialised as a sphere of radius 0.5 (whatever the code), with 3 codes."""
    torch.manual_seed(0)
    specs = {"CodeLength": 8, "NetworkSpecs": {"dims": [32, 32, 32], "latent_in": [2], "norm_layers": [0, 1, 2],
                                               "weight_norm": True}}
    decoder = geometric_init_(Decoder.from_specs(specs), radius=0.5)
    return save_experiment(tmp_path_factory.mktemp("exp") / "sphere", decoder, specs, latent_codes=torch.randn(3, 8) * 0.01)


def render_files(experiment, prefix, *extra):
    assert dist_main(["render", str(experiment), "--width", str(SIZE), "--out", str(prefix), *extra]) == 0
    return np.load(f"{prefix}.npz")


def test_render_command_writes_pictures_and_arrays(experiment, tmp_path, capsys):
    data = render_files(experiment, tmp_path / "out" / "view", "--code", "2", "--azimuth", "30", "--elevation", "10")
    printed = capsys.readouterr().out
    assert "queries:" in printed and "seconds:" in printed
    for name in ("depth", "normal", "silhouette"):
        picture = cv2.imread(str(tmp_path / "out" / f"view_{name}.png"), cv2.IMREAD_UNCHANGED)
        assert picture.shape[:2] == (SIZE, SIZE)
    valid = data["valid"]
    assert valid.sum() > 0.2 * SIZE * SIZE and not valid.all()
    # A sphere-like shape seen from 1.8: depth between the unit sphere's entry and the centre, 0 off the surface.
    assert (data["depth"][valid] > 0.8).all() and (data["depth"][valid] < 1.8).all() and (data["depth"][~valid] == 0).all()
    assert np.allclose(np.linalg.norm(data["normal"][valid], axis=-1), 1.0, atol=1e-4)
    assert ((data["silhouette"] <= 0) == valid).mean() > 0.95
    assert int(data["code"]) == 2


def test_an_opencv_camera_from_the_npz_reproduces_the_render(experiment, tmp_path):
    first = render_files(experiment, tmp_path / "orbit", "--azimuth", "-60", "--elevation", "35")
    K, R, t = (" ".join(map(str, first[k].reshape(-1))) for k in ("K", "R", "t"))
    again = render_files(experiment, tmp_path / "opencv", "--K", K, "--R", R, "--t", t)
    assert np.array_equal(first["valid"], again["valid"])
    assert np.allclose(first["depth"], again["depth"], atol=1e-5)
    # A Choy metadata line (3D-R2N2): azimuth, elevation, in-plane, distance ratio (x 1.75), fov.
    choy = render_files(experiment, tmp_path / "choy", "--choy", "45 20 0 1.0 25")
    assert choy["valid"].any() and np.isclose(np.linalg.norm(-choy["R"].T @ choy["t"]), 1.75)


def test_render_command_errors_name_the_problem(experiment, tmp_path, capsys):
    assert dist_main(["render", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert dist_main(["render", str(experiment), "--code", "3", "--width", "8"]) == 2
    err = capsys.readouterr().err
    assert "--code 3 is out of range" in err and "3 latent codes (0 to 2)" in err
    assert dist_main(["render", str(experiment), "--K", " ".join(["1"] * 9)]) == 2
    assert "needs all of --K, --R and --t" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert dist_main(["render", str(experiment), "--device", "cuda", "--width", "8"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err
    assert dist_main(["bogus"]) == 2
    assert "unknown command 'bogus'" in capsys.readouterr().err


def test_module_entry_point_runs_as_a_command(experiment, tmp_path):
    result = subprocess.run([sys.executable, "-m", "dist_core", "render", str(experiment), "--width", "8",
                             "--out", str(tmp_path / "cli")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.npz").is_file() and "wrote" in result.stdout
