"""Layers shared by the convolutional families: class-conditional batch norm and SAGAN self-attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017; SNGAN-projection G).

    ``out = gamma[y] * bn(x) + beta[y]`` with ``bn`` un-affine; gamma starts at 1 and beta at 0, so
    every class starts as plain BatchNorm2d. With ``num_classes=0`` this *is* a plain affine BatchNorm2d.
    The tables are plain parameters rather than ``nn.Embedding`` so that ``spectral_norm_all`` leaves
    them alone: normalizing a table of ones would shrink every gain to 1/sqrt(K*C).

    Args:
        num_features: channels C.
        num_classes: K; 0 for an unconditional (affine) batch norm.
    """

    def __init__(self, num_features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=num_classes == 0)
        if num_classes:
            self.gamma = nn.Parameter(torch.ones(num_classes, num_features))  # [K, C]
            self.beta = nn.Parameter(torch.zeros(num_classes, num_features))  # [K, C]

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x [N, C, H, W], y [N] int64 (needed iff num_classes > 0) -> [N, C, H, W]."""
        h = self.bn(x)
        if not self.num_classes:
            return h
        if y is None:
            raise ValueError("a class-conditional batch norm needs labels y; the dataset must supply them")
        return self.gamma[y][:, :, None, None] * h + self.beta[y][:, :, None, None]


class SelfAttention(nn.Module):
    """Self-attention block of SAGAN (Zhang et al. 2019, Sec. 3): every position attends to all others.

    With C' = max(1, C // 8) and P = H*W positions, 1x1 convs give f, g, h [N, C', P];
    ``beta[i, j] = softmax_i(f_i . g_j)`` is how much output position j attends to input i, and
    ``o_j = v(sum_i beta[i, j] h_i)`` (v: 1x1 conv C' -> C), as in Eq. 1-2 of the paper.
    The output is ``x + gamma * o`` with gamma initialised to 0, so the block starts as the identity
    and the network learns how much non-local evidence to use. The 2x2 max-pool that the SAGAN and
    BigGAN code put on the g/h branches (a 4x cheaper attention matrix) is left out for simplicity:
    attention costs O(P^2) memory, fine at the 16x16 to 32x32 maps where it is usually placed.

    Args:
        channels: C, input = output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, inner, 1, bias=False)
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        """x [N, C, H, W] -> [N, C, H, W]."""
        n, _, height, width = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # [N, C', P]
        beta = torch.bmm(f.transpose(1, 2), g).softmax(dim=1)  # [N, P_i, P_j], columns sum to 1
        o = torch.bmm(h, beta).view(n, -1, height, width)  # [N, C', H, W]
        return x + self.gamma * self.v(o)


class LabelConcat(nn.Module):
    """Conditional GAN input (Mirza & Osindero 2014): z [N, Z] -> [z, embed(y)] [N, Z + E].

    The embedding starts N(0, 1), the scale of z, so neither half of the input dominates at init.
    With ``num_classes=0`` it has no parameters and returns z unchanged (y is ignored).

    Args:
        num_classes: K; 0 for an unconditional generator.
        embed_dim: E, size of the learned label embedding.
    """

    def __init__(self, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.extra_dim = embed_dim if num_classes else 0  # E, or 0 when unconditional

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is None:
            return z
        if y is None:
            raise ValueError(f"a class-conditional generator (generator.num_classes={self.num_classes}) needs "
                             "labels y; pass y or set generator.num_classes=0")
        return torch.cat([z, self.embed(y)], dim=1)  # [N, Z + E]
