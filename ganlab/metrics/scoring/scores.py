"""Sample-quality metrics on precomputed feature matrices: FID, KID, IS, PRDC, FID-infinity, CMMD.

Inputs are float tensors ``[N, D]`` on any device; results are plain Python floats (JSON-ready).
FID, KID and IS are torchmetrics' own implementations fed through :class:`IdentityFeatures`;
PRDC, FID-infinity and CMMD are written here because torchmetrics has none of them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

CHUNK = 10_000  # rows per update(): FID keeps only [D] sums and a [D, D] moment, so memory stays bounded


class IdentityFeatures(nn.Module):
    """Pass-through "feature extractor", so torchmetrics' image metrics accept precomputed features.

    Args:
        num_features: feature size D (FrechetInceptionDistance sizes its [D, D] state from it).
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: Tensor) -> Tensor:
        """Features [N, D] -> the same tensor."""
        return x


def _check_pair(real: Tensor, fake: Tensor, min_rows: int = 2) -> None:
    if real.ndim != 2 or fake.ndim != 2:
        raise ValueError(f"features must be [N, D] matrices, got real {tuple(real.shape)} and fake {tuple(fake.shape)}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: real has D={real.shape[1]}, fake has D={fake.shape[1]}")
    if real.shape[0] < min_rows or fake.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} real and fake rows, got N={real.shape[0]}, M={fake.shape[0]}")


@contextmanager
def _quiet() -> Iterator[None]:
    """Silences torchmetrics' 'will save all extracted features in buffer' notice (they are in memory anyway)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        yield


def _fid_metric(real: Tensor) -> FrechetInceptionDistance:
    """An FID metric on real's device holding real's statistics, kept across reset() (for FID-infinity)."""
    metric = FrechetInceptionDistance(feature=IdentityFeatures(real.shape[1]), normalize=False,
                                      reset_real_features=False).to(real.device)
    _feed(metric, real, real=True)
    return metric


def _feed(metric: FrechetInceptionDistance, x: Tensor, real: bool) -> None:
    for i in range(0, x.shape[0], CHUNK):
        metric.update(x[i : i + CHUNK].double(), real=real)  # torchmetrics accumulates sums in float64


def fid(real: Tensor, fake: Tensor) -> float:
    """Fréchet Inception Distance (Heusel et al. 2017) between Gaussian fits of two feature sets.

    Args:
        real: real features [N, D], N >= 2.
        fake: generated features [M, D], M >= 2.

    Returns:
        ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)), covariances with 1/(n - 1).
    """
    _check_pair(real, fake)
    metric = _fid_metric(real)
    _feed(metric, fake, real=False)
    return float(metric.compute())


def kid(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2, kernel (x.y / D + 1)^3.

    Args:
        real: real features [N, D], N >= 2.
        fake: generated features [M, D], M >= 2.
        subsets: number of random subsets averaged over.
        subset_size: rows per subset, shrunk to min(subset_size, N, M) for small sets.
        seed: seeds the subset draws (the caller's global RNG is left untouched).

    Returns:
        {"kid": mean, "kid_std": std over subsets (1/n), "kid_subsets", "kid_subset_size" (effective)}.
    """
    _check_pair(real, fake)
    size = min(subset_size, real.shape[0], fake.shape[0])
    with _quiet():
        metric = KernelInceptionDistance(feature=IdentityFeatures(real.shape[1]), subsets=subsets,
                                         subset_size=size, degree=3, gamma=None, coef=1.0).to(real.device)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    # torchmetrics draws subsets with torch.randperm on the global CPU generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return {"kid": float(mean), "kid_std": float(std), "kid_subsets": subsets, "kid_subset_size": size}


def inception_score(logits: Tensor, splits: int = 10, seed: int = 0) -> dict:
    """Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean/std over splits.

    torchmetrics 1.9 applies softmax / log_softmax to its "features", so class *logits* (not
    probabilities) are the right input here.

    Args:
        logits: classifier logits [N, C] of the generated samples.
        splits: number of splits, shrunk to min(splits, N).
        seed: seeds torchmetrics' shuffle before splitting (the caller's global RNG is left untouched).

    Returns:
        {"is": mean, "is_std": std over splits (1/(n - 1); 0 for one split), "is_splits": splits used}.
    """
    if logits.ndim != 2 or logits.shape[0] < 1:
        raise ValueError(f"logits must be a non-empty [N, C] matrix, got {tuple(logits.shape)}")
    n = logits.shape[0]
    splits = min(splits, n)
    # torch.chunk makes ceil(N / ceil(N / splits)) pieces, which can be fewer than asked (N=10, 6 -> 5 of 2)
    used = math.ceil(n / math.ceil(n / splits))
    with _quiet():
        metric = InceptionScore(feature=IdentityFeatures(logits.shape[1]), splits=splits).to(logits.device)
    metric.update(logits.double())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")  # std of a single split: 'degrees of freedom <= 0'
        mean, std = metric.compute()
    return {"is": float(mean), "is_std": float(std) if used > 1 else 0.0, "is_splits": used}


