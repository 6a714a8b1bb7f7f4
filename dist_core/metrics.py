"""Chamfer distances as the papers compute them, and the summaries the tables print.

* :func:`chamfer_deepsdf` is DeepSDF's ``compute_trimesh_chamfer`` (``deep_sdf/metrics/chamfer.py``),
  the Table 2 metric: 30,000 points sampled on the generated mesh, mapped back to the mesh's own frame
  (``x / scale - offset``), squared nearest-neighbour distances averaged in each direction against the
  ground-truth surface samples, the two means summed. Tables print it x 1000 (:data:`TABLE_SCALE`).
* :func:`chamfer_one_sided` is the Table 3 metric: the mean squared distance from each ground-truth point
  to the nearest predicted point (10,000 points each, as DIST's ``run_multi_pmodata.py`` evaluates with
  ``compute_chamfer_distance_separate``, which also reports the other direction, x 1000).
* :func:`summarize` gives median, mean and a percentile-bootstrap 95 % interval of the median.
* :func:`paired_comparison` compares two methods fitted on the same instances: the median of the
  per-instance differences with a percentile-bootstrap interval (instances resampled as pairs) and the
  two-sided Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``).

Points are (N, 3) arrays; nearest neighbours come from ``scipy.spatial.cKDTree``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "TABLE_SCALE",
    "DEEPSDF_MESH_SAMPLES",
    "TABLE3_POINTS",
    "nearest_squared_distances",
    "chamfer_l2",
    "chamfer_one_sided",
    "sample_mesh_surface",
    "chamfer_deepsdf",
    "Summary",
    "summarize",
    "PairedComparison",
    "paired_comparison",
]

TABLE_SCALE = 1000.0
DEEPSDF_MESH_SAMPLES = 30000
TABLE3_POINTS = 10000


def _points(points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected points of shape (N, 3), got {points.shape}")
    return points


def nearest_squared_distances(source, target) -> np.ndarray:
    """(N,) squared distance from each ``source`` point to its nearest ``target`` point."""
    source, target = _points(source), _points(target)
    if len(target) == 0:
        return np.full(len(source), np.inf)
    # Repeated points (a collapsed mesh samples one point thousands of times) degrade the k-d tree to a linear
    # scan per query; the distances to their unique set are the same.
    distances, _ = cKDTree(np.unique(target, axis=0)).query(source)
    return distances**2


def chamfer_one_sided(source, target) -> float:
    """Mean squared distance from ``source`` to ``target`` (Table 3: source = ground truth)."""
    return float(nearest_squared_distances(source, target).mean())


def chamfer_l2(points_a, points_b) -> float:
    """Symmetric Chamfer: mean squared NN distance a -> b plus b -> a (DeepSDF's and DIST's sum)."""
    return chamfer_one_sided(points_a, points_b) + chamfer_one_sided(points_b, points_a)


def sample_mesh_surface(vertices, faces, count: int, seed: int = 0) -> np.ndarray:
    """``count`` points uniform on the mesh surface (area-weighted), as trimesh's ``sample_surface``."""
    import trimesh

    faces = np.asarray(faces)
    if len(faces) == 0:
        return np.zeros((0, 3))
    mesh = trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), faces, process=False)
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points, dtype=np.float64)


def chamfer_deepsdf(gt_points, vertices, faces, offset=(0.0, 0.0, 0.0), scale: float = 1.0,
                    samples: int = DEEPSDF_MESH_SAMPLES, seed: int = 0) -> float:
    """DeepSDF's Chamfer of a reconstructed mesh (normalised frame) against GT surface samples (mesh frame).

    ``offset``, ``scale`` are the shape's NormalizationParameters; the sampled points are mapped back with
    ``x / scale - offset`` before the distances. Returns ``inf`` for an empty mesh (no surface found).
    """
    if len(faces) == 0:
        return float("inf")
    sampled = sample_mesh_surface(vertices, faces, samples, seed)
    sampled = sampled / float(scale) - np.asarray(offset, dtype=np.float64).reshape(3)
    return chamfer_l2(gt_points, sampled)


@dataclass(frozen=True)
class Summary:
    """Median, mean and a bootstrap interval of the median over instances."""

    count: int
    median: float
    mean: float
    median_low: float
    median_high: float

    def scaled(self, factor: float) -> "Summary":
        return Summary(self.count, self.median * factor, self.mean * factor, self.median_low * factor,
                       self.median_high * factor)


def summarize(values, confidence: float = 0.95, resamples: int = 10000, seed: int = 0) -> Summary:
    """Median, mean and the percentile-bootstrap ``confidence`` interval of the median of ``values``."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(resamples, len(values)))
    medians = np.median(values[draws], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return Summary(len(values), float(np.median(values)), float(np.mean(values)), float(low), float(high))


@dataclass(frozen=True)
class PairedComparison:
    """Method A against method B on the same instances (differences ``a - b``; < 0 means A is better).

    Attributes:
        count: instances where both values are finite (the pairs compared).
        median_difference: median of ``a - b`` over those pairs.
        low, high: percentile-bootstrap interval of that median (pairs resampled together).
        p_value: two-sided Wilcoxon signed-rank test of ``a - b`` (1.0 when every difference is 0, NaN
            without pairs).
        a_better: pairs with ``a < b``; ``b_better``: pairs with ``b < a``.
    """

    count: int
    median_difference: float
    low: float
    high: float
    p_value: float
    a_better: int
    b_better: int

    @property
    def interval_excludes_zero(self) -> bool:
        return self.count > 0 and (self.high < 0.0 or self.low > 0.0)


def paired_comparison(a, b, confidence: float = 0.95, resamples: int = 10000, seed: int = 0) -> PairedComparison:
    """Compare per-instance values ``a`` and ``b`` (same length, same instance order), see
    :class:`PairedComparison`. Pairs where either value is NaN or infinite (a failed fit) are left out."""
    from scipy.stats import wilcoxon

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired_comparison needs values of the same instances: {a.shape} against {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    difference = a[both] - b[both]
    if len(difference) == 0:
        nan = float("nan")
        return PairedComparison(0, nan, nan, nan, nan, 0, 0)
    spread = summarize(difference, confidence, resamples, seed)
    if np.all(difference == 0.0):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(difference, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedComparison(len(difference), spread.median, spread.median_low, spread.median_high, p_value,
                            int((difference < 0).sum()), int((difference > 0).sum()))
