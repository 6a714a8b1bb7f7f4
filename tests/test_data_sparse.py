"""Sparse depth inputs: counts per setting, subsets of the silhouette, deterministic per (seed, category, instance, setting)."""

import subprocess
import sys

import numpy as np
import pytest

from dist_core.data.seeding import derive_seed
from dist_core.data.sparse import PAPER_LABELS, SETTINGS, sample_sparse, sparse_count


def _mask(valid):
    mask = np.zeros((40, 50), dtype=bool)
    mask.reshape(-1)[np.random.default_rng(0).choice(2000, valid, replace=False)] = True
    return mask


@pytest.mark.parametrize("setting,expected", [("dense", 1001), ("50pct", 500), ("10pct", 100), ("100pts", 100),
                                              ("50pts", 50), ("20pts", 20)])
def test_counts_per_setting(setting, expected):
    mask = _mask(1001)
    chosen = sample_sparse(mask, setting, 0, "chair", "abc")
    assert chosen.sum() == expected == sparse_count(setting, 1001)
    assert not (chosen & ~mask).any()


def test_fewer_valid_pixels_than_points_keeps_them_all():
    mask = _mask(30)
    assert sample_sparse(mask, "100pts", 0, "chair", "abc").sum() == 30
    assert sample_sparse(mask, "20pts", 0, "chair", "abc").sum() == 20
    assert sparse_count("10pct", 4) == 0 and sparse_count("50pct", 3) == 2  # rounded to the nearest count


def test_sampling_is_deterministic_and_depends_on_every_key():
    mask = _mask(800)
    a = sample_sparse(mask, "10pct", 0, "chair", "abc")
    np.testing.assert_array_equal(a, sample_sparse(mask, "10pct", 0, "chair", "abc"))
    for other in [(1, "chair", "abc"), (0, "sofa", "abc"), (0, "chair", "abd")]:
        assert (sample_sparse(mask, "10pct", *other) != a).any()
    assert (sample_sparse(mask, "50pct", 0, "chair", "abc") != a).any()


def test_derived_seed_is_stable_across_processes():
    value = derive_seed(0, "chair", "abc", "10pct")
    code = "from dist_core.data.seeding import derive_seed; print(derive_seed(0, 'chair', 'abc', '10pct'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert int(out) == value and 0 <= value < 2**63
    assert derive_seed(0, "chair", "ab", "c10pct") != value  # fields are delimited, not concatenated


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="unknown sparse setting"):
        sparse_count("30pts_", 10)
    with pytest.raises(ValueError, match="unknown sparse setting"):
        sparse_count("manypts", 10)
    assert sparse_count("30pct", 10) == 3
    assert set(PAPER_LABELS) == set(SETTINGS)
