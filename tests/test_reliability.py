"""Reliability: a killed job (or Snakemake with it, then `snakemake --unlock`) reruns without redoing finished
work and leaves nothing corrupt; corrupt files each give one message naming the file and the fix; no two jobs
write the same file.

(Bad configuration: tests/test_config_schema.py. A NaN or exploding loss recorded as a failed instance and
counted in n_failed: tests/test_fit.py and tests/test_table2.py; in the pose demo: tests/test_pose.py.)
"""

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

from dist_core.data.errors import DataError
from dist_core.data.inputs import read_single_view
from dist_core.decoder import Decoder, load_experiment, save_experiment
from dist_core.io import read_h5, write_h5
from dist_core.prior import MEAN_LATENT_FILE, load_mean_latent, snapshot_epoch

from workflow_runs import shipped_overrides

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = """\
results: results
threads: 1
data:
  categories: [table]
  synthetic: {train_per_category: 3, test_per_category: 1, sdf_samples: 3000, surface_samples: 300}
  single_view: {resolution: 16}
  pmo: {categories: [table], instances_per_category: 1, resolution: 16, points: 100}
priors:
  source: trained
  categories: [table]
  latent_size: 8
  network: {dims: [64, 64, 64], norm_layers: [0, 1, 2], latent_in: [1]}
  training: {epochs: 400, samples_per_scene: 2048, scenes_per_batch: 3, snapshot_every: 2}
table2: {categories: [table]}
table3: {categories: [table]}
"""


def snakemake_command(tmp_path, *args):
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), *args, "--cores", "1",
            "--configfile", str(REPO / "config" / "config.yaml"), str(tmp_path / "tiny.yaml")]


def readable(path: Path) -> bool:
    try:
        if path.suffix == ".h5":
            read_h5(path)
        else:
            torch.load(path, map_location="cpu", weights_only=True)
        return True
    except Exception:
        return False


@pytest.mark.slow
def test_a_killed_training_job_resumes_and_nothing_finished_is_recomputed(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    prepared = subprocess.run(snakemake_command(tmp_path, "data"), cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    results = tmp_path / "results"
    finished = {p: p.stat().st_mtime_ns for p in (results / "data").rglob("*") if p.is_file()}

    prior = results / "priors" / "table"
    run = subprocess.Popen(snakemake_command(tmp_path, "priors"), cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if (prior / "ModelParameters" / "latest.pth").is_file() and snapshot_epoch(prior) >= 4:
            break
        time.sleep(0.2)
    assert run.poll() is None, "training finished before it could be killed: raise training.epochs in TINY"
    # Kill the job itself, as the out-of-memory killer or a node failure would; Snakemake sees it fail.
    jobs = [p for p in psutil.Process(run.pid).children(recursive=True) if "prior_train" in " ".join(p.cmdline())]
    assert jobs, "no running prior_train job found"
    for job in jobs:
        job.send_signal(signal.SIGKILL)
    output, _ = run.communicate(timeout=120)
    assert run.returncode != 0, output[-2000:]
    killed_at = snapshot_epoch(prior)
    assert 4 <= killed_at < 400
    # Nothing half-written is left where a later job would read it (atomic writes; only hidden temp files).
    for path in results.rglob("*"):
        if path.is_file() and path.suffix in (".h5", ".pth") and not path.name.startswith("."):
            assert readable(path), f"{path} is corrupt after the kill"
    assert not (prior / "provenance.json").exists()

    # The next run resumes; this time Snakemake goes down with its job, as on a lost terminal: the run after
    # stops on Snakemake's lock until `snakemake --unlock` (the README's advice) and loses nothing finished.
    with open(tmp_path / "second.out", "w") as out:
        second = subprocess.Popen(snakemake_command(tmp_path, "priors"), cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.time() + 300
        while time.time() < deadline and second.poll() is None and snapshot_epoch(prior) < killed_at + 4:
            time.sleep(0.2)
        assert second.poll() is None, "the second run ended before it could be killed"
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=60)
    assert f"after epoch {killed_at}" in (tmp_path / "second.out").read_text()
    killed_again_at = snapshot_epoch(prior)
    assert killed_at + 4 <= killed_again_at < 400
    locked = subprocess.run(snakemake_command(tmp_path, "priors"), cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
    unlocked = subprocess.run(snakemake_command(tmp_path, "--unlock"), cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]

    rerun = subprocess.run(snakemake_command(tmp_path, "priors"), cwd=tmp_path, capture_output=True, text=True,
                           timeout=900)
    log = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log[-3000:]
    stats = log[log.index("Job stats:"):]
    assert "prior_train" in stats and "data_generate" not in stats and "data_single_view" not in stats
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert f"after epoch {killed_again_at}" in (results / "logs" / "priors" / "table.log").read_text()
    decoder, codes, specs = load_experiment(prior)
    assert specs["NumEpochs"] == 400 and codes.shape == (3, 8) and snapshot_epoch(prior) == 400


def test_a_corrupt_or_truncated_hdf5_names_the_file_and_the_fix(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not HDF5" * 10)
    whole = write_h5(tmp_path / "whole.h5", {"depth": np.random.rand(64, 64), "mask": np.ones((64, 64), bool)})
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for path in (garbage, truncated):
        with pytest.raises(DataError) as error:
            read_h5(path)
        assert str(path) in str(error.value) and "delete it and rerun" in str(error.value)
    with pytest.raises(DataError, match="garbage.h5.*not a readable HDF5 file"):
        read_single_view(garbage)
    with pytest.raises(DataError, match="whole.h5: lacks an expected dataset"):
        read_single_view(whole)


def tiny_experiment(folder):
    specs = {"CodeLength": 4, "NetworkSpecs": {"dims": [16, 16], "latent_in": [1], "norm_layers": [0, 1],
                                               "weight_norm": True}}
    save_experiment(folder, Decoder.from_specs(specs), specs, latent_codes=torch.zeros(2, 4))
    torch.save({"mean_latent": torch.zeros(4)}, folder / MEAN_LATENT_FILE)
    return folder


@pytest.mark.parametrize("broken, pattern", [
    ("ModelParameters/latest.pth", "cannot read checkpoint .*ModelParameters/latest.pth.*retrain"),
    ("LatentCodes/latest.pth", "cannot read latent codes .*LatentCodes/latest.pth.*retrain"),
    ("specs.json", "specs.json is not valid JSON"),
    (MEAN_LATENT_FILE, f"cannot read .*{MEAN_LATENT_FILE}.*retrain the prior"),
])
def test_a_corrupt_checkpoint_names_the_file_and_the_fix(tmp_path, broken, pattern):
    folder = tiny_experiment(tmp_path / "prior")
    load_experiment(folder)
    target = folder / broken
    target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
    with pytest.raises(RuntimeError, match=pattern):
        load_experiment(folder) if broken != MEAN_LATENT_FILE else load_mean_latent(folder)


def test_no_two_jobs_write_the_same_file(tmp_path):
    # The default configuration with priors trained by the workflow: every rule family is in the DAG.
    run = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "all", "priors",
                          "prior_report", "data", "--dry-run", "--forceall", "--configfile",
                          str(REPO / "config" / "config.yaml"), "--config",
                          *shipped_overrides(priors={"source": "trained"})],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    written = []
    for kind in ("output", "log", "benchmark"):
        for line in re.findall(rf"^\s*{kind}: (.*)$", log, re.M):
            written += [p.strip() for p in line.split(", ")]
    assert len(written) > 50 and any("priors/chair/provenance.json" in p for p in written)
    twice = [p for p, n in Counter(written).items() if n > 1]
    assert not twice, f"written by more than one job: {twice}"
