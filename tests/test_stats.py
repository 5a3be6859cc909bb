"""Cluster bootstrap: resamples draw whole groups; intervals are percentiles."""

import numpy as np
import pytest

from scratchllm import stats


def test_a_resample_takes_whole_groups_as_many_as_there_are():
    groups = ["a", "a", "b", "c", "c", "c"]
    for sample in stats.cluster_resamples(groups, resamples=50, seed=1):
        drawn = [groups[i] for i in sample]
        for g in set(drawn):
            # every item of a drawn group, as often as the group was drawn
            assert drawn.count(g) % groups.count(g) == 0
        assert sum(drawn.count(g) // groups.count(g) for g in set(drawn)) == 3


def test_resamples_depend_on_the_seed_only():
    groups = list("aabbccddee")
    first = list(stats.cluster_resamples(groups, 20, seed=3))
    again = list(stats.cluster_resamples(groups, 20, seed=3))
    other = list(stats.cluster_resamples(groups, 20, seed=4))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other, strict=True))


def test_bootstrap_means_are_paired_and_centred_on_the_mean():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 5)
    a = rng.random(150)
    means = stats.bootstrap_means({"a": a, "b": a + 0.1}, groups, resamples=300)
    # The same resamples for both: their difference is exactly 0.1 each time.
    assert np.allclose(means["b"] - means["a"], 0.1)
    assert abs(means["a"].mean() - a.mean()) < 0.02
    assert means["a"].std() > 0


def test_interval_gives_the_percentiles():
    values = np.arange(1001, dtype=float)
    assert stats.interval(values) == pytest.approx((25.0, 975.0))
    assert stats.interval(values, level=0.9) == pytest.approx((50.0, 950.0))
    low, high = stats.interval(np.random.default_rng(0).normal(size=5000))
    assert low == pytest.approx(-1.96, abs=0.1) and high == pytest.approx(1.96, abs=0.1)
    assert all(isinstance(v, float) for v in (low, high))
