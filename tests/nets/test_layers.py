"""Conditional batch norm, SAGAN self-attention and the label-concatenation input, checked against their formulas."""

from __future__ import annotations

import pytest
import torch

from ganlab.nets.layers import ConditionalBatchNorm2d, LabelConcat, SelfAttention


def test_conditional_batchnorm_is_per_class_affine_of_plain_bn():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, num_classes=4)
    gamma, beta = torch.randn(4, 3), torch.randn(4, 3)
    with torch.no_grad():
        cbn.gamma.copy_(gamma)
        cbn.beta.copy_(beta)
    x, y = torch.randn(8, 3, 4, 4) * 3 + 1, torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    bn = (x - mean) / torch.sqrt(var + 1e-5)  # training-mode batch norm by hand
    expected = gamma[y][:, :, None, None] * bn + beta[y][:, :, None, None]
    torch.testing.assert_close(cbn(x, y), expected, rtol=1e-5, atol=1e-5)


def test_conditional_batchnorm_starts_as_plain_bn_and_needs_labels():
    cbn, bn = ConditionalBatchNorm2d(3, num_classes=4), torch.nn.BatchNorm2d(3, affine=False)
    x = torch.randn(6, 3, 4, 4)
    torch.testing.assert_close(cbn(x, torch.tensor([0, 1, 2, 3, 0, 1])), bn(x))  # gamma 1, beta 0 at init
    with pytest.raises(ValueError, match="needs labels y"):
        cbn(x)


def test_unconditional_batchnorm_is_affine_batchnorm():
    cbn = ConditionalBatchNorm2d(5, num_classes=0)
    assert sum(p.numel() for p in cbn.parameters()) == 2 * 5
    ref = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        cbn.bn.weight.fill_(2.0)
        ref.weight.fill_(2.0)
    x = torch.randn(4, 5, 3, 3)
    torch.testing.assert_close(cbn(x), ref(x))


def _attention_by_hand(sa: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """SAGAN Eq. 1-2 position by position: o_j = v(sum_i softmax_i(f_i . g_j) h_i), out = x + gamma o."""
    n, c, hh, ww = x.shape
    f, g, h = (conv.weight.flatten(1) @ x.flatten(2) for conv in (sa.f, sa.g, sa.h))  # [N, C', P]
    out = torch.empty_like(x.flatten(2))
    for j in range(hh * ww):
        beta = torch.softmax((f * g[:, :, j : j + 1]).sum(1), dim=1)  # [N, P]: weights over inputs i
        o_j = (h * beta[:, None, :]).sum(2)  # [N, C']
        out[:, :, j] = x.flatten(2)[:, :, j] + sa.gamma * (o_j @ sa.v.weight.flatten(1).T)
    return out.view(n, c, hh, ww)


def test_self_attention_matches_formula_and_starts_as_identity():
    torch.manual_seed(0)
    sa = SelfAttention(16)
    assert sa.f.out_channels == sa.g.out_channels == 2  # C / 8
    x = torch.randn(2, 16, 5, 6)
    assert torch.equal(sa(x), x)  # gamma = 0 at init
    with torch.no_grad():
        sa.gamma.fill_(0.7)
    torch.testing.assert_close(sa(x), _attention_by_hand(sa, x), rtol=1e-5, atol=1e-5)


def test_self_attention_reaches_far_positions():
    torch.manual_seed(0)
    sa = SelfAttention(8)
    with torch.no_grad():
        sa.gamma.fill_(1.0)
    x = torch.randn(1, 8, 8, 8)
    x2 = x.clone()
    x2[:, :, 0, 0] += 3.0  # one corner
    far = (sa(x2) - sa(x))[:, :, -1, -1]  # the opposite corner: no conv receptive field reaches it
    assert far.abs().max() > 1e-4


def test_label_concat():
    torch.manual_seed(0)
    cat = LabelConcat(num_classes=3, embed_dim=4)
    z, y = torch.randn(5, 2), torch.tensor([0, 1, 2, 1, 0])
    out = cat(z, y)
    assert out.shape == (5, 6) and cat.extra_dim == 4
    torch.testing.assert_close(out[:, :2], z)
    torch.testing.assert_close(out[:, 2:], cat.embed.weight[y])
    with pytest.raises(ValueError, match="generator.num_classes=3"):
        cat(z)
    plain = LabelConcat(num_classes=0, embed_dim=4)
    assert plain.extra_dim == 0 and plain(z, y) is z and not list(plain.parameters())
