"""Mode-coverage metrics for the 2-D Gaussian mixtures (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018).

A generated point is *high quality* when it lies within ``threshold`` standard deviations of its
nearest mode centre; a mode is *captured* when at least one high-quality point is nearest to it;
the *reverse KL* is KL(p || uniform) between the histogram p of high-quality points over the modes
and the uniform distribution over all modes. The protocol evaluates 2,500 generated points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mode_metrics(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, % high-quality points and reverse KL of ``samples`` against the mixture.

    Args:
        samples: generated points [N, 2].
        means: mode centres [K, 2].
        std: the mixture components' standard deviation.
        threshold: high quality within ``threshold * std`` of the nearest centre (3 in the papers).

    Returns:
        ``modes`` (0..K), ``high_quality`` (percent of N), ``reverse_kl`` (nats; NaN when no point is
        high quality, as the histogram is then undefined).
    """
    samples, means = samples.double().cpu(), means.double().cpu()
    dist, nearest = torch.cdist(samples, means).min(dim=1)  # [N], [N]
    good = dist <= threshold * std
    counts = torch.bincount(nearest[good], minlength=means.shape[0]).double()  # [K]
    total = counts.sum()
    if total > 0:
        p = counts[counts > 0] / total
        reverse_kl = float((p * (p * means.shape[0]).log()).sum())  # KL(p || 1/K)
    else:
        reverse_kl = math.nan
    return {"modes": int((counts > 0).sum()), "high_quality": 100.0 * float(good.double().mean()),
            "reverse_kl": reverse_kl}
