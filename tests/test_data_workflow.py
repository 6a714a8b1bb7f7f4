"""The `data` rule family end to end through Snakemake on a tiny embedded dataset (about 30 s: slow)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dist_core.data import deepsdf, inputs, synthetic

REPO = Path(__file__).resolve().parents[1]
TINY = """\
results: results
data:
  categories: [table]
  synthetic: {train_per_category: 2, test_per_category: 2, sdf_samples: 2000, surface_samples: 300}
  single_view: {resolution: 24}
  pmo: {categories: [table], instances_per_category: 1, elevations: [30.0], azimuth_step: 120.0, resolution: 24,
        points: 200}
"""


@pytest.mark.slow
def test_snakemake_data_target_builds_every_input(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
               str(REPO / "config" / "config.yaml"), str(tmp_path / "tiny.yaml"), "--cores", "2", "data"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    again = subprocess.run(command + ["--dry-run"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    data = tmp_path / "results" / "data"
    test_ids = synthetic.instance_ids(0, "table", "test", 2)
    split = deepsdf.read_split(data / "splits" / "table_test.json")
    assert split == {"ShapeNetV2": {"04379243": test_ids}}
    for instance in test_ids:
        single = inputs.read_single_view(data / "inputs" / "04379243" / instance / "single_view.h5")
        assert single.mask.shape == (24, 24) and single.mask.any()
        assert single.sparse["20pts"].sum() == min(20, single.mask.sum())
    multi = inputs.read_multi_view(data / "inputs" / "04379243" / test_ids[0] / "multi_view.h5")
    assert multi.images.shape == (3, 24, 24, 3) and len(multi.gt_points) == 200
    assert not (data / "inputs" / "04379243" / test_ids[1] / "multi_view.h5").exists()
    assert (tmp_path / "results" / "logs" / "data" / "generate_table.log").exists()
    assert np.isfinite(single.depth[single.mask]).all()
