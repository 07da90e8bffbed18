"""The bootstrap CI of a difference over seeds, on hand-made per-seed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ganlab.results.stats import diff_ci, mean_se, mean_std


def test_two_seeds_against_a_constant_arm_gives_the_hand_computed_percentiles():
    # a = [0, 3]: its 4 equally likely resamples have means 0, 1.5, 1.5, 3; b = [0, 0] always has mean 0.
    # numpy's linear quantile over the 16 pairs [0]*4 + [1.5]*8 + [3]*4: position 0.025*15 = 0.375 -> 0,
    # position 0.975*15 = 14.625 -> 3
    ci = diff_ci([0.0, 3.0], [0.0, 0.0])
    assert ci.exact and ci.diff == 1.5
    assert (ci.low, ci.high) == (0.0, 3.0)
    assert not ci.established  # the interval reaches 0: one resample of a is all zeros
    # quartiles: position 3.75 lies between index 3 (0) and 4 (1.5) -> 1.125; 11.25 between 11 (1.5) and 12 (3)
    half = diff_ci([0.0, 3.0], [0.0, 0.0], level=0.5)
    assert half.low == pytest.approx(1.125) and half.high == pytest.approx(1.875)
    assert half.established


def test_exact_enumeration_matches_a_brute_force_of_every_resample_pair():
    a, b = [9.8, 10.5, 9.4], [14.7, 17.9, 15.8]  # the zoo's DRAGAN and baseline seeds
    means = [np.mean([x[i] for i in idx]) for x in (a, b) for idx in itertools.product(range(3), repeat=3)]
    ma, mb = np.array(means[:27]), np.array(means[27:])
    diffs = (ma[:, None] - mb[None, :]).ravel()
    ci = diff_ci(a, b)
    assert ci.diff == pytest.approx(np.mean(a) - np.mean(b))
    assert ci.low == pytest.approx(np.quantile(diffs, 0.025)) and ci.high == pytest.approx(np.quantile(diffs, 0.975))
    assert ci.established and ci.high < 0  # every resample of DRAGAN beats every resample of the baseline
    assert "not established" not in ci.text()


def test_overlapping_seeds_are_not_established_and_say_so():
    ci = diff_ci([15.0, 15.2, 16.5], [14.7, 17.9, 15.8])  # label smoothing vs the baseline
    assert ci.low < 0 < ci.high and not ci.established
    assert ci.text().endswith(": not established")
    same = diff_ci([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.diff == 0 and same.low < 0 < same.high


def test_large_arms_use_seeded_monte_carlo_that_agrees_with_the_normal_approximation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 40)
    ci = diff_ci(a, b)
    assert not ci.exact
    se = np.sqrt(a.var(ddof=1) / 40 + b.var(ddof=1) / 40)
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert diff_ci(a, b) == ci  # seeded: the same interval every time


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 values per arm"):
        diff_ci([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        diff_ci([1.0, 2.0], [1.0, 2.0], level=1.5)


def test_mean_std_and_se():
    assert mean_std([14.7, 17.9, 15.8]) == pytest.approx((16.1333, 1.6258), abs=1e-4)
    assert mean_se([1.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert mean_std([5.0]) == (5.0, 0.0)
