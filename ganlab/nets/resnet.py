"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, appendix B), for any resolution 4*2^k or 6*2^k.

The block list is derived from the resolution:

- resolution <= 32 follows Table 4 (CIFAR-10): G keeps ``width`` channels in every block; D keeps
  ``width`` channels, halves the map down to 8x8 (at least once), then adds two blocks at that size.
- larger resolutions follow the STL-10 (48x48) and ImageNet (128x128) tables: G starts at
  ``min(width/4 * 2^n, 4 width)`` channels and halves them in each of its n up-blocks; D starts at
  ``width/2`` channels and doubles them (capped at ``8 width``) in each block while halving the map
  down to 4x4 or 3x3, then adds one block at twice the channels (same cap). With the default widths
  (G 256, D 128) this reproduces both tables exactly, e.g. STL-10: G 512 -> 256, 128, 64 and
  D 64, 128, 256, 512 (down) -> 1024.

Init: xavier_uniform with gain sqrt(2) on the residual 3x3 convs and 1 on shortcuts, the first
linear layer, the last conv and the head, zero biases, as in the authors' Chainer code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.nets.base import ConditionalHead, Discriminator, spectral_norm_all
from ganlab.nets.layers import ConditionalBatchNorm2d, SelfAttention

CIFAR_MAX = 32  # up to this resolution Table 4's constant-width design, above it the STL-10/ImageNet one


def _stages(resolution: int, who: str) -> tuple[int, int]:
    """(bottom size b, number n of 2x stages) with resolution = b * 2^n, b in {4, 6}, n >= 1."""
    for bottom in (4, 6):
        n = resolution // bottom if isinstance(resolution, int) and resolution % bottom == 0 else 0
        if n >= 2 and n & (n - 1) == 0:
            return bottom, n.bit_length() - 1
    raise ValueError(f"{who}.resolution={resolution}: the SNGAN ResNet needs 4*2^k or 6*2^k with k >= 1 "
                     "(8, 12, 16, 24, 32, 48, 64, 96, 128, ...); set dataset.resolution accordingly")


