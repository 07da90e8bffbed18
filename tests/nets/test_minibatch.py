"""Minibatch layers against hand-computed batch statistics; both wrap any base.Discriminator."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from ganlab.nets.base import ConditionalHead, Discriminator
from ganlab.nets.minibatch import MinibatchDiscrimination, MinibatchStddev


class Inner(Discriminator):
    """features = x [N, F] (flat inputs); head = w.h + b, or an ACGAN head with ``num_classes``."""

    def __init__(self, f: int = 2, num_classes: int = 0) -> None:
        super().__init__()
        self.feature_dim, self.num_classes = f, num_classes
        self.cond = ConditionalHead(f, num_classes, "acgan")

    def features(self, x, y=None):
        return x

    def head(self, h, y=None):
        return self.cond(h, y)


def test_minibatch_discrimination_hand_values():
    md = MinibatchDiscrimination(Inner(f=1), num_kernels=1, kernel_dim=1)
    with torch.no_grad():
        md.T.fill_(1.0)  # M_i = h_i
    h = md.features(torch.tensor([[0.0], [1.0], [3.0]]))
    e = math.exp
    want = [e(-1) + e(-3), e(-1) + e(-2), e(-3) + e(-2)]  # sum over j != i of exp(-|h_i - h_j|)
    assert h[:, 0].tolist() == [0.0, 1.0, 3.0]  # inner features first
    assert h[:, 1].tolist() == pytest.approx(want, rel=1e-6)


def test_minibatch_discrimination_identical_pair_and_batch_dependence():
    md = MinibatchDiscrimination(Inner(f=3), num_kernels=4, kernel_dim=2)
    x = torch.randn(1, 3).repeat(2, 1)
    h = md.features(x)
    assert h.shape == (2, 3 + 4) and md.feature_dim == 7
    assert torch.allclose(h[:, 3:], torch.ones(2, 4))  # exp(0) from the other sample only
    x2 = x.clone()
    x2[1] += 1.0  # change sample j = 1 only
    h2 = md.features(x2)
    assert torch.equal(h2[0, :3], h[0, :3]) and not torch.allclose(h2[0, 3:], h[0, 3:])


def test_wrapper_starts_as_the_inner_discriminator_and_delegates():
    inner = Inner(f=3, num_classes=5)
    x = torch.randn(4, 3)
    for wrapper in (MinibatchDiscrimination(inner, num_kernels=6), MinibatchStddev(inner, group_size=2)):
        assert wrapper.num_classes == 5
        assert torch.allclose(wrapper(x), inner(x))  # zero-initialized extra linear
        assert torch.equal(wrapper.classify(wrapper.features(x)), inner.classify(x))
        with torch.no_grad():
            wrapper.extra_head.weight.fill_(1.0)
        x2 = x.clone()
        x2[2] = 5.0  # in sample 0's stddev group {0, 2}
        assert wrapper(x2)[0] != wrapper(x)[0]  # sample 0's logit now depends on sample 2


def test_minibatch_stddev_hand_value_and_independent_groups():
    mbstd = MinibatchStddev(Inner(f=2), group_size=2)
    # N = 4, G = 2 -> M = 2 groups: {0, 2} and {1, 3} (the reference's [G, M, F] reshape)
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0], [1.0, 1.0]])
    s = mbstd.features(x)
    assert s.shape == (4, 3) and mbstd.feature_dim == 3
    # group {0, 2}: per-feature population std [1, 2] -> 1.5; group {1, 3}: identical -> sqrt(1e-8)
    assert s[:, 2].tolist() == pytest.approx([1.5, 1e-4, 1.5, 1e-4], rel=1e-5)
    x2 = x.clone()
    x2[1] = torch.tensor([7.0, -3.0])  # change group {1, 3} only
    s2 = mbstd.features(x2)
    assert s2[0, 2] == s[0, 2] and s2[2, 2] == s[2, 2] and s2[1, 2] != s[1, 2]


def test_minibatch_stddev_group_size_falls_back_to_a_divisor():
    mbstd = MinibatchStddev(Inner(), group_size=4)
    assert [mbstd.effective_group_size(n) for n in (8, 6, 5, 2, 1)] == [4, 3, 1, 2, 1]
    assert mbstd.features(torch.randn(6, 2)).shape == (6, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="minibatch.group_size=0"):
        MinibatchStddev(Inner(), group_size=0)
    with pytest.raises(ValueError, match="minibatch.num_kernels"):
        MinibatchDiscrimination(Inner(), num_kernels=0)
    with pytest.raises(ValueError, match="minibatch=stddev wraps a discriminator with features"):
        MinibatchStddev(nn.Linear(2, 1))


@pytest.mark.parametrize(("name", "cls"), [("stddev", MinibatchStddev), ("discrimination", MinibatchDiscrimination)])
def test_minibatch_yaml_composes(compose_cfg, name, cls):
    build = instantiate(compose_cfg(f"minibatch={name}").minibatch)  # train.yaml defaults: minibatch: null
    wrapped = build(discriminator=Inner(f=2))
    assert type(wrapped) is cls and wrapped(torch.randn(4, 2)).shape == (4,)
