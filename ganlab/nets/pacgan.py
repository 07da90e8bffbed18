"""PacGAN (Lin et al. 2018): D judges m samples at once, concatenated, to penalize mode collapse."""

from __future__ import annotations

from torch import Tensor

from ganlab.nets.base import Discriminator


class PacDiscriminator(Discriminator):
    """Wraps any discriminator built for ``m`` times the channels (or features) of one sample.

    Consecutive groups of ``packing`` samples [N, C, H, W] become one input [N/m, m*C, H, W]
    (flat data [N, D] -> [N/m, m*D]); logits are one per pack [N/m]. Batches are drawn in random
    order, so consecutive samples form random packs, as in the paper.

    Args:
        discriminator: the inner D, built with ``channels = packing * data channels``.
        packing: m, the number of samples per pack (the paper's PacGAN2/3/4: m = 2, 3, 4).
    """

    def __init__(self, discriminator: Discriminator, packing: int) -> None:
        super().__init__()
        if packing < 1:
            raise ValueError(f"pack={packing}; valid: an integer >= 1 (1 = no packing)")
        if getattr(discriminator, "num_classes", 0):
            raise ValueError("pack > 1 needs an unconditional discriminator (PacGAN has no class labels)")
        self.inner, self.packing = discriminator, packing
        self.feature_dim = discriminator.feature_dim

    def pack(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if n % self.packing:
            raise ValueError(f"batch of {n} samples does not split into packs of pack={self.packing}; "
                             f"use a dataset.batch_size divisible by {self.packing}")
        return x.reshape(n // self.packing, self.packing * x.shape[1], *x.shape[2:])  # [N/m, m*C, ...]

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.inner.features(self.pack(x))

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.inner.head(h)


def packed(discriminator: Discriminator, packing: int = 1) -> Discriminator:
    """D wrapper (``model.d_wrappers.pack``): PacGAN for ``packing`` > 1, D itself for 1.

    The inner D must be built for ``packing`` times the data channels: the discriminator configs
    set ``channels: ${ganlab.times:${dataset.channels},${pack}}``.
    """
    return PacDiscriminator(discriminator, packing) if packing != 1 else discriminator
