"""Cheap training-health signals: D's view of real and fake, gradient-norm trends, layer spectral norms,
sample diversity and class entropy. Pure functions and small accumulators, testable on hand-made inputs.

None of them draws from the global RNG or changes a tensor they read.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor


class DOutputStats:
    """Running means of D's outputs since the last ``read``: logits, accuracies and ADA's r_t.

    Fed every training step with the logits of the step's D update, kept on their device (no host
    sync per step); ``read`` syncs once. A step only keeps a reference to its logits: every ``fold_every``
    steps (and at ``read``) the kept ones are reduced together, a handful of tensor operations for all of
    them instead of eight per step.

    The signals, over all steps since the last read (each step weighs the same):
        ``d_real``, ``d_fake``: mean logit on real / fake samples;
        ``d_acc_real``, ``d_acc_fake``: share of real with logit > 0, of fake with logit < 0 (from signs,
        a logit of exactly 0 counts half);
        ``d_gap``: d_real - d_fake;
        ``r_t``: E[sign(D(x_real))] (Karras et al. 2020, section 3: 0 when D cannot tell training reals
        from generated ones, 1 when it is sure of every real; ADA's target is 0.6).

    Args:
        fold_every: steps whose logits are kept before they are reduced (memory: that many logit vectors).
    """

    def __init__(self, fold_every: int = 64) -> None:
        self.fold_every = fold_every
        self._sum: Tensor | None = None
        self._n = 0
        self._pending: list[tuple[Tensor, Tensor]] = []  # logits (real [N], fake [M]) not yet folded into _sum

    def add(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """Keep one D update's logits, real [N] and fake [M] (not changed in place afterwards: D's detached
        outputs)."""
        self._pending.append((real_logits, fake_logits))
        self._n += 1
        if len(self._pending) >= self.fold_every:
            self._fold()

    @torch.no_grad()
    def _fold(self) -> None:
        """Add the kept steps' means [4] to the running sum: one reduction per run of steps with equal shapes."""
        pending, self._pending = self._pending, []
        start = 0
        while start < len(pending):
            shapes = (pending[start][0].shape, pending[start][1].shape)
            end = start + 1
            while end < len(pending) and (pending[end][0].shape, pending[end][1].shape) == shapes:
                end += 1
            k = end - start
            r = torch.stack([p[0] for p in pending[start:end]]).float().reshape(k, -1)  # [K, N]
            f = torch.stack([p[1] for p in pending[start:end]]).float().reshape(k, -1)  # [K, M]
            # per step: mean logits and mean signs, [K, 4]; summed over the K steps
            v = torch.stack((r.mean(1), f.mean(1), r.sign().mean(1), f.sign().mean(1)), dim=1).sum(0)
            self._sum = v if self._sum is None else self._sum + v
            start = end

    def read(self) -> dict[str, float]:
        """The means since the last read (empty when nothing was added); resets the accumulator."""
        if self._pending:
            self._fold()
        if self._sum is None:
            return {}
        d_real, d_fake, sign_real, sign_fake = (self._sum / self._n).tolist()
        self._sum, self._n = None, 0
        return {"d_real": d_real, "d_fake": d_fake, "d_gap": d_real - d_fake, "r_t": sign_real,
                "d_acc_real": (1 + sign_real) / 2, "d_acc_fake": (1 - sign_fake) / 2}


def r_t(real_logits: Tensor) -> float:
    """ADA's overfitting heuristic E[sign(D(x_real))] of logits [N] (Karras et al. 2020, eq. 1)."""
    return float(real_logits.float().sign().mean())


def g_loss_slope(loss: object, fake_logits: Tensor, real_logits: Tensor | None = None) -> float:
    """Mean |d l_G / d logit| over fake logits [N]: how strongly G's loss reacts to D's verdict on each fake.

    About 1 for the non-saturating, hinge and Wasserstein G losses whatever D does; sigmoid(logit) for the
    saturating minimax loss log(1 - D(G(z))), which goes to 0 when D rejects every fake: G's gradient vanishes
    (Goodfellow et al. 2014, section 3). Computed on detached copies (training's graph is not touched).

    Args:
        loss: has ``g_loss(fake_logits, real_logits=None) -> scalar`` (a mean over the N samples).
        fake_logits: D's logits of the fakes [N]; real_logits: of the reals [N] (for losses that use them).
    """
    with torch.enable_grad():
        fake = fake_logits.detach().float().clone().requires_grad_(True)
        real = real_logits.detach().float().clone() if real_logits is not None else None
        (grad,) = torch.autograd.grad(loss.g_loss(fake, real), fake)  # [N]: (1/N) d l_i / d logit_i
    return float(grad.abs().sum())


