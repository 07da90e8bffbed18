"""Metric functions on precomputed features against closed forms and direct (brute-force) implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from ganlab.metrics.scoring import scores


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Closed-form Fréchet distance between N(mu1, s1) and N(mu2, s2), via scipy's sqrtm."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _sample_frechet(x: np.ndarray, y: np.ndarray) -> float:
    return _frechet(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


# ---------------------------------------------------------------- FID


@pytest.fixture(scope="module")
def gaussians() -> dict:
    """20k samples each of two known 8-d Gaussians (float64)."""
    d = 8
    a = torch.randn(d, d, generator=_gen(0), dtype=torch.float64) * 0.3
    s1 = torch.eye(d, dtype=torch.float64) + a @ a.T
    mu2 = torch.full((d,), 0.3, dtype=torch.float64)
    s2 = torch.diag(torch.linspace(0.5, 1.5, d, dtype=torch.float64))
    g = _gen(1)
    x = torch.randn(20_000, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s1).T
    y = torch.randn(20_000, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s2).T + mu2
    return {"x": x, "y": y, "mu1": np.zeros(d), "s1": s1.numpy(), "mu2": mu2.numpy(), "s2": s2.numpy()}


def test_fid_gaussians_match_closed_form(gaussians):
    x, y = gaussians["x"], gaussians["y"]
    value = scores.fid(x, y)
    assert isinstance(value, float)
    assert value == pytest.approx(_sample_frechet(x.numpy(), y.numpy()), rel=1e-3)
    true = _frechet(gaussians["mu1"], gaussians["s1"], gaussians["mu2"], gaussians["s2"])
    assert value == pytest.approx(true, rel=0.05)  # sampling noise of 20k draws (observed ~1-2 %)


def test_fid_matches_scipy_on_non_gaussian_features():
    g = _gen(2)
    x = torch.empty(500, 6, dtype=torch.float64).exponential_(generator=g) ** 2
    y = torch.rand(400, 6, generator=g, dtype=torch.float64) * 3
    assert scores.fid(x, y) == pytest.approx(_sample_frechet(x.numpy(), y.numpy()), rel=1e-6)
    # float32 input on the same data gives the float64 answer up to input rounding
    assert scores.fid(x.float(), y.float()) == pytest.approx(scores.fid(x, y), rel=1e-4)


def test_fid_self_is_zero(gaussians):
    assert abs(scores.fid(gaussians["x"], gaussians["x"])) < 1e-6


def test_fid_rejects_bad_shapes():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="at least 2"):
        scores.fid(x, x[:1])
    with pytest.raises(ValueError, match="feature sizes differ"):
        scores.fid(x, torch.randn(10, 5))


# ---------------------------------------------------------------- KID


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Bińkowski et al. 2018, Eq. 4, with k(a, b) = (a.b / D + 1)^3, written out directly."""
    d = x.shape[1]
    m, n = len(x), len(y)
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.sum() / (m * n))


def test_kid_whole_set_matches_direct_formula():
    g = _gen(3)
    x = torch.randn(200, 16, generator=g, dtype=torch.float64)
    y = torch.randn(200, 16, generator=g, dtype=torch.float64) * 1.2 + 0.1
    out = scores.kid(x, y, subsets=1, subset_size=200)
    assert out["kid"] == pytest.approx(_mmd2_unbiased(x.numpy(), y.numpy()), rel=1e-6)
    assert out["kid_std"] == 0.0
    assert (out["kid_subsets"], out["kid_subset_size"]) == (1, 200)


def test_kid_shrinks_subset_size():
    g = _gen(4)
    x, y = torch.randn(150, 8, generator=g), torch.randn(120, 8, generator=g)
    out = scores.kid(x, y, subsets=3, subset_size=1000)
    assert out["kid_subset_size"] == 120 and out["kid_subsets"] == 3
    assert np.isfinite(out["kid"]) and out["kid_std"] >= 0


def test_kid_seeded_and_leaves_global_rng_alone():
    g = _gen(5)
    x, y = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g) + 0.2
    state = torch.get_rng_state()
    a = scores.kid(x, y, subsets=5, subset_size=50, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert scores.kid(x, y, subsets=5, subset_size=50, seed=0) == a
    assert scores.kid(x, y, subsets=5, subset_size=50, seed=1)["kid"] != a["kid"]


# ---------------------------------------------------------------- Inception Score


def test_is_uniform_predictions_is_one():
    out = scores.inception_score(torch.zeros(100, 10), splits=10)
    assert out["is"] == pytest.approx(1.0, abs=1e-12)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-12)
    assert out["is_splits"] == 10


def test_is_confident_even_predictions_is_num_classes():
    c = 10
    logits = 50.0 * torch.nn.functional.one_hot(torch.arange(1000) % c, c).float()
    out = scores.inception_score(logits, splits=1)
    assert out["is"] == pytest.approx(c, rel=1e-3)
    assert out["is_splits"] == 1 and out["is_std"] == 0.0


def test_is_matches_direct_formula_from_logits():
    logits = torch.randn(500, 7, generator=_gen(6), dtype=torch.float64) * 2
    p = torch.softmax(logits, dim=1).numpy()
    py = p.mean(0, keepdims=True)
    direct = float(np.exp((p * (np.log(p) - np.log(py))).sum(1).mean()))
    assert scores.inception_score(logits, splits=1)["is"] == pytest.approx(direct, rel=1e-10)


