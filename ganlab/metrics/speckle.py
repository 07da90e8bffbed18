"""Speckle of generated grayscale images: the share of isolated foreground pixels.

A pixel is *foreground* when its value exceeds ``threshold`` (images in [-1, 1]; 0 = half intensity) and
*isolated* when none of its 8 neighbours is foreground. Pen strokes are connected, so real digits have
almost no isolated foreground pixels, while an MLP generator's salt-like speckle is made of them.
``speckle`` = isolated / all foreground pixels over the generated samples, ``speckle_vs_real`` = that
share divided by the real images' share (1 = as clean as the data). FID in a classifier's feature space
is nearly blind to such texture (docs/calibration.md), which is why this is measured on its own.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.data.base import to_model_space
from ganlab.metrics.metric import EvalMetric

log = logging.getLogger(__name__)


def isolated_pixels(x: Tensor, threshold: float = 0.0) -> tuple[Tensor, Tensor]:
    """Per image: isolated foreground pixels and all foreground pixels.

    Args:
        x: grayscale images [N, 1, H, W] in [-1, 1].
        threshold: foreground means value > threshold.

    Returns:
        ``(isolated [N], foreground [N])`` pixel counts (int64).
    """
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"speckle needs grayscale images [N, 1, H, W]; got shape {tuple(x.shape)}")
    fg = (x > threshold).float()  # [N, 1, H, W]
    kernel = torch.ones(1, 1, 3, 3, dtype=fg.dtype, device=fg.device)
    kernel[0, 0, 1, 1] = 0  # count the 8 neighbours, not the pixel itself
    neighbours = F.conv2d(fg, kernel, padding=1)  # [N, 1, H, W]; zero padding: off-image = background
    isolated = (fg > 0) & (neighbours == 0)
    return isolated.flatten(1).sum(1), (fg > 0).flatten(1).sum(1)


def speckle_share(x: Tensor, threshold: float = 0.0, batch_size: int = 1000) -> float:
    """Isolated / foreground pixels over all images x [N, 1, H, W] (uint8 or [-1, 1]); 0 when nothing is foreground."""
    iso = fg = 0
    for start in range(0, x.shape[0], batch_size):
        i, f = isolated_pixels(to_model_space(x[start:start + batch_size]).float(), threshold)
        iso, fg = iso + int(i.sum()), fg + int(f.sum())
    return iso / fg if fg else 0.0


class Speckle(EvalMetric):
    """``speckle`` (isolated / foreground pixels of the generated samples) and ``speckle_vs_real``.

    Args:
        threshold: foreground = value > threshold, on images in [-1, 1].
        real_share: the real images' share (None: measured on the training set at setup).
    Colour or flat (2-D) data: the metric logs one line at setup and gives nothing.
    """

    best: ClassVar[dict[str, str]] = {"speckle": "min"}

    def __init__(self, threshold: float = 0.0, real_share: float | None = None) -> None:
        super().__init__()
        self.threshold, self.real_share = threshold, real_share
        self.active: bool | None = None  # decided at setup from the data's shape

    def setup(self, trainer: Any, pl_module: Any) -> None:
        if self.active is not None:
            return
        x = trainer.datamodule.real_images().x
        self.active = x.dim() == 4 and x.shape[1] == 1
        if not self.active:
            log.info("speckle off: it measures grayscale images; this data has shape %s", tuple(x.shape[1:]))
        elif self.real_share is None:
            self.real_share = speckle_share(x, self.threshold)

    def update(self, samples: Tensor, indices: Tensor) -> None:
        if self.active is False:
            return
        isolated, foreground = isolated_pixels(samples, self.threshold)
        self.add(isolated=isolated, foreground=foreground)

    def compute(self) -> dict[str, float]:
        if self.active is False:
            return {}
        fg = int(self.rows("foreground").sum())
        share = int(self.rows("isolated").sum()) / fg if fg else 0.0
        out = {"speckle": share}
        if self.real_share:
            out["speckle_vs_real"] = share / self.real_share
        return out
