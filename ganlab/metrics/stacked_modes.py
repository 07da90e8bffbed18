"""Stacked MNIST mode counting (Metz et al. 2017, Sec. 3.3.1; Srivastava et al. 2017; Lin et al. 2018).

Each channel of a generated image is classified by a digit classifier; the predicted triple
(d_r, d_g, d_b) names one of 1,000 modes, index 100 d_r + 10 d_g + d_b. The protocol reports the
number of distinct modes among the samples and the reverse KL between their mode histogram p and the
uniform distribution over the 1,000 modes, KL(p || U) = sum_k p_k log(1000 p_k) over modes with p_k > 0
(nats; 0 for a perfectly uniform histogram, log 1000 = 6.91 for a single mode).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ganlab.data.stacked import MODE_WEIGHTS, NUM_MODES
from ganlab.metrics.extractors.stacked_digits import check_stacked
from ganlab.metrics.metric import EvalMetric


@torch.no_grad()
def predict_modes(images: Tensor, classifier: nn.Module, batch_size: int = 500) -> Tensor:
    """Predicted mode index of each stacked image, each channel classified on its own.

    Args:
        images: [N, 3, H, W] in [-1, 1] (uint8 [0, 255] is scaled).
        classifier: has ``logits(x [M, 1, H, W]) -> [M, 10]`` (e.g. ``DigitFeatures``).
        batch_size: images per classifier call (each makes 3 single-channel images).

    Returns:
        int64 [N] on the CPU: 100 d_r + 10 d_g + d_b of the predicted digits.
    """
    check_stacked(images)
    weights = torch.tensor(MODE_WEIGHTS)
    out = []
    for i in range(0, images.shape[0], batch_size):
        x = images[i : i + batch_size]
        b, _, h, w = x.shape
        digits = classifier.logits(x.reshape(b * 3, 1, h, w)).argmax(1).view(b, 3).cpu()  # [b, 3]
        out.append((digits * weights).sum(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def mode_statistics(modes: Tensor) -> dict[str, Any]:
    """Distinct modes and reverse KL to the uniform distribution of mode indices [N] (0..999).

    Returns:
        ``modes`` (int, 0..1000), ``reverse_kl`` (float, nats; NaN for no samples) and
        ``counts`` (int64 [1000], samples per mode).
    """
    counts = torch.bincount(modes.flatten().long().cpu(), minlength=NUM_MODES)  # [1000]
    if counts.numel() > NUM_MODES:
        raise ValueError(f"mode indices must lie in 0..{NUM_MODES - 1}; got {int(modes.max())}")
    total = int(counts.sum())
    if total:
        p = counts[counts > 0].double() / total
        reverse_kl = float((p * (p * NUM_MODES).log()).sum())  # KL(p || 1/1000), empty modes add 0
    else:
        reverse_kl = float("nan")
    return {"modes": int((counts > 0).sum()), "reverse_kl": reverse_kl, "counts": counts}


def stacked_modes(images: Tensor, classifier: nn.Module, batch_size: int = 500) -> dict[str, Any]:
    """Modes covered and reverse KL of stacked-digit images [N, 3, H, W] in [-1, 1] (see ``mode_statistics``)."""
    return mode_statistics(predict_modes(images, classifier, batch_size))


class StackedModes(EvalMetric):
    """``modes`` (distinct predicted digit triples, of 1,000) and ``reverse_kl`` (KL(p || uniform), nats) of
    generated stacked digits, and the best of each so far.

    Each sample is reduced to its predicted mode index at once; the number of samples is
    ``metrics.num_samples`` (the validation loop's length).

    Args:
        classifier: digit classifier with ``logits(x [M, 1, H, W]) -> [M, 10]`` (``DigitFeatures``).
        batch_size: stacked images per classifier call.
    """

    best: ClassVar[dict[str, str]] = {"modes": "max", "reverse_kl": "min"}
    prog_bar: ClassVar[tuple[str, ...]] = ("modes",)

    def __init__(self, classifier: nn.Module, batch_size: int = 500) -> None:
        super().__init__()
        self.classifier, self.batch_size = classifier, batch_size

    def setup(self, trainer: Any, pl_module: Any) -> None:
        if isinstance(self.classifier, nn.Module):
            self.classifier.to(pl_module.device)

    def update(self, samples: Tensor, indices: Tensor) -> None:
        if samples.dim() != 4 or samples.shape[1] != 3:
            raise ValueError(f"metrics=stacked_modes needs 3-channel images (dataset=stacked_mnist5k); "
                             f"got samples of shape {tuple(samples.shape[1:])}")
        self.add(modes=predict_modes(samples, self.classifier, self.batch_size))  # [B] mode indices

    def compute(self) -> dict[str, float]:
        stats = mode_statistics(self.rows("modes"))
        return {"modes": float(stats["modes"]), "reverse_kl": stats["reverse_kl"]}