def test_is_splits_recorded_and_seeded():
    logits = torch.randn(10, 4, generator=_gen(7))
    assert scores.inception_score(logits[:5], splits=10)["is_splits"] == 5  # min(splits, N)
    assert scores.inception_score(logits, splits=6)["is_splits"] == 5  # torch.chunk: 5 pieces of 2
    assert len(torch.arange(10).chunk(6)) == 5
    state = torch.get_rng_state()
    a = scores.inception_score(logits, splits=5, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert scores.inception_score(logits, splits=5, seed=0) == a
    assert scores.inception_score(logits, splits=5, seed=1)["is"] != a["is"]


# ---------------------------------------------------------------- PRDC


def _prdc_brute(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict:
    """The definitions, pair by pair in plain Python."""

    def dist(a, b):
        return float(np.sqrt(((a - b) ** 2).sum()))

    def radius(points, i, k):  # distance to the k-th nearest other point
        return sorted(dist(points[i], points[j]) for j in range(len(points)) if j != i)[k - 1]

    n, m = len(real), len(fake)
    rr_pr = [radius(real, i, k_pr) for i in range(n)]
    rr_dc = [radius(real, i, k_dc) for i in range(n)]
    rf_pr = [radius(fake, j, k_pr) for j in range(m)]
    d = [[dist(fake[j], real[i]) for i in range(n)] for j in range(m)]
    precision = sum(any(d[j][i] <= rr_pr[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(d[j][i] <= rf_pr[j] for j in range(m)) for i in range(n)) / n
    density = sum(d[j][i] <= rr_dc[i] for j in range(m) for i in range(n)) / (k_dc * m)
    coverage = sum(min(d[j][i] for j in range(m)) <= rr_dc[i] for i in range(n)) / n
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.fixture(scope="module")
def points() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(8)
    return torch.randn(30, 3, generator=g), torch.randn(25, 3, generator=g) * 1.3 + 0.4


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(("k_pr", "k_dc"), [(1, 1), (3, 5), (2, 4), (5, 3)])
def test_prdc_matches_brute_force(points, k_pr, k_dc, exact):
    real, fake = points
    out = scores.prdc(real, fake, k_pr=k_pr, k_dc=k_dc, chunk=7, exact=exact)
    ref = _prdc_brute(real.double().numpy(), fake.double().numpy(), k_pr, k_dc)
    for key, value in ref.items():
        assert out[key] == pytest.approx(value, abs=1e-12), key
    assert (out["prdc_k_pr"], out["prdc_k_dc"]) == (k_pr, k_dc)


def test_prdc_identical_sets(points):
    real = points[0]
    ref = _prdc_brute(real.double().numpy(), real.double().numpy(), 3, 5)
    # every real is in its own ball plus those of the k reals that have it as a neighbour: (k + 1) / k
    assert ref == {"precision": 1.0, "recall": 1.0, "density": pytest.approx(6 / 5), "coverage": 1.0}
    for chunk, exact in itertools.product([7, 10_000], [False, True]):
        out = scores.prdc(real, real.clone(), chunk=chunk, exact=exact)
        assert (out["precision"], out["recall"], out["coverage"]) == (1.0, 1.0, 1.0)
        # GEMM distances may round an exact tie (a duplicate's k-th neighbour) out of its ball; direct ones never do
        assert out["density"] == (pytest.approx(6 / 5, abs=1e-12) if exact else pytest.approx(6 / 5, abs=0.05))


def test_prdc_far_away_fakes_score_zero(points):
    real, fake = points
    out = scores.prdc(real, fake + 1000.0)
    assert [out[k] for k in ("precision", "recall", "density", "coverage")] == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("exact", [False, True])
def test_prdc_chunking_does_not_change_result(exact):
    g = _gen(9)
    real, fake = torch.randn(60, 5, generator=g), torch.randn(45, 5, generator=g) + 0.3
    assert scores.prdc(real, fake, chunk=7, exact=exact) == scores.prdc(real, fake, chunk=10_000, exact=exact)


def test_prdc_rejects_too_few_points():
    with pytest.raises(ValueError, match="k_pr"):
        scores.prdc(torch.randn(5, 2), torch.randn(5, 2), k_pr=3, k_dc=5)


# ---------------------------------------------------------------- FID-infinity


def test_fid_infinity_extrapolates_to_large_sample_fid():
    d = 32
    g = _gen(10)
    scale = torch.linspace(0.8, 1.2, d, dtype=torch.float64)
    real = torch.randn(20_000, d, generator=g, dtype=torch.float64)
    fake = torch.randn(10_000, d, generator=g, dtype=torch.float64) * scale + 0.05
    out = scores.fid_infinity(real, fake, num_points=15, seed=0)
    pts = out["fid_inf_points"]
    assert len(pts) == 15 and pts[0][0] == 2_000 and pts[-1][0] == 10_000  # default min: max(M // 5, 2 D)
    assert all(isinstance(n, int) for n, _ in pts)
    big = scores.fid(real, torch.randn(200_000, d, generator=g, dtype=torch.float64) * scale + 0.05)
    assert out["fid_inf"] < pts[0][1] - 0.1  # FID_N is biased upwards by ~b / N (here ~0.17 at N = 2000)
    assert out["fid_inf"] == pytest.approx(big, abs=0.05)  # ~10 %: the fit's noise from finite subsets
    assert scores.fid_infinity(real, fake, seed=0) == out


def test_fid_infinity_rejects_degenerate_range():
    x = torch.randn(50, 2)
    with pytest.raises(ValueError, match="min_samples"):
        scores.fid_infinity(x, x, min_samples=50)
