"""Mode-coverage metrics for the 2-D Gaussian mixtures (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018).

A generated point is *high quality* when it lies within ``threshold`` standard deviations of its
nearest mode centre; a mode is *captured* when at least one high-quality point is nearest to it;
the *reverse KL* is KL(p || uniform) between the histogram p of high-quality points over the modes
and the uniform distribution over all modes. The protocol evaluates 2,500 generated points.
"""

from __future__ import annotations

import io
import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ganlab.metrics.metric import EvalMetric


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


def scatter_image(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> np.ndarray:
    """Generated points over the mode centres (circles of radius threshold*std) as an RGB array [H, W, 3]."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, changes no global backend
    from matplotlib.patches import Circle
    from PIL import Image

    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.subplots()
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
    ax.scatter(means[:, 0], means[:, 1], s=30, marker="x", color="tab:red", label="modes")
    for m in means.tolist():
        ax.add_patch(Circle(m, threshold * std, fill=False, color="tab:red", lw=0.5))
    span = float(means.abs().max()) * 1.5 + 1e-6
    ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
    ax.legend(loc="upper right", fontsize=6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return np.asarray(Image.open(buf).convert("RGB"))


class ModeCoverage(EvalMetric):
    """``modes``, ``high_quality`` (%) and ``reverse_kl`` of generated 2-D points (``mode_metrics``), and a
    ``modes`` scatter plot of them over the mixture's centres.

    Args:
        means: mode centres [K, 2] (the dataset's ``mode_means``).
        std: the components' standard deviation (the dataset's ``mode_std``).
        threshold: high quality within ``threshold * std`` of the nearest centre.
        plot: also give the scatter plot image.
    """

    prog_bar: ClassVar[tuple[str, ...]] = ("modes",)

    def __init__(self, means: Tensor, std: float, threshold: float = 3.0, plot: bool = True) -> None:
        super().__init__()
        self.means, self.std, self.threshold, self.plot = torch.as_tensor(means).float(), float(std), threshold, plot

    def provides(self) -> dict[str, Any]:
        return {"modes": (self.means, self.std, self.threshold)}

    def update(self, samples: Tensor, indices: Tensor) -> None:
        if samples.dim() != 2 or samples.shape[1] != self.means.shape[1]:
            raise ValueError(f"metrics=modes needs flat {self.means.shape[1]}-d samples (dataset=ring or grid); "
                             f"got samples of shape {tuple(samples.shape[1:])}")
        self.add(samples=samples)  # the points themselves: [B, 2]

    def compute(self) -> dict[str, float]:
        return mode_metrics(self.rows("samples"), self.means, self.std, self.threshold)

    def images(self) -> dict[str, np.ndarray]:
        if not self.plot:
            return {}
        return {"modes": scatter_image(self.rows("samples").float(), self.means, self.std, self.threshold)}
