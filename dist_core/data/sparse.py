"""Sparse depth inputs of the paper's Table 2: which valid depth pixels an optimiser gets to see.

Settings (:data:`SETTINGS`): ``dense`` (every valid pixel), ``50pct`` and ``10pct`` (that fraction of the
valid pixels, rounded to the nearest count), ``100pts``, ``50pts`` and ``20pts`` (that many pixels, or all
of them when fewer are valid). Pixels are drawn without replacement with a seed derived from
``(config seed, category, instance, setting)`` (:func:`dist_core.data.seeding.derive_seed`), so each
setting of each instance is reproducible on its own. The full silhouette is kept beside the sparse mask
for the "mask" variant of the paper.
"""

from __future__ import annotations

import re

import numpy as np

from .seeding import derive_seed

__all__ = ["SETTINGS", "PAPER_LABELS", "sparse_count", "sample_sparse"]

_SETTING = re.compile(r"dense|(\d+)(?:pct|pts)")
SETTINGS = ("dense", "50pct", "10pct", "100pts", "50pts", "20pts")
#: How the paper's Table 2 names each setting.
PAPER_LABELS = {"dense": "dense", "50pct": "50%", "10pct": "10%", "100pts": "100 pts", "50pts": "50 pts",
                "20pts": "20 pts"}


def sparse_count(setting: str, valid: int) -> int:
    """How many of ``valid`` pixels a setting keeps."""
    match = _SETTING.fullmatch(setting)
    if match is None:
        raise ValueError(f"unknown sparse setting {setting!r}; use dense, <N>pct or <N>pts, e.g. {SETTINGS}")
    if setting == "dense":
        return valid
    number = int(match.group(1))
    if setting.endswith("pct"):
        return min(valid, int(round(valid * number / 100.0)))
    return min(valid, number)


def sample_sparse(mask: np.ndarray, setting: str, seed: int, category: str, instance: str) -> np.ndarray:
    """(H, W) bool: the pixels of ``mask`` that the setting keeps (a subset of ``mask``)."""
    mask = np.asarray(mask, dtype=bool)
    valid = np.flatnonzero(mask)
    count = sparse_count(setting, len(valid))
    rng = np.random.default_rng(derive_seed(seed, category, instance, setting))
    chosen = valid if count == len(valid) else rng.choice(valid, size=count, replace=False)
    out = np.zeros(mask.size, dtype=bool)
    out[chosen] = True
    return out.reshape(mask.shape)
