"""Seeds derived from (config seed, category, instance, setting), so every job reproduces alone.

``derive_seed(0, "chair", "1a2b...", "10pct")`` hashes the four parts with SHA-256; the result does not
depend on Python's hash randomisation, on the order jobs run in, or on which other instances exist.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed", "derived_rng"]


def derive_seed(seed: int, category: str, instance: str, setting: str) -> int:
    """A 63-bit seed for one random choice of one job (the README's "Conventions", Randomness)."""
    key = "\x1f".join([str(int(seed)), str(category), str(instance), str(setting)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def derived_rng(seed: int, category: str, instance: str, setting: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, category, instance, setting))