def _cdist(x: Tensor, y: Tensor, exact: bool) -> Tensor:
    """Euclidean distances [len(x), len(y)] in float64."""
    # GEMM (|x|^2 + |y|^2 - 2 x.y) is ~5x faster on CPU; the direct form is bit-identical for any chunking
    mode = "donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist"
    return torch.cdist(x, y, compute_mode=mode)


def _knn_radii(x: Tensor, ks: list[int], chunk: int, exact: bool) -> dict[int, Tensor]:
    """Distance from each row of x [n, D] to its k-th nearest *other* row, for each k: {k: [n]}."""
    n, kmax = x.shape[0], max(ks)
    out = torch.empty(n, kmax, dtype=torch.float64, device=x.device)
    for s in range(0, n, chunk):
        d = _cdist(x[s : s + chunk], x, exact)  # [c, n]
        rows = torch.arange(d.shape[0], device=x.device)
        d[rows, rows + s] = math.inf  # exclude self (duplicates of a row still count as neighbours)
        out[s : s + chunk] = d.topk(kmax, dim=1, largest=False).values  # ascending
    return {k: out[:, k - 1] for k in ks}


def prdc(real: Tensor, fake: Tensor, k_pr: int = 3, k_dc: int = 5, chunk: int = 1024, exact: bool = False) -> dict:
    """Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

    Written here: torchmetrics has none of these and torch-fidelity's ``prc`` lacks density/coverage.

    Args:
        real: real features [N, D], N > max(k_pr, k_dc).
        fake: generated features [M, D], M > k_pr.
        k_pr: neighbourhood size of the precision/recall radii.
        k_dc: neighbourhood size of the density/coverage radii (real only).
        chunk: rows per distance block; at most chunk x max(N, M) distances are held at once.
        exact: direct differences instead of the GEMM expansion (slower; exact ties, e.g. copied samples).

    Returns:
        {"precision", "recall", "density", "coverage", "prdc_k_pr", "prdc_k_dc"}.
    """
    _check_pair(real, fake)
    n, m = real.shape[0], fake.shape[0]
    if min(k_pr, k_dc) < 1 or n <= max(k_pr, k_dc) or m <= k_pr:
        raise ValueError(f"need 1 <= k_pr={k_pr}, k_dc={k_dc} with N={n} > max(k_pr, k_dc) and M={m} > k_pr")
    real, fake = real.double(), fake.to(real.device, torch.float64)
    rad_r = _knn_radii(real, [k_pr, k_dc], chunk, exact)  # {k: [N]}
    rad_f = _knn_radii(fake, [k_pr], chunk, exact)[k_pr]  # [M]
    in_pr = torch.zeros((), dtype=torch.long, device=real.device)  # fakes inside some real k_pr-ball
    in_dc = torch.zeros((), dtype=torch.long, device=real.device)  # (fake, real k_dc-ball) memberships
    recalled = torch.zeros(n, dtype=torch.bool, device=real.device)  # reals inside some fake k_pr-ball
    nearest = torch.full((n,), math.inf, dtype=torch.float64, device=real.device)  # min_j d(r_i, f_j)
    for s in range(0, m, chunk):
        d = _cdist(fake[s : s + chunk], real, exact)  # [c, N]
        in_pr += (d <= rad_r[k_pr]).any(dim=1).sum()
        in_dc += (d <= rad_r[k_dc]).sum()
        recalled |= (d <= rad_f[s : s + chunk, None]).any(dim=0)
        nearest = torch.minimum(nearest, d.min(dim=0).values)
    return {
        "precision": in_pr.item() / m,
        "recall": recalled.double().mean().item(),
        "density": in_dc.item() / (k_dc * m),
        "coverage": (nearest <= rad_r[k_dc]).double().mean().item(),
        "prdc_k_pr": k_pr,
        "prdc_k_dc": k_dc,
    }


