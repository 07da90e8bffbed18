"""R3GAN generator and discriminator (Huang et al. 2024, "The GAN is dead; long live the GAN!", Sec. 3, config E).

A StyleGAN2-like skeleton stripped of its tricks and modernised after ConvNeXt: every stage is a
resampling transition plus residual blocks, each block an inverted bottleneck 1x1 conv (C -> E*C),
grouped 3x3 conv (groups of ``group_size`` channels), 1x1 conv (E*C -> C) with a biased leaky ReLU
(slope 0.2) after the first two convs. No normalization layer anywhere. Fix-up initialisation: every
conv is MSR/He-initialised with std = gain / sqrt(fan_in), the gain of the first two convs of a
branch scaled by L^(-1/4) for L blocks in the network (so the variance of the sum of L branches stays
bounded), and the last conv of every branch starts at zero: at step 0 each block is its shortcut.

Resampling is bilinear: a fixed [1, 3, 3, 1] low-pass kernel (the authors' filter [1, 2, 1] convolved
with a 2-tap box), applied with zero padding as in the authors' resampler (``resample``).

Stages: G starts from a learned constant ``bottom`` x ``bottom`` basis scaled per channel by a linear
map of z; D ends with a depthwise ``bottom`` x ``bottom`` conv (the discriminative basis) and a linear
head. ``widths`` lists the channels per stage from the bottom (lowest resolution) up, for G and for D
alike (D runs them in reverse), so D mirrors G with the same list; the resolution is
``bottom * 2^(len(widths) - 1)``. Class-conditional: G joins a label embedding to z; D's head outputs
an ``embed_dim`` vector whose dot product with a label embedding is the logit (the paper's projection).

The released code (github.com/brownvc/R3GAN) was read for the exact initialisation, resampling and
conditioning; this file is written from the paper's description and those facts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.nets.base import Discriminator

SLOPE = 0.2
LRELU_GAIN = math.sqrt(2 / (1 + SLOPE**2))  # He gain of a leaky ReLU with slope 0.2
# [1, 3, 3, 1] / 8 per axis: linear interpolation at half-pixel offsets, i.e. bilinear resampling by 2
_LOWPASS = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8


def msr_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """He/MSR init: weight ~ N(0, (gain / sqrt(fan_in))^2), fan_in = input channels per group x kernel size."""
    w = layer.weight
    fan_in = w.shape[1] * w[0][0].numel()
    nn.init.normal_(w, 0.0, gain / math.sqrt(fan_in))
    return layer


def resample(x: Tensor, up: bool) -> Tensor:
    """Bilinear 2x up- or downsampling of x [N, C, H, W] with zero padding -> [N, C, 2H, 2W] or [N, C, H/2, W/2].

    Written out rather than ``F.interpolate``: it matches interpolate's bilinear result inside the image
    (and antialiased bilinear downsampling's), but pads with zeros at the border as the authors' FIR
    resampler does, where interpolate repeats the edge pixel.
    """
    n, c, h, w = x.shape
    k = torch.outer(_LOWPASS, _LOWPASS).to(x.dtype).to(x.device)[None, None]  # [1, 1, 4, 4], sums to 1
    flat = x.reshape(n * c, 1, h, w)
    # up: zero insertion then the kernel, x4 to keep the mean (a quarter of the upsampled pixels are inputs)
    out = F.conv_transpose2d(flat, 4 * k, stride=2, padding=1) if up else F.conv2d(flat, k, stride=2, padding=1)
    return out.view(n, c, out.shape[2], out.shape[3])


class BiasedLeakyReLU(nn.Module):
    """leaky_relu(x + b, 0.2) with a per-channel bias b (the only biases of the R3GAN nets), b = 0 at init."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), SLOPE)


def conv(cin: int, cout: int, kernel_size: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A bias-free 'same' conv with MSR init."""
    return msr_init(nn.Conv2d(cin, cout, kernel_size, padding=(kernel_size - 1) // 2, groups=groups, bias=False),
                    gain)


class ResidualBlock(nn.Module):
    """x + branch(x), branch = 1x1 conv (C -> E*C), act, grouped kxk conv, act, 1x1 conv (E*C -> C), zero-init.

    Args:
        channels: C.
        expansion: E (2 in the paper).
        group_size: channels per group of the kxk conv (16 in the paper's CIFAR-10 nets: 1536 / 96 groups).
        kernel_size: k (3).
        total_blocks: L, the number of residual blocks in the whole network (fix-up scaling L^(-1/4)).
    """

    def __init__(self, channels: int, expansion: int, group_size: int, kernel_size: int, total_blocks: int) -> None:
        super().__init__()
        hidden = channels * expansion
        # three linear layers per branch: the variance of the branch output scales as gain^(2 (3 - 1)), so
        # gain * L^(-1/4) on the first two keeps the L branches' summed variance O(1) (Fixup)
        gain = LRELU_GAIN * total_blocks ** (-1 / 4)
        self.conv1 = conv(channels, hidden, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(hidden)
        self.conv2 = conv(hidden, hidden, kernel_size, groups=hidden // group_size, gain=gain)
        self.act2 = BiasedLeakyReLU(hidden)
        self.conv3 = conv(hidden, channels, 1, gain=0.0)  # zero-initialised: the block starts as its shortcut

    def branch(self, x: Tensor) -> Tensor:
        """The residual branch [N, C, H, W] -> [N, C, H, W] (exactly 0 at initialisation)."""
        return self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.branch(x)


class Resample(nn.Module):
    """Stage transition: 1x1 conv where the channels change, and bilinear 2x resampling (on the fewer channels)."""

    def __init__(self, cin: int, cout: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        # G: conv then upsample; D: downsample then conv (each resamples the smaller tensor)
        return resample(self.conv(x), up=True) if self.up else self.conv(resample(x, up=False))


def plan(who: str, resolution: int, widths: Sequence[int], blocks: int | Sequence[int], expansion: int,
         group_size: int) -> tuple[int, list[int], list[int]]:
    """Validate the stage layout: (bottom size, widths, blocks per stage), stages listed from the bottom up."""
    widths = [int(w) for w in widths]
    n = len(widths)
    if n < 1 or any(w < 1 for w in widths):
        raise ValueError(f"{who}.widths={widths}; valid: a non-empty list of channel counts per stage (bottom up)")
    stages = [int(blocks)] * n if isinstance(blocks, int) else [int(b) for b in blocks]
    if len(stages) != n or any(b < 1 for b in stages):
        raise ValueError(f"{who}.blocks={blocks}; valid: an integer >= 1 or one per stage ({n} stages in "
                         f"{who}.widths)")
    scale = 2 ** (n - 1)
    if not isinstance(resolution, int) or resolution % scale or resolution // scale < 2:
        raise ValueError(f"{who}.resolution={resolution} with {n} stages ({who}.widths): valid resolutions are "
                         f"bottom * 2^{n - 1} with an integer bottom >= 2 ({2 * scale}, {3 * scale}, {4 * scale}, "
                         "...); change dataset.resolution or the number of stages")
    hidden = [w * expansion for w in widths]
    if expansion < 1 or group_size < 1 or any(h % group_size for h in hidden):
        raise ValueError(f"{who}.group_size={group_size}: must divide every stage's expanded width "
                         f"({who}.widths x {who}.expansion = {hidden})")
    return resolution // scale, widths, stages


class R3GANGenerator(nn.Module):
    """R3GAN generator: z (+ label embedding) -> basis b x b -> [blocks, (1x1, 2x up)]... -> 1x1 conv -> image.

    Args:
        z_dim: latent size (64 in the paper's presets).
        resolution: output height = width = bottom * 2^(len(widths) - 1).
        channels: output channels.
        widths: channels per stage from the bottom (b x b) up (CIFAR-10: 768 at 4, 8, 16, 32 px).
        blocks: residual blocks per stage (an integer for all, or one per stage; 2 in the paper).
        expansion: channel expansion inside a block (2).
        group_size: channels per group of the grouped conv (16).
        kernel_size: of the grouped conv (3).
        num_classes: K > 0: class-conditional, a label embedding of ``embed_dim`` joined to z.
        embed_dim: size of that embedding (the paper: z_dim).
        tanh: squash the output with tanh (ganlab's other generators do); False: the paper's linear output.
    """

    def __init__(self, z_dim: int = 64, resolution: int = 32, channels: int = 3,
                 widths: Sequence[int] = (768, 768, 768, 768), blocks: int | Sequence[int] = 2, expansion: int = 2,
                 group_size: int = 16, kernel_size: int = 3, num_classes: int = 0, embed_dim: int = 64,
                 tanh: bool = False) -> None:
        super().__init__()
        self.bottom, widths, stages = plan("generator", resolution, widths, blocks, expansion, group_size)
        self.z_dim, self.num_classes, self.tanh = z_dim, num_classes, tanh
        total = sum(stages)
        cin = z_dim + (embed_dim if num_classes else 0)
        if num_classes:
            # a bias-free linear map of the one-hot label, MSR-initialised (std 1 / sqrt(K)), as a lookup table
            self.embed = nn.Embedding(num_classes, embed_dim)
            nn.init.normal_(self.embed.weight, 0.0, 1 / math.sqrt(num_classes))
        # the generative basis: a learned b x b map per channel, scaled by a linear function of z
        self.basis = nn.Parameter(torch.randn(widths[0], self.bottom, self.bottom))
        self.basis_scale = msr_init(nn.Linear(cin, widths[0], bias=False))
        self.stages = nn.ModuleList()
        for i, (w, b) in enumerate(zip(widths, stages, strict=True)):
            layers = [Resample(widths[i - 1], w, up=True)] if i else []
            layers += [ResidualBlock(w, expansion, group_size, kernel_size, total) for _ in range(b)]
            self.stages.append(nn.Sequential(*layers))
        self.out = conv(widths[-1], channels, 1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z [N, z_dim], y [N] int64 (needed iff num_classes > 0) -> images [N, channels, R, R]."""
        if self.num_classes:
            if y is None:
                raise ValueError(f"a class-conditional generator (generator.num_classes={self.num_classes}) needs "
                                 "labels y; pass y or set generator.num_classes=0")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = self.basis[None] * self.basis_scale(z)[:, :, None, None]  # [N, C0, b, b]
        for stage in self.stages:
            h = stage(h)  # [N, C_i, b 2^i, b 2^i]
        x = self.out(h)
        return torch.tanh(x) if self.tanh else x


class R3GANDiscriminator(Discriminator):
    """R3GAN discriminator: 1x1 conv -> [blocks, (2x down, 1x1)]... -> blocks -> depthwise b x b conv -> linear.

    features(x) is the discriminative basis' output [N, C0] (C0 = widths[0]); the head is a linear map
    to the logit, or, class-conditional, to an ``embed_dim`` vector dotted with a label embedding.

    Args:
        resolution: input height = width = bottom * 2^(len(widths) - 1).
        channels: input channels.
        widths: channels per stage listed from the bottom (b x b) up, as for the generator (D runs
            them from the top down).
        blocks, expansion, group_size, kernel_size: as for the generator.
        num_classes: K > 0: class-conditional (labels y [N]).
        conditioning: "projection" (the paper's: logit = <head(h), embed(y)>); R3GAN has no ACGAN head.
        embed_dim: size of the label embedding; None: widths[0] (the paper's choice).
    """

    def __init__(self, resolution: int = 32, channels: int = 3, widths: Sequence[int] = (768, 768, 768, 768),
                 blocks: int | Sequence[int] = 2, expansion: int = 2, group_size: int = 16, kernel_size: int = 3,
                 num_classes: int = 0, conditioning: str = "projection", embed_dim: int | None = None) -> None:
        super().__init__()
        self.bottom, widths, stages = plan("discriminator", resolution, widths, blocks, expansion, group_size)
        if num_classes and conditioning != "projection":
            raise ValueError(f"discriminator.conditioning={conditioning!r}: the R3GAN discriminator conditions by "
                             "projecting its output on a label embedding; valid: projection")
        self.num_classes, self.feature_dim = num_classes, widths[0]
        total = sum(stages)
        self.inp = conv(channels, widths[-1], 1)
        self.stages = nn.ModuleList()
        for i in reversed(range(len(widths))):
            layers: list[nn.Module] = [ResidualBlock(widths[i], expansion, group_size, kernel_size, total)
                                       for _ in range(stages[i])]
            if i:
                layers.append(Resample(widths[i], widths[i - 1], up=False))
            self.stages.append(nn.Sequential(*layers))
        # the discriminative basis: one b x b filter per channel -> [N, C0, 1, 1]
        self.basis = msr_init(nn.Conv2d(widths[0], widths[0], self.bottom, groups=widths[0], bias=False))
        embed_dim = widths[0] if embed_dim is None else embed_dim
        self.linear = msr_init(nn.Linear(widths[0], embed_dim if num_classes else 1, bias=False))
        if num_classes:
            # MSR init of a bias-free linear map of the one-hot label with gain 1 / sqrt(E): the dot product
            # of two unit-variance E-vectors is scaled back to unit variance
            self.embed = nn.Embedding(num_classes, embed_dim)
            nn.init.normal_(self.embed.weight, 0.0, 1 / math.sqrt(embed_dim) / math.sqrt(num_classes))

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.inp(x)  # [N, C_top, R, R]
        for stage in self.stages:
            h = stage(h)
        return self.basis(h).flatten(1)  # [N, C0]

    def block_list(self) -> list[nn.Module]:
        """FreezeD's blocks (ganlab.nets.freeze): each resolution stage from the input, the input conv in the first."""
        return [nn.ModuleList([self.inp, self.stages[0]]), *self.stages[1:]]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.linear(h)  # [N, E] conditional, [N, 1] otherwise
        if not self.num_classes:
            return out.squeeze(1)
        if y is None:
            raise ValueError("a class-conditional R3GAN discriminator needs labels y; the dataset must supply them")
        return (out * self.embed(y)).sum(1)  # [N]
