"""Chamfer variants on cases with exact answers, and the median summaries."""

import numpy as np
import pytest
import trimesh

from dist_core import metrics


def grid_points(n=6):
    axis = np.arange(n, dtype=np.float64)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def test_identical_point_sets_have_zero_chamfer():
    points = np.random.default_rng(0).uniform(size=(500, 3))
    assert metrics.chamfer_l2(points, points) == 0.0
    assert metrics.chamfer_one_sided(points, points) == 0.0


def test_shifted_grid_has_the_squared_shift_in_each_direction():
    points = grid_points()
    shifted = points + np.array([0.1, 0.0, 0.0])
    assert metrics.chamfer_one_sided(points, shifted) == pytest.approx(0.01)
    assert metrics.chamfer_l2(points, shifted) == pytest.approx(0.02)


def test_one_sided_chamfer_is_directional():
    line = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]])
    origin = line[:1]
    assert metrics.chamfer_one_sided(origin, line) == 0.0
    assert metrics.chamfer_one_sided(line, origin) == pytest.approx(5.0 / 3.0)
    assert metrics.chamfer_l2(line, origin) == pytest.approx(5.0 / 3.0)


def test_deepsdf_chamfer_maps_the_mesh_back_to_the_ground_truth_frame():
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.25))
    gt = metrics.sample_mesh_surface(box.vertices, box.faces, 20000, seed=5)
    offset, scale = np.array([0.3, -0.1, 0.2]), 1.7
    normalized = (box.vertices + offset) * scale
    in_own_frame = metrics.chamfer_deepsdf(gt, box.vertices, box.faces, seed=9)
    mapped_back = metrics.chamfer_deepsdf(gt, normalized, box.faces, offset, scale, seed=9)
    assert mapped_back == pytest.approx(in_own_frame, rel=1e-9)
    # Without the mapping the mesh is off by the normalisation: a far larger distance.
    assert metrics.chamfer_deepsdf(gt, normalized, box.faces, seed=9) > 100 * in_own_frame
    # Sampling floor of two 30K / 20K samplings of the same surface: small against the box's size.
    assert in_own_frame < 1e-3


def test_summary_of_known_values():
    summary = metrics.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary.count == 5 and summary.median == 3.0 and summary.mean == 22.0
    assert summary.median_low <= 3.0 <= summary.median_high
    assert 1.0 <= summary.median_low and summary.median_high <= 100.0
    constant = metrics.summarize([0.5] * 7)
    assert (constant.median, constant.median_low, constant.median_high) == (0.5, 0.5, 0.5)
    assert metrics.summarize([2.0, 4.0]).scaled(1000).median == 3000.0


def test_bootstrap_interval_covers_the_population_median_and_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    small = metrics.summarize(rng.exponential(size=30), seed=2)
    large = metrics.summarize(rng.exponential(size=3000), seed=2)
    assert large.median_low < np.log(2.0) < large.median_high
    assert large.median_high - large.median_low < small.median_high - small.median_low


def test_paired_comparison_of_a_consistently_better_method():
    rng = np.random.default_rng(1)
    b = rng.uniform(2.0, 6.0, size=30)
    a = b - rng.uniform(0.2, 0.6, size=30)  # better on every instance, by far less than the spread between instances
    result = metrics.paired_comparison(a, b, seed=0)
    assert result.count == 30 and result.a_better == 30 and result.b_better == 0
    assert result.median_difference == pytest.approx(np.median(a - b))
    assert result.low <= result.median_difference <= result.high < 0 and result.interval_excludes_zero
    # 30 differences of one sign: the exact two-sided signed-rank p-value is 2 / 2^30.
    assert result.p_value == pytest.approx(2.0 / 2**30, rel=1e-6)
    # The unpaired intervals of the two medians overlap: only the pairing decides this comparison.
    sa, sb = metrics.summarize(a), metrics.summarize(b)
    assert sa.median_high > sb.median_low


def test_paired_comparison_leaves_out_failed_pairs_and_handles_ties():
    a = np.array([1.0, np.nan, 3.0, 2.0, np.inf])
    b = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    tied = metrics.paired_comparison(a, b)
    assert tied.count == 3 and tied.median_difference == 0.0 and tied.p_value == 1.0
    assert not tied.interval_excludes_zero
    empty = metrics.paired_comparison([np.nan], [1.0])
    assert empty.count == 0 and np.isnan(empty.p_value)
    with pytest.raises(ValueError, match="same instances"):
        metrics.paired_comparison([1.0, 2.0], [1.0])


def test_nearest_distances_to_a_collapsed_target_are_exact():
    from dist_core.metrics import nearest_squared_distances

    source = np.random.default_rng(0).random((500, 3))
    target = np.vstack([np.zeros((20000, 3)), [[1.0, 1.0, 1.0]]])
    expected = np.minimum((source**2).sum(1), ((source - 1.0) ** 2).sum(1))
    assert np.allclose(nearest_squared_distances(source, target), expected)
