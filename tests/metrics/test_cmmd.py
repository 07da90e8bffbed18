"""CMMD equals a direct double loop over pairs, in both estimators, whatever the chunking; names carry the protocol."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.metrics.scoring.scores import cmmd
from ganlab.metrics.scoring.suite import compute_metrics, halves, protocol_names


def naive_cmmd(x: list[list[float]], y: list[list[float]], sigma: float, scale: float, unbiased: bool) -> float:
    """The paper's formula, written out pair by pair on L2-normalised rows (plain Python floats)."""

    def unit(v):
        n = math.sqrt(sum(a * a for a in v))
        return [a / n for a in v]

    def k(a, b):
        return math.exp(-sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) / (2 * sigma**2))

    x, y = [unit(v) for v in x], [unit(v) for v in y]
    n, m = len(x), len(y)

    def within(s):
        pairs = [(i, j) for i in range(len(s)) for j in range(len(s)) if i != j or not unbiased]
        return sum(k(s[i], s[j]) for i, j in pairs) / len(pairs)

    cross = sum(k(a, b) for a in x for b in y) / (n * m)
    return scale * (within(x) + within(y) - 2 * cross)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("chunk", [2, 1000])
def test_cmmd_matches_direct_double_loop(estimator, chunk):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(9, 4, generator=g), torch.randn(6, 4, generator=g) + 0.7
    # sigma = 0.5 makes the kernel vary on the unit sphere, so a wrong pair or normalisation shows
    for sigma in (0.5, 10.0):
        want = naive_cmmd(x.tolist(), y.tolist(), sigma, 1000.0, estimator == "unbiased")
        got = cmmd(x, y, sigma=sigma, estimator=estimator, chunk=chunk)["cmmd"]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert abs(want) > 1e-3  # the check is not on a value that is ~0 anyway


def test_cmmd_defaults_are_the_papers_and_rows_are_normalised():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 5, generator=g, dtype=torch.float64), torch.randn(7, 5, generator=g, dtype=torch.float64)
    default = cmmd(x, y)["cmmd"]
    assert default == pytest.approx(naive_cmmd(x.tolist(), y.tolist(), 10.0, 1000.0, True), rel=1e-9)
    # on unit vectors: a feature's scale does not matter
    assert cmmd(3 * x, 0.1 * y)["cmmd"] == pytest.approx(default, rel=1e-9)
    # biased - unbiased = (1 - mean within-set kernel) / n per set: small and positive here
    gap = cmmd(x, y, estimator="biased")["cmmd"] - default
    assert 0 < gap < 0.04 * 1000 / 7


def test_cmmd_separates_shifted_sets_and_rejects_bad_estimator():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(40, 8, generator=g) + 2
    same = cmmd(x[:20], x[20:])["cmmd"]
    shifted = cmmd(x[:20], torch.randn(20, 8, generator=g) - 2)["cmmd"]
    assert abs(same) < 0.1 * shifted and shifted > 1
    with pytest.raises(ValueError, match="cmmd.estimator='v'; valid: unbiased, biased"):
        cmmd(x, x, estimator="v")


def test_compute_metrics_cmmd_and_protocol_names():
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(30, 6, generator=g), torch.randn(20, 6, generator=g)
    values = compute_metrics(real, {"features": fake}, ["fid", "cmmd"], cmmd_sigma=2.0, cmmd_estimator="biased")
    assert values["cmmd"] == pytest.approx(cmmd(real, fake, sigma=2.0, estimator="biased")["cmmd"], rel=1e-12)
    named = protocol_names({**values, "kid": 1.0, "kid_std": 0.5, "precision": 0.3}, "dinov2_b14")
    assert named == {"fd_dinov2_b14": values["fid"], "cmmd_dinov2_b14": values["cmmd"], "kd_dinov2_b14": 1.0,
                     "kd_std_dinov2_b14": 0.5, "precision_dinov2_b14": 0.3}
    assert protocol_names(values, None) == values


def test_halves_are_disjoint_seeded_halves():
    real = torch.arange(11.0)[:, None].expand(-1, 2)
    a, b = halves(real, seed=4)
    assert a.shape == b.shape == (5, 2)
    assert not set(a[:, 0].tolist()) & set(b[:, 0].tolist())
    assert torch.equal(halves(real, seed=4)[0], a) and not torch.equal(halves(real, seed=5)[0], a)
