"""SNGAN ResNet G and D: shapes per resolution, the paper's architectures (parameter counts, block lists), options."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlab.nets.layers import SelfAttention
from ganlab.nets.resnet import ResNetDiscriminator, ResNetGenerator


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout  # weight + bias


@pytest.mark.parametrize("resolution", [16, 32, 48])
def test_generator_shapes_and_range(resolution):
    torch.manual_seed(0)
    g = ResNetGenerator(z_dim=8, resolution=resolution, channels=3, width=16)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, 3, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.01


@pytest.mark.parametrize("resolution", [32, 48])
def test_discriminator_logits(resolution):
    d = ResNetDiscriminator(resolution=resolution, channels=1, width=8)
    x = torch.randn(3, 1, resolution, resolution)
    logits = d(x)
    assert logits.shape == (3,) and d.features(x).shape == (3, d.feature_dim)
    assert not torch.allclose(logits[0], logits[1])


def test_bad_resolution_names_the_key():
    with pytest.raises(ValueError, match=r"generator.resolution=40: .*4\*2\^k or 6\*2\^k"):
        ResNetGenerator(resolution=40)
    with pytest.raises(ValueError, match="discriminator.resolution=40"):
        ResNetDiscriminator(resolution=40)
    with pytest.raises(ValueError, match="generator.resolution=4:"):  # needs at least one up-block
        ResNetGenerator(resolution=4)


def test_cifar10_generator_parameter_count():
    """Table 4: dense 128 -> 4x4x256, three up-blocks 256 -> 256, BN, ReLU, 3x3 conv -> 3."""
    g = ResNetGenerator()  # z 128, 32x32, RGB, width 256
    c = 256
    block = 2 * c + _conv(c, c, 3) + 2 * c + _conv(c, c, 3) + _conv(c, c, 1)  # BN, conv, BN, conv, shortcut
    expected = (128 * 16 * c + 16 * c) + 3 * block + 2 * c + _conv(c, 3, 3)
    assert expected == 4_276_739
    assert _count(g) == expected


def test_cifar10_discriminator_parameter_count():
    """Table 4: optimized block 3 -> 128 (down), block down, two blocks without shortcut conv, dense -> 1."""
    d = ResNetDiscriminator()  # 32x32, RGB, width 128, spectral norm (no extra parameters)
    c = 128
    first = _conv(3, c, 3) + _conv(c, c, 3) + _conv(3, c, 1)
    down = 2 * _conv(c, c, 3) + _conv(c, c, 1)
    plain = 2 * _conv(c, c, 3)
    expected = first + down + 2 * plain + (c + 1)
    assert expected == 1_053_825
    assert _count(d) == expected


def test_block_lists_follow_the_paper():
    d32 = ResNetDiscriminator(spectral_norm=False)
    assert [(b.conv1.out_channels, b.down) for b in d32.blocks] == [
        (128, True), (128, True), (128, False), (128, False)]
    assert [isinstance(b.shortcut, nn.Conv2d) for b in d32.blocks] == [True, True, False, False]
    # STL-10 (48x48): down 64, 128, 256, 512 (to 3x3), then 1024; G from 6x6x512 to 256, 128, 64
    d48 = ResNetDiscriminator(resolution=48, spectral_norm=False)
    assert [(b.conv1.out_channels, b.down) for b in d48.blocks] == [
        (64, True), (128, True), (256, True), (512, True), (1024, False)]
    assert d48.feature_dim == 1024
    g48 = ResNetGenerator(resolution=48)
    assert g48.linear.out_features == 6 * 6 * 512
    assert [b.conv2.out_channels for b in g48.blocks] == [256, 128, 64]


def test_xavier_init_gains():
    torch.manual_seed(0)
    g = ResNetGenerator(width=128)
    fan = 128 * 9  # residual 3x3 conv: fan_in = fan_out = 128 * 3 * 3
    std = g.blocks[0].conv1.weight.std().item()
    assert abs(std - math.sqrt(2) * math.sqrt(2 / (2 * fan))) < 0.001  # gain sqrt(2)
    short = g.blocks[0].shortcut.weight.std().item()
    assert abs(short - math.sqrt(2 / (2 * 128))) < 0.003  # gain 1
    assert g.blocks[0].conv1.bias.abs().max() == 0


def test_conditional_generator_uses_labels():
    torch.manual_seed(0)
    g = ResNetGenerator(z_dim=8, resolution=16, channels=1, width=8, num_classes=3).eval()
    bns = [m for m in g.modules() if hasattr(m, "gamma")]
    assert len(bns) == 2 * 2  # two conditional BNs per up-block; the final BN is unconditional
    with torch.no_grad():  # at init every class has gamma 1, beta 0: make the classes differ
        for m in bns:
            m.gamma.normal_(1.0, 0.3)
            m.beta.normal_(0.0, 0.3)
    z = torch.randn(1, 8).repeat(2, 1)
    x = g(z, torch.tensor([0, 2]))
    assert (x[0] - x[1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="generator.num_classes=3"):
        g(z)


def test_attention_placement():
    g = ResNetGenerator(z_dim=8, resolution=32, channels=1, width=16, attention=[16])
    placed = [isinstance(a, SelfAttention) for a in g.attention]
    assert placed == [False, True, False]  # after the 8 -> 16 block
    assert g(torch.randn(2, 8)).shape == (2, 1, 32, 32)
    d = ResNetDiscriminator(resolution=32, channels=1, width=16, attention=[8])
    assert [isinstance(a, SelfAttention) for a in d.attention] == [False, True, False, False]  # first 8x8 block
    assert d(torch.randn(2, 1, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match=r"generator.attention=\[12\]: valid .* \[8, 16, 32\]"):
        ResNetGenerator(resolution=32, width=8, attention=[12])
