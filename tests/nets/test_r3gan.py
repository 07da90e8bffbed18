"""R3GAN nets: parameter counts by hand, fix-up init, resampling, shapes, class conditioning, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.nets.r3gan import LRELU_GAIN, R3GANDiscriminator, R3GANGenerator, ResidualBlock, resample

# widths [8, 4] bottom up: 4x4 then 8x8; one block per stage, expansion 2, groups of 4 channels
TINY = {"resolution": 8, "channels": 1, "widths": [8, 4], "blocks": 1, "expansion": 2, "group_size": 4}


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def block_params(c: int, e: int, group: int, k: int = 3) -> int:
    """1x1 conv c->ec, bias of act 1, grouped kxk conv (ec outputs, `group` inputs each), bias of act 2, 1x1 ec->c."""
    return c * e * c + e * c + e * c * group * k * k + e * c + e * c * c


def test_block_params_formula_matches_the_hand_count():
    # C=8, E=2: 8*16 + 16 + 16*4*9 + 16 + 16*8 = 128 + 16 + 576 + 16 + 128
    assert block_params(8, 2, 4) == 864 == count(ResidualBlock(8, 2, 4, 3, total_blocks=2))
    assert block_params(4, 2, 4) == 32 + 8 + 288 + 8 + 32 == 368


def test_generator_parameter_count_by_hand():
    g = R3GANGenerator(z_dim=4, **TINY)
    basis = 8 * 4 * 4 + 4 * 8  # learned 8 x 4 x 4 basis + bias-free linear z (4) -> 8 channel scales
    stage0 = 864
    stage1 = 8 * 4 + 368  # 1x1 conv 8 -> 4 before upsampling, then a C=4 block
    out = 4 * 1  # 1x1 conv 4 -> 1 channel, no bias
    assert count(g) == basis + stage0 + stage1 + out == 1428
    # conditional: a 3 x 5 label table, and the z map sees 4 + 5 inputs
    assert count(R3GANGenerator(z_dim=4, num_classes=3, embed_dim=5, **TINY)) == 1428 + 3 * 5 + 5 * 8


def test_discriminator_parameter_count_by_hand():
    d = R3GANDiscriminator(**TINY)
    inp = 1 * 4  # 1x1 conv 1 -> 4 at the top (8x8) stage
    top = 368 + 4 * 8  # a C=4 block, then downsampling and a 1x1 conv 4 -> 8
    bottom = 864  # a C=8 block at 4x4
    basis = 8 * 4 * 4  # depthwise 4x4 conv, one filter per channel
    head = 8 * 1  # bias-free linear 8 -> 1
    assert count(d) == inp + top + bottom + basis + head == 1404
    # conditional: the head maps to an 8-d vector (embed_dim = widths[0]) dotted with a 3 x 8 label table
    assert count(R3GANDiscriminator(num_classes=3, **TINY)) == 1404 - 8 + 8 * 8 + 3 * 8


def test_paper_cifar10_layout_size():
    # the paper's CIFAR-10 layout (equal widths at 4, 8, 16, 32 px, 2 blocks each, groups of 16, z 64) at 32
    # channels instead of 768 (20,732,160 and 20,683,776 parameters there, by the same formula)
    g, d = R3GANGenerator(widths=[32] * 4), R3GANDiscriminator(widths=[32] * 4)
    blocks = 8 * block_params(32, 2, 16)  # equal widths: no 1x1 transitions
    assert count(g) == blocks + 32 * 4 * 4 + 64 * 32 + 32 * 3  # basis, z map, 1x1 to RGB
    assert count(d) == blocks + 3 * 32 + 32 * 4 * 4 + 32  # 1x1 from RGB, depthwise basis, head
    assert 8 * block_params(768, 2, 16) + 768 * 16 + 64 * 768 + 768 * 3 == 20_732_160


def test_residual_branches_are_exactly_zero_at_init():
    torch.manual_seed(0)
    g, d = R3GANGenerator(z_dim=4, **TINY), R3GANDiscriminator(**TINY)
    blocks = [m for net in (g, d) for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 4
    for block in blocks:
        c = block.conv1.in_channels
        x = torch.randn(3, c, 4, 4)
        assert torch.equal(block.branch(x), torch.zeros_like(x))
        assert torch.equal(block(x), x)  # the block is its shortcut at step 0
        assert block.conv3.weight.abs().sum() == 0 and block.conv1.weight.abs().sum() > 0


def test_fixup_init_scale():
    torch.manual_seed(0)
    block = ResidualBlock(64, 2, 16, 3, total_blocks=16)
    gain = LRELU_GAIN * 16 ** (-1 / 4)  # L = 16 blocks: the first two convs scaled by L^(-1/4) = 1/2
    # MSR: std = gain / sqrt(fan_in); fan_in 64 for the 1x1 conv, 16 * 9 for the grouped 3x3
    assert block.conv1.weight.std().item() == pytest.approx(gain / 8, rel=0.05)
    assert block.conv2.weight.std().item() == pytest.approx(gain / 12, rel=0.05)
    assert block.conv2.groups == 8 and block.act1.bias.abs().sum() == 0


def test_resampling_is_bilinear_with_zero_padding():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    up, down = resample(x, up=True), resample(x, up=False)
    assert up.shape == (2, 3, 16, 16) and down.shape == (2, 3, 4, 4)
    # inside the image: torch's bilinear interpolation (antialiased when downsampling)
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])
    box = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], box[..., 1:-1, 1:-1])
    # at the border the missing neighbour is 0: up[0, 0] = (3/4)^2 x[0, 0]
    torch.testing.assert_close(up[..., 0, 0], 0.5625 * x[..., 0, 0])
    # down[0, 0] = sum of [1, 3, 3, 1]/8 x [1, 3, 3, 1]/8 weights over rows/cols -1..2, row/col -1 being 0
    w = torch.tensor([3.0, 3.0, 1.0]) / 8
    torch.testing.assert_close(down[..., 0, 0], torch.einsum("i,j,ncij->nc", w, w, x[..., :3, :3]))
    # the mean of a constant image is kept inside
    assert torch.allclose(resample(torch.ones(1, 1, 8, 8), up=True)[..., 1:-1, 1:-1], torch.ones(1, 1, 14, 14))


@pytest.mark.parametrize(("resolution", "widths"), [(32, [16, 16, 8, 8]), (28, [16, 8, 8]), (8, [8])])
def test_output_shapes(resolution, widths):
    g = R3GANGenerator(z_dim=5, resolution=resolution, channels=3, widths=widths, blocks=[1] * len(widths),
                       group_size=8, tanh=True)
    d = R3GANDiscriminator(resolution=resolution, channels=3, widths=widths, blocks=1, group_size=8)
    x = g(torch.randn(4, 5))
    assert x.shape == (4, 3, resolution, resolution) and x.abs().max() <= 1  # tanh on request
    assert g.bottom == resolution // 2 ** (len(widths) - 1)
    assert d(x).shape == (4,) and d.features(x).shape == (4, widths[0]) and d.feature_dim == widths[0]


def test_class_conditional_nets():
    torch.manual_seed(0)
    g = R3GANGenerator(z_dim=4, num_classes=3, embed_dim=5, **TINY)
    d = R3GANDiscriminator(num_classes=3, **TINY)
    z = torch.randn(1, 4).expand(3, 4)
    y = torch.tensor([0, 1, 2])
    x = g(z, y)
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])  # one z, three classes
    # D's logit: <linear(features), embed(y)>
    h = d.features(x, y)
    torch.testing.assert_close(d(x, y), (d.linear(h) * d.embed.weight[y]).sum(1))
    # label tables: MSR init of a bias-free linear map of the one-hot label (D's with gain 1 / sqrt(E))
    wide_g = R3GANGenerator(z_dim=4, resolution=4, widths=[16], num_classes=100, embed_dim=64, group_size=16)
    wide_d = R3GANDiscriminator(resolution=4, widths=[64], num_classes=100, group_size=16)
    assert wide_g.embed.weight.std().item() == pytest.approx(1 / math.sqrt(100), rel=0.05)
    assert wide_d.embed.weight.std().item() == pytest.approx(1 / math.sqrt(64) / math.sqrt(100), rel=0.05)
    with pytest.raises(ValueError, match="generator.num_classes=3"):
        g(torch.randn(2, 4))
    with pytest.raises(ValueError, match="needs labels y"):
        d(x)


def test_bad_layouts_name_the_key():
    with pytest.raises(ValueError, match=r"generator.resolution=28 with 4 stages .* valid resolutions are bottom"):
        R3GANGenerator(resolution=28, widths=[8, 8, 8, 8], group_size=4)  # 28 / 8 is not an integer
    with pytest.raises(ValueError, match=r"discriminator.group_size=5: must divide"):
        R3GANDiscriminator(**{**TINY, "group_size": 5})
    with pytest.raises(ValueError, match=r"generator.blocks=\[1\]; valid"):
        R3GANGenerator(**{**TINY, "blocks": [1]})
    with pytest.raises(ValueError, match="conditioning='acgan'"):
        R3GANDiscriminator(num_classes=3, conditioning="acgan", **TINY)