def class_entropy(p: Tensor) -> float:
    """Entropy in nats of a class histogram p [C] (shares or counts; 0 log 0 = 0): log C uniform, 0 on one class."""
    p = p.double().flatten()
    p = p / p.sum()
    on = p > 0
    return float(-(p[on] * p[on].log()).sum()) + 0.0  # + 0.0: no -0.0 for a single class


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean Euclidean distance over all pairs of rows of ``features`` [N, D] (N >= 2)."""
    return float(F.pdist(features.double().flatten(1)).mean())


def median(values: Iterable[float]) -> float:
    """Median of the finite values (NaN when there are none)."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


class GradientTrend:
    """G and D gradient norms read at logging steps: their medians since the last check, the G/D ratio,
    and G's norm relative to its running median over the last ``window`` readings.

    Args:
        window: readings in the running median (at the default logging interval of 50 steps,
            100 readings are the last 5,000 steps).
    """

    def __init__(self, window: int = 100) -> None:
        self.history: deque[float] = deque(maxlen=window)
        self._g: list[float] = []
        self._d: list[float] = []

    def add(self, grad_norm_g: float | None, grad_norm_d: float | None) -> None:
        if grad_norm_g is not None:
            self._g.append(grad_norm_g)
            self.history.append(grad_norm_g)
        if grad_norm_d is not None:
            self._d.append(grad_norm_d)

    def read(self) -> dict[str, float]:
        """``grad_norm_g``, ``grad_norm_d`` (medians since the last read), ``grad_ratio`` (G / D) and
        ``grad_g_rel`` (G's recent median / its running median); empty without readings. Resets."""
        out: dict[str, float] = {}
        g, d = median(self._g), median(self._d)
        if self._g:
            out["grad_norm_g"] = g
            long = median(self.history)
            out["grad_g_rel"] = g / long if long > 0 else math.nan
        if self._d:
            out["grad_norm_d"] = d
        if self._g and self._d:
            out["grad_ratio"] = g / d if d > 0 else math.inf
        self._g, self._d = [], []
        return out


class SpectralNorms:
    """Largest singular value of every weight matrix (parameters with 2 or more dims, reshaped to
    [out, -1]) by power iteration with cached vectors (Miyato et al. 2018, algorithm 1): a few
    iterations per call suffice once the cached u is close to the top singular vector.

    The raw parameter is read: for spectrally normalised layers that is the weight before the
    normalisation (the normalised one has sigma 1 by construction).

    Args:
        iterations: power iterations per call.
        warmup: iterations for a new matrix (no cached vector yet).
        seed: seed of the start vectors (a local generator: the global RNG is not touched).
    """

    def __init__(self, iterations: int = 2, warmup: int = 10, seed: int = 0) -> None:
        self.iterations, self.warmup, self.seed = iterations, warmup, seed
        self._u: dict[str, Tensor] = {}

    @torch.no_grad()
    def __call__(self, named_parameters: Iterable[tuple[str, Tensor]]) -> dict[str, float]:
        """Layer name -> sigma_max, for the matrices among ``named_parameters``."""
        names, sigmas = [], []
        for name, p in named_parameters:
            if p.dim() < 2:
                continue
            w = p.detach().reshape(p.shape[0], -1).float()  # [out, in * k * k]
            u = self._u.get(name)
            steps = self.iterations
            if u is None or u.shape[0] != w.shape[0] or u.device != w.device:
                u = torch.randn(w.shape[0], generator=torch.Generator().manual_seed(self.seed)).to(w.device)
                steps = max(self.warmup, self.iterations)
            for _ in range(steps):
                v = F.normalize(w.t() @ u, dim=0)
                u = F.normalize(w @ v, dim=0)
            self._u[name] = u
            names.append(name)
            sigmas.append(u @ (w @ v))
        values = torch.stack(sigmas).tolist() if sigmas else []  # one host sync for all layers
        return dict(zip(names, values, strict=True))


def sigma_summary(sigmas: dict[str, float], net: str) -> dict[str, float]:
    """``sigma_max_<net>`` and ``sigma_mean_<net>`` of per-layer sigmas (empty when there are none)."""
    if not sigmas:
        return {}
    values = list(sigmas.values())
    top = math.nan if any(math.isnan(v) for v in values) else max(values)  # max() would skip a NaN
    return {f"sigma_max_{net}": top, f"sigma_mean_{net}": sum(values) / len(values)}
