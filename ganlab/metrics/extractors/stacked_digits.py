"""Digit features of Stacked MNIST images: the digit classifier applied to each channel on its own."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.data.stacked import NUM_MODES
from ganlab.metrics.extractors.digits import DigitFeatures


def check_stacked(images: Tensor) -> None:
    """Refuse anything but images [N, 3, H, W] (one digit per channel), in one line."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"stacked mode counting needs images [N, 3, H, W] (one digit per channel, "
                         f"dataset=stacked_mnist5k); got shape {tuple(images.shape)}")


class StackedDigitFeatures(nn.Module):
    """FID features for stacked digits: the digit classifier's 128-d features of each channel, concatenated.

    The classifier sees one digit per call, as it was trained; a plain ``DigitFeatures`` would see the
    mean of the three channels, an overlay of three digits it never saw. Logits (for the Inception
    Score) are the joint log-probabilities of the 1,000 triples, log p(d_r) + log p(d_g) + log p(d_b).

    Args:
        weights: digit classifier weights (None: the packaged file of ``version``).
        version: the digit feature space; v1 (the default here) keeps the Stacked-MNIST numbers of
            experiments/README.md comparable.
    """

    num_features: int = 3 * DigitFeatures.num_features
    name: str = "stacked_digit_classifier"
    resize = "per channel: " + DigitFeatures.resize.split("; RGB")[0]

    def __init__(self, weights: str | None = None, version: str = "v1") -> None:
        super().__init__()
        self.digits = DigitFeatures(weights, version)
        self.sha256, self.path, self.meta = self.digits.sha256, self.digits.path, self.digits.meta

    def _per_channel(self, x: Tensor) -> Tensor:
        check_stacked(x)
        n, _, h, w = x.shape
        return x.reshape(n * 3, 1, h, w)  # [3N, 1, H, W], image i's channels at rows 3i..3i+2

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Features float32 [N, 384] of images [N, 3, H, W] in [-1, 1]."""
        return self.digits(self._per_channel(x)).view(x.shape[0], self.num_features)

    @torch.no_grad()
    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features [N, 384], log-probabilities [N, 1000] of the triples, index 100 d_r + 10 d_g + d_b)."""
        f, logits = self.digits.features_and_logits(self._per_channel(x))
        n = x.shape[0]
        lp = logits.log_softmax(1).view(n, 3, 10)
        joint = lp[:, 0, :, None, None] + lp[:, 1, None, :, None] + lp[:, 2, None, None, :]  # [N, 10, 10, 10]
        return f.view(n, self.num_features), joint.reshape(n, NUM_MODES)