def _init(module: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return module


def _attention(resolutions: Sequence[int], sizes: list[int], chans: list[int], who: str) -> nn.ModuleList:
    """A SelfAttention after the first block whose output has each listed resolution; Identity elsewhere."""
    wanted = {int(r) for r in resolutions}
    if not wanted <= set(sizes):
        raise ValueError(f"{who}.attention={sorted(wanted)}: valid entries are the block output resolutions "
                         f"{sorted(set(sizes))}")
    layers: list[nn.Module] = []
    for i, (size, c) in enumerate(zip(sizes, chans, strict=True)):
        layers.append(SelfAttention(c) if size in wanted and size not in sizes[:i] else nn.Identity())
    return nn.ModuleList(layers)


class GBlock(nn.Module):
    """Up-sampling residual block: (cBN, ReLU, 2x nearest, 3x3 conv, cBN, ReLU, 3x3 conv) + up, 1x1 conv."""

    def __init__(self, cin: int, cout: int, num_classes: int = 0) -> None:
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(cin, num_classes), ConditionalBatchNorm2d(cout, num_classes)
        self.conv1 = _init(nn.Conv2d(cin, cout, 3, padding=1), math.sqrt(2))
        self.conv2 = _init(nn.Conv2d(cout, cout, 3, padding=1), math.sqrt(2))
        self.shortcut = _init(nn.Conv2d(cin, cout, 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x [N, cin, H, W] -> [N, cout, 2H, 2W]."""
        h = self.conv1(F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2))  # [N, cout, 2H, 2W]
        h = self.conv2(F.relu(self.bn2(h, y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """Residual block: (ReLU, 3x3 conv, ReLU, 3x3 conv, [2x2 avg-pool]) + shortcut.

    The shortcut is a 1x1 conv when channels change or the block downsamples, else the identity.
    ``first`` is the paper's "optimized" block on raw pixels: no ReLU before its first conv.
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _init(nn.Conv2d(cin, cout, 3, padding=1), math.sqrt(2))
        self.conv2 = _init(nn.Conv2d(cout, cout, 3, padding=1), math.sqrt(2))
        self.shortcut = _init(nn.Conv2d(cin, cout, 1)) if cin != cout or down else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """x [N, cin, H, W] -> [N, cout, H/2, W/2] if down else [N, cout, H, W]."""
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            # a 1x1 conv commutes with average pooling, so pooling first is exact and cheaper
            h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
        return h + self.shortcut(x)


def _generator_channels(resolution: int, width: int, n: int) -> list[int]:
    """Channels at the bottom, then after each of the n up-blocks."""
    if resolution <= CIFAR_MAX:
        return [width] * (n + 1)
    return [max(1, min(width * 2 ** (n - i) // 4, 4 * width)) for i in range(n + 1)]


def _discriminator_plan(resolution: int, width: int) -> list[tuple[int, bool]]:
    """(out channels, downsample) of each block, the first being the optimized block."""
    size, plan = resolution, []
    if resolution <= CIFAR_MAX:
        while not plan or size > 8:
            plan.append((width, True))
            size //= 2
        return plan + [(width, False)] * 2
    c = max(1, width // 2)
    while size > 4:
        plan.append((min(c, 8 * width), True))
        size, c = size // 2, c * 2
    return plan + [(min(c, 8 * width), False)]


class ResNetGenerator(nn.Module):
    """SNGAN ResNet generator (Miyato et al. 2018, Table 4 / STL-10): z -> b x b map -> up-blocks -> image.

    Args:
        z_dim: latent size (128 in the paper).
        resolution: output height = width, 4*2^k (bottom 4x4) or 6*2^k (bottom 6x6), k >= 1.
        channels: output channels.
        width: channels of every block at resolution <= 32 (256 in the paper); at larger resolutions
            see the module docstring (256 gives the STL-10 512-256-128-64).
        num_classes: K > 0 makes G class-conditional through ConditionalBatchNorm2d in every block
            (Miyato & Koyama 2018); 0 = unconditional.
        attention: resolutions after whose (first) up-block a SAGAN SelfAttention is inserted, e.g. [16].
        spectral_norm: spectral norm on every linear and conv layer (SAGAN uses it in G too).
    """

    def __init__(self, z_dim: int = 128, resolution: int = 32, channels: int = 3, width: int = 256,
                 num_classes: int = 0, attention: Sequence[int] = (), spectral_norm: bool = False) -> None:
        super().__init__()
        self.bottom, n = _stages(resolution, "generator")
        chans = _generator_channels(resolution, width, n)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.linear = _init(nn.Linear(z_dim, self.bottom**2 * chans[0]))
        self.blocks = nn.ModuleList(GBlock(chans[i], chans[i + 1], num_classes) for i in range(n))
        sizes = [self.bottom * 2 ** (i + 1) for i in range(n)]
        self.attention = _attention(attention, sizes, chans[1:], "generator")
        self.bn = nn.BatchNorm2d(chans[-1])
        self.conv = _init(nn.Conv2d(chans[-1], channels, 3, padding=1))
        if spectral_norm:
            spectral_norm_all(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z [N, z_dim], y [N] int64 (needed iff num_classes > 0) -> images [N, channels, R, R] in [-1, 1]."""
        if self.num_classes and y is None:
            raise ValueError(f"a class-conditional generator (generator.num_classes={self.num_classes}) needs "
                             "labels y; pass y or set generator.num_classes=0")
        h = self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom)  # [N, C0, b, b]
        for block, attention in zip(self.blocks, self.attention, strict=True):
            h = attention(block(h, y))  # [N, C_i, 2^i b, 2^i b]
        return torch.tanh(self.conv(F.relu(self.bn(h))))


class ResNetDiscriminator(Discriminator):
    """SNGAN ResNet discriminator (Miyato et al. 2018, Table 4 / STL-10): residual blocks, ReLU, global sum pool.

    features(x) = sum over positions of ReLU(last block) [N, C]; the head is linear, plus
    ``<embed(y), h>`` for the projection discriminator (Miyato & Koyama 2018) or an ACGAN classifier.

    Args:
        resolution: input height = width, 4*2^k or 6*2^k, k >= 1.
        channels: input channels.
        width: channels of every block at resolution <= 32 (128 in the paper); at larger resolutions
            see the module docstring (128 gives the STL-10 64-128-256-512-1024).
        num_classes: K > 0 makes D class-conditional (labels y [N]); 0 = unconditional.
        conditioning: how labels enter when num_classes > 0: "projection" or "acgan".
        attention: resolutions after whose (first) block a SAGAN SelfAttention is inserted.
        spectral_norm: spectral norm on every layer, on by default (SNGAN).
    """

    def __init__(self, resolution: int = 32, channels: int = 3, width: int = 128, num_classes: int = 0,
                 conditioning: str = "projection", attention: Sequence[int] = (), spectral_norm: bool = True) -> None:
        super().__init__()
        _stages(resolution, "discriminator")
        plan = _discriminator_plan(resolution, width)
        blocks, sizes, cin, size = [], [], channels, resolution
        for i, (cout, down) in enumerate(plan):
            blocks.append(DBlock(cin, cout, down, first=i == 0))
            cin, size = cout, size // 2 if down else size
            sizes.append(size)
        self.blocks = nn.ModuleList(blocks)
        self.attention = _attention(attention, sizes, [c for c, _ in plan], "discriminator")
        self.feature_dim, self.num_classes = cin, num_classes
        self.out = ConditionalHead(cin, num_classes, conditioning)
        for m in self.out.modules():
            if isinstance(m, nn.Linear):
                _init(m)
        if spectral_norm:
            spectral_norm_all(self)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = x
        for block, attention in zip(self.blocks, self.attention, strict=True):
            h = attention(block(h))
        return F.relu(h).sum(dim=(2, 3))  # [N, C]: global sum pooling

    def block_list(self) -> list[nn.Module]:
        """FreezeD's blocks (ganlab.nets.freeze): each residual block with the attention layer after it."""
        return [nn.ModuleList([b, a]) for b, a in zip(self.blocks, self.attention, strict=True)]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)  # [N]
