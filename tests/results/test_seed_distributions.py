"""Seed-distribution statistics on hand-made inputs: the k-seed mean interval and the share interval."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.results import share_ci, subsample_means


def test_constant_seeds_give_a_point_interval():
    assert subsample_means([8.0, 8.0, 8.0], k=5) == (8.0, 8.0)


def test_subsample_interval_of_two_values_matches_the_binomial():
    # seeds 0 and 10: the mean of 5 draws is 2 * Binomial(5, 1/2); its central 90 % is [2, 8]
    low, high = subsample_means([0.0, 10.0], k=5, level=0.90, n_boot=200_000)
    assert (low, high) == (2.0, 8.0)
    # one draw (k=1) is one of the two values
    assert subsample_means([0.0, 10.0], k=1, level=0.5, n_boot=10_000) == (0.0, 10.0)


def test_subsample_interval_narrows_with_k_and_holds_the_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, 40)
    l5, h5 = subsample_means(x, k=5)
    l20, h20 = subsample_means(x, k=20)
    assert l5 < l20 < x.mean() < h20 < h5
    # the normal approximation: mean ± 1.645 sd / sqrt(k) (population sd of the resampled set)
    half = 1.645 * x.std() / np.sqrt(5)
    assert (h5 - l5) / 2 == pytest.approx(half, rel=0.05)


def test_share_interval_is_clopper_pearson():
    # 0 of 10: the upper bound solves (1 - p)^10 = 0.025
    low, high = share_ci(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-6)
    low, high = share_ci(10, 10)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 10), rel=1e-6)
    low, high = share_ci(5, 20)
    assert low < 0.25 < high and (round(low, 3), round(high, 3)) == (0.087, 0.491)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least 2 values"):
        subsample_means([1.0], k=5)
    with pytest.raises(ValueError, match="hits <= n"):
        share_ci(3, 2)
