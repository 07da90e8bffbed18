"""Seed statistics for results tables: mean ± std / SE and a bootstrap CI of a difference between two settings."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value)."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n))."""
    m, s = mean_std(values)
    return m, s / math.sqrt(len(values))


@dataclass(frozen=True)
class DiffCI:
    """mean(a) - mean(b) with a bootstrap confidence interval over seeds."""

    diff: float
    low: float
    high: float
    level: float
    n_a: int
    n_b: int
    exact: bool  # True: every resample enumerated; False: Monte Carlo resamples

    @property
    def established(self) -> bool:
        """A difference is established only when its interval does not hold zero."""
        return not (self.low <= 0.0 <= self.high)

    def text(self, digits: int = 1) -> str:
        """``-6.2 [-8.1, -4.0]`` or ``-1.2 [-3.0, 0.9]: not established``."""
        s = f"{self.diff:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"
        return s if self.established else f"{s}: not established"


def _resample_means(x: np.ndarray) -> np.ndarray:
    """The mean of every one of the n^n equally likely resamples of x (with replacement, order kept)."""
    idx = np.array(list(itertools.product(range(len(x)), repeat=len(x))))  # [n^n, n]
    return x[idx].mean(axis=1)


def diff_ci(a: Sequence[float], b: Sequence[float], *, level: float = 0.95, n_boot: int = 20000,
            seed: int = 0, max_exact: int = 1_000_000) -> DiffCI:
    """Percentile bootstrap over seeds of mean(a) - mean(b): each arm's seeds resampled with replacement.

    With a few seeds per arm the bootstrap distribution is small enough to enumerate exactly (3 vs 3 seeds:
    27 x 27 equally likely pairs), so the interval is deterministic; above ``max_exact`` pairs it is Monte Carlo
    with ``n_boot`` seeded resamples. With 3 seeds the percentile interval is narrow (it under-covers), so an
    interval that holds zero means "not established", and one that does not is still a weak claim.
    Written by hand: scipy.stats.bootstrap resamples at random only and needs n >= 2 per arm per resample.

    Args:
        a, b: per-seed values of the two settings (at least 2 each).
    Returns:
        a :class:`DiffCI` (``.established`` is False when the interval holds zero).
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(xa) < 2 or len(xb) < 2:
        raise ValueError(f"diff_ci needs at least 2 values per arm, got {len(xa)} and {len(xb)}")
    if not (0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level}")
    q = [(1 - level) / 2, (1 + level) / 2]
    exact = len(xa) ** len(xa) * len(xb) ** len(xb) <= max_exact
    if exact:
        diffs = (_resample_means(xa)[:, None] - _resample_means(xb)[None, :]).ravel()
    else:
        rng = np.random.default_rng(seed)
        diffs = (xa[rng.integers(0, len(xa), (n_boot, len(xa)))].mean(1)
                 - xb[rng.integers(0, len(xb), (n_boot, len(xb)))].mean(1))
    low, high = np.quantile(diffs, q)
    return DiffCI(float(xa.mean() - xb.mean()), float(low), float(high), level, len(xa), len(xb), exact)


def diff_text(a: Sequence[float], b: Sequence[float], digits: int = 1) -> str:
    """``diff_ci(a, b).text(digits)``; where an arm has fewer than 2 seeds, the difference of means and that no
    interval exists (``+3.0 (one seed in an arm: no interval; not established)``)."""
    if len(a) < 2 or len(b) < 2:
        if not len(a) or not len(b):
            raise ValueError(f"diff_text needs at least 1 value per arm, got {len(a)} and {len(b)}")
        d = float(np.mean(a) - np.mean(b))
        return f"{d:+.{digits}f} (one seed in an arm: no interval; not established)"
    return diff_ci(a, b).text(digits)


def ci_note(*seeds: int) -> str:
    """The note under a table of ``diff_ci`` intervals, naming the arms' seed counts (``ci_note(3)``,
    ``ci_note(5, 10)``): what the interval is, and that with few seeds it under-covers."""
    counts = sorted(set(seeds))
    if not counts or counts[0] < 2:
        raise ValueError(f"ci_note needs seed counts of at least 2, got {list(seeds)}")
    if len(counts) == 1:
        over, few = f"the {counts[0]} seeds of each arm (", f"{counts[0]} seeds"
    else:
        over, few = (f"the seeds of each arm ({' and '.join(map(str, counts))} seeds; ",
                     f"{counts[0]} to {counts[-1]} seeds")
    return (f"CI: percentile bootstrap over {over}`ganlab.results.diff_ci`); with {few} an interval under-covers: "
            "one that holds 0 means not established, one that does not is still a weak claim.")


def subsample_means(values: Sequence[float], k: int = 5, *, level: float = 0.90, n_boot: int = 20000,
                    seed: int = 0) -> tuple[float, float]:
    """Central ``level`` interval of the mean of ``k`` seeds drawn with replacement from ``values``.

    What a paper's "mean of k runs" would scatter over if its runs were drawn from the distribution these seeds
    sample: a published k-run mean inside the interval is reproduced by this distribution. Monte Carlo with
    ``n_boot`` seeded draws (numpy; scipy.stats.bootstrap bootstraps a statistic of the whole sample, not the
    mean of a k-subsample).
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2 or k < 1:
        raise ValueError(f"subsample_means needs at least 2 values and k >= 1, got {len(x)} values, k={k}")
    if not (0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level}")
    means = x[np.random.default_rng(seed).integers(0, len(x), (n_boot, k))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def share_ci(hits: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a share ``hits / n``, e.g. of collapsed seeds (scipy.stats.binomtest)."""
    from scipy.stats import binomtest

    if n < 1 or not (0 <= hits <= n):
        raise ValueError(f"share_ci needs 0 <= hits <= n and n >= 1, got {hits} of {n}")
    ci = binomtest(hits, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)
