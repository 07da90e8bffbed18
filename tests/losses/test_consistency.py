"""Balanced consistency regularization (bCR) against hand-computed values on linear discriminators."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from ganlab.augment import DiffAugment, hflip, translate
from ganlab.losses.consistency import BalancedConsistency
from ganlab.losses.regularizers import DiscriminatorOutputs


class LinearD(nn.Module):
    """D(x) = w . flatten(x) (+ the label, to check that conditional D gets each sample's own label)."""

    def __init__(self, numel: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.arange(numel, dtype=torch.float32) / numel)
        self.labels: list[torch.Tensor | None] = []

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.labels.append(y)
        return x.flatten(1) @ self.w + (0 if y is None else y.float())


def shift_right(x: torch.Tensor, step: int = 0) -> torch.Tensor:
    """A deterministic T: every sample one pixel to the right, zero fill."""
    return translate(x, torch.tensor([[0, 1]]).expand(x.shape[0], 2))


def test_penalty_equals_hand_computed_value():
    torch.manual_seed(0)
    real, fake = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    d = LinearD(16)
    w = d.w.detach().view(4, 4)
    tr, tf = torch.zeros_like(real), torch.zeros_like(fake)
    tr[..., 1:], tf[..., 1:] = real[..., :-1], fake[..., :-1]
    dr = ((real[:, 0] - tr[:, 0]) * w).sum((1, 2))  # D(x) - D(T(x)) per sample, by hand
    df = ((fake[:, 0] - tf[:, 0]) * w).sum((1, 2))
    expect = 10.0 * dr.square().mean() + 2.0 * df.square().mean()
    reg = BalancedConsistency(lambda_real=10.0, lambda_fake=2.0, augment=shift_right)
    assert reg(d, real, fake).item() == pytest.approx(expect.item(), rel=1e-5)
    # with the D step's logits passed in, they stand in for D(x) and D(G(z))
    out = DiscriminatorOutputs(real_logits=torch.zeros(3), fake_logits=torch.zeros(3))
    t_only = 10.0 * (tr.flatten(1) @ d.w).square().mean() + 2.0 * (tf.flatten(1) @ d.w).square().mean()
    assert reg(d, real, fake, out=out).item() == pytest.approx(t_only.item(), rel=1e-5)
    assert len(d.labels) == 4 + 2  # D called 4 times without out, twice (augmented only) with it


def test_zero_for_a_discriminator_invariant_to_t():
    class PixelSum(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            return x.sum((1, 2, 3))  # a left-right flip leaves it unchanged

    torch.manual_seed(0)
    real, fake = torch.randn(8, 3, 6, 6), torch.randn(8, 3, 6, 6)
    assert BalancedConsistency(augment=DiffAugment("flip"))(PixelSum(), real, fake).item() == pytest.approx(0, abs=1e-4)
    # a D that is not flip-invariant is penalized: the flip really is applied
    d = LinearD(3 * 36)
    flip_all = BalancedConsistency(augment=lambda x, step=0: hflip(x, torch.ones(x.shape[0], dtype=torch.bool)))
    assert flip_all(d, real, fake).item() > 1.0


def test_gradient_reaches_d_but_not_g():
    torch.manual_seed(0)
    g = nn.Linear(4, 16)
    d = LinearD(16)
    real = torch.randn(5, 1, 4, 4)
    fake = g(torch.randn(5, 4)).view(5, 1, 4, 4)  # carries G's graph
    BalancedConsistency(augment=shift_right)(d, real, fake).backward()
    assert d.w.grad is not None and (d.w.grad != 0).any()
    assert g.weight.grad is None and g.bias.grad is None


def test_conditional_d_gets_each_samples_label():
    d = LinearD(16)
    y_real, y_fake = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    x = torch.randn(3, 1, 4, 4)
    penalty = BalancedConsistency(augment=shift_right)(d, x, x, y_real=y_real, y_fake=y_fake)
    assert [y.tolist() for y in d.labels] == [[0, 1, 2]] * 2 + [[3, 4, 5]] * 2
    # the label offset cancels in D(x) - D(T(x)): the same value as the unconditional penalty
    assert penalty.item() == pytest.approx(BalancedConsistency(augment=shift_right)(LinearD(16), x, x).item())


def test_default_augmentation_is_flip_and_4px_translation_at_32():
    reg = BalancedConsistency()
    assert (reg.lambda_real, reg.lambda_fake, reg.weight, reg.every) == (10.0, 10.0, 1.0, 1)
    assert isinstance(reg.augment, DiffAugment) and reg.augment.ops == ["flip", "translation"]
    x = torch.zeros(400, 1, 32, 32)
    x[:, 0, 16, 16] = 1.0
    torch.manual_seed(0)
    pos = reg.augment(x).flatten(1).argmax(1)
    dy, dx = pos // 32 - 16, pos % 32
    assert dy.abs().max() == 4 and dy.unique().numel() == 9  # translation up to 4 px
    # x offsets: 16 + s unflipped, 15 - s flipped (mirror of column 16 is 15), s in -4..4
    assert set(dx.unique().tolist()) == set(range(11, 21))


def test_rejects_negative_lambda():
    with pytest.raises(ValueError, match=r"regularizers\.bcr\.lambda_fake=-1.0; valid: a number >= 0"):
        BalancedConsistency(lambda_fake=-1.0)


def test_config_instantiates(compose_cfg):
    cfg = compose_cfg("+regularizers=bcr")
    reg = instantiate(cfg.regularizers.bcr)
    assert isinstance(reg, BalancedConsistency) and reg.lambda_real == reg.lambda_fake == 10.0
    assert repr(reg.augment) == "DiffAugment(policy='flip,translation', translation_ratio=0.125, cutout_ratio=0.5)"