def fid_infinity(real: Tensor, fake: Tensor, num_points: int = 15, min_samples: int | None = None,
                 seed: int = 0) -> dict:
    """FID-infinity (Chong & Forsyth 2020): FID_N = a + b / N fitted over fake subset sizes N, FID_inf = a.

    Written here: torchmetrics has no FID-infinity (it reuses torchmetrics' FID for each FID_N).

    Args:
        real: real features [N_r, D] (all used at every point).
        fake: generated features [M, D].
        num_points: subset sizes, evenly spaced in [min_samples, M].
        min_samples: smallest subset; default max(2, min(max(M // 5, 2 D), M // 2)).
        seed: seeds the random fake subsets (a private generator).

    Returns:
        {"fid_inf": a, "fid_inf_points": [[N, FID_N], ...]}.
    """
    _check_pair(real, fake)
    m, d = fake.shape
    if min_samples is None:  # the 1/N bias model needs N well above D; keep a range of N to fit over
        min_samples = max(2, min(max(m // 5, 2 * d), m // 2))
    sizes = np.unique(np.linspace(min_samples, m, num_points).astype(int))
    if min_samples < 2 or len(sizes) < 2:
        raise ValueError(f"need 2 <= min_samples={min_samples} < M={m} and num_points={num_points} >= 2")
    gen = torch.Generator().manual_seed(seed)
    metric = _fid_metric(real)  # real statistics computed once, kept across reset()
    points = []
    for size in sizes.tolist():
        idx = torch.randperm(m, generator=gen)[:size].to(fake.device)
        metric.reset()
        _feed(metric, fake[idx], real=False)
        points.append([size, float(metric.compute())])
    pts = np.asarray(points, dtype=np.float64)
    design = np.stack([np.ones(len(pts)), 1.0 / pts[:, 0]], axis=1)  # [P, 2]: FID_N = a * 1 + b * (1 / N)
    (a, _b), *_ = np.linalg.lstsq(design, pts[:, 1], rcond=None)
    return {"fid_inf": float(a), "fid_inf_points": points}


def _rbf_sum(x: Tensor, y: Tensor, gamma: float, chunk: int, skip_diagonal: bool) -> float:
    """sum_ij exp(-gamma ||x_i - y_j||^2) over [len(x), len(y)] in blocks of ``chunk`` rows (x is y when skipping
    the diagonal i = j)."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    y_sq = (y * y).sum(1)  # [M]
    for s in range(0, x.shape[0], chunk):
        xb = x[s : s + chunk]
        d2 = ((xb * xb).sum(1)[:, None] + y_sq[None, :] - 2 * xb @ y.T).clamp_min(0)  # [c, M]
        k = torch.exp(-gamma * d2)
        if skip_diagonal:
            rows = torch.arange(xb.shape[0], device=x.device)
            k[rows, rows + s] = 0.0
        total += k.sum()
    return float(total)


def cmmd(real: Tensor, fake: Tensor, sigma: float = 10.0, scale: float = 1000.0, estimator: str = "unbiased",
         normalize: bool = True, chunk: int = 2048) -> dict:
    """CMMD (Jayasumana et al. 2024): squared MMD with the Gaussian RBF kernel exp(-||x - y||^2 / (2 sigma^2))
    between L2-normalised embeddings, times ``scale``.

    Written here: torchmetrics' KID is polynomial-kernel only. The paper states the unbiased estimator
    (Gretton et al. 2012's U-statistic: within-set sums over i != j, divided by n(n - 1)); google-research/cmmd's
    code computes the biased one (all pairs, i = j included, divided by n^2), which ``estimator="biased"``
    reproduces. They differ by (1 - mean within-set kernel) / n per set: on unit vectors with sigma = 10 the
    kernel is >= exp(-0.02), so by under 0.04 * scale / min(N, M).

    Args:
        real: real features [N, D], N >= 2 (CMMD: CLIP ViT-L/14@336px image embeddings).
        fake: generated features [M, D], M >= 2.
        sigma: kernel bandwidth (the paper's 10, for unit-length embeddings).
        scale: factor that makes the values readable (the paper's 1,000).
        estimator: "unbiased" (the paper's formula) or "biased" (the reference code's).
        normalize: L2-normalise each row first, as CMMD's CLIP embeddings are (so sigma means the same for
            any feature extractor).
        chunk: rows per kernel block; at most chunk x max(N, M) kernel values are held at once.

    Returns:
        {"cmmd": scale * MMD^2 estimate}.
    """
    _check_pair(real, fake)
    if estimator not in ("unbiased", "biased"):
        raise ValueError(f"cmmd.estimator={estimator!r}; valid: unbiased, biased")
    x, y = real.double(), fake.to(real.device, torch.float64)
    if normalize:
        x, y = torch.nn.functional.normalize(x, dim=1), torch.nn.functional.normalize(y, dim=1)
    gamma = 1.0 / (2.0 * sigma**2)
    n, m = x.shape[0], y.shape[0]
    unbiased = estimator == "unbiased"
    k_xx = _rbf_sum(x, x, gamma, chunk, unbiased) / (n * (n - 1) if unbiased else n * n)
    k_yy = _rbf_sum(y, y, gamma, chunk, unbiased) / (m * (m - 1) if unbiased else m * m)
    k_xy = _rbf_sum(x, y, gamma, chunk, False) / (n * m)
    return {"cmmd": scale * (k_xx + k_yy - 2 * k_xy)}
