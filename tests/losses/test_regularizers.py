"""D-side penalties against values known in closed form (linear and quadratic discriminators)."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from ganlab.losses import (
    DRAGAN,
    R1,
    R2,
    AuxiliaryClassifierD,
    AuxiliaryClassifierG,
    DiscriminatorOutputs,
    GradientPenalty,
    HistoricalAveraging,
)
from ganlab.nets.base import ConditionalHead, Discriminator


def linear_d(w: list[float], b: float = 0.7) -> nn.Module:
    """D(x) = w.flatten(x) + b: gradient w everywhere."""
    d = nn.Sequential(nn.Flatten(), nn.Linear(len(w), 1))
    with torch.no_grad():
        d[1].weight.copy_(torch.tensor([w]))
        d[1].bias.fill_(b)
    return d


class Quadratic(nn.Module):
    """D(x, y) = 1/2 a_y ||x||^2, so grad_x D = a_y x; a_y per class (a_0 without labels)."""

    def __init__(self, a: list[float]) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        a = self.a[y] if y is not None else self.a[0]
        return 0.5 * a * x.flatten(1).pow(2).sum(1)


def test_gradient_penalty_of_linear_d_with_bias():
    d = linear_d([0.0, 3.0, 0.0, 4.0])  # ||w|| = 5
    for _ in range(2):  # any real/fake pair
        real, fake = torch.randn(5, 1, 2, 2), 3 * torch.randn(5, 1, 2, 2)
        assert GradientPenalty()(lambda x, y=None: d(x).squeeze(1), real, fake).item() == pytest.approx(16.0)


def test_r1_and_r2_on_quadratic_d():
    d = Quadratic([2.0, -3.0])
    real, fake = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    y_real, y_fake = torch.tensor([0, 1, 1, 0]), torch.tensor([1, 1, 0, 0])
    a_real, a_fake = torch.tensor([2.0, -3.0, -3.0, 2.0]), torch.tensor([-3.0, -3.0, 2.0, 2.0])
    r1 = R1(gamma=10.0)(d, real, fake, y_real=y_real, y_fake=y_fake)
    r2 = R2(gamma=10.0)(d, real, fake, y_real=y_real, y_fake=y_fake)
    # E||a_y x||^2 over reals (R1) / fakes (R2), labels routed to D
    assert r1.item() == pytest.approx((a_real**2 * real.flatten(1).pow(2).sum(1)).mean().item(), rel=1e-5)
    assert r2.item() == pytest.approx((a_fake**2 * fake.flatten(1).pow(2).sum(1)).mean().item(), rel=1e-5)
    # unconditional: E||a x||^2 with a = 2
    assert R1()(d, real, fake).item() == pytest.approx(4 * real.pow(2).sum().item() / 4, rel=1e-5)
    # differentiable w.r.t. D's parameters (create_graph): d/da_0 of mean(a^2 ||x||^2) = 2 a_0 mean||x||^2
    R1()(d, real, fake).backward()
    assert d.a.grad[0].item() == pytest.approx(2 * 2.0 * real.pow(2).sum().item() / 4, rel=1e-5)


def test_r1_weight_is_half_gamma():
    assert R1(gamma=10.0).weight == 5.0 and R2(gamma=1.0).weight == 0.5
    lazy = R1(gamma=10.0, every=16)
    assert lazy.every == 16 and lazy.weight == 5.0  # the module scales by every
    assert "gamma=10.0" in repr(lazy)


def test_dragan_on_linear_d():
    d = linear_d([1.0, 2.0, 2.0, 0.0])  # ||w|| = 3
    real = torch.randn(6, 1, 2, 2)
    penalty = DRAGAN()(lambda x, y=None: d(x).squeeze(1), real, torch.zeros_like(real))
    assert penalty.item() == pytest.approx(4.0)
    penalty.backward()
    assert d[1].weight.grad.abs().sum() > 0


def test_dragan_perturbation_bound():
    real = 2 * torch.randn(64, 3, 4, 4) + 1
    x_hat = DRAGAN(scale=0.5).perturb(real)
    delta = x_hat - real
    bound = 0.5 * real.std(correction=0).item()
    assert delta.min().item() >= 0 and delta.max().item() <= bound + 1e-6
    assert delta.max().item() > 0.5 * bound  # random, not stuck at x
    with pytest.raises(ValueError, match="regularizers.dragan.scale"):
        DRAGAN(scale=0.0)


def set_params(module: nn.Linear, w: list[float], b: float) -> None:
    with torch.no_grad():
        module.weight.copy_(torch.tensor([w]))
        module.bias.fill_(b)


def test_historical_averaging_d():
    d = nn.Linear(2, 1)
    reg = HistoricalAveraging(weight=0.5)
    x = torch.zeros(1, 2)
    assert reg(d, x, x).item() == 0.0  # no history yet
    for w, b in [([1.0, 2.0], 0.0), ([3.0, 0.0], 3.0), ([2.0, 4.0], 6.0)]:  # theta_1..3
        set_params(d, w, b)
        reg.after_d_step(d)
    set_params(d, [0.0, 0.0], 1.0)  # theta; mean = ([2, 2], 3)
    penalty = reg(d, x, x)
    assert penalty.item() == pytest.approx(2**2 + 2**2 + (1 - 3) ** 2)
    penalty.backward()  # gradient 2 (theta - mean) reaches D
    assert d.weight.grad.tolist() == [[-4.0, -4.0]] and d.bias.grad.item() == pytest.approx(-4.0)


class ACGAND(Discriminator):
    """features = x [N, 2]; an ACGAN head whose class logits are h W^T + c (3 classes)."""

    feature_dim, num_classes = 2, 3

    def __init__(self) -> None:
        super().__init__()
        self.cond = ConditionalHead(2, 3, "acgan")
        with torch.no_grad():
            self.cond.classifier.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
            self.cond.classifier.bias.copy_(torch.tensor([0.0, 0.0, -1.0]))

    def features(self, x, y=None):
        return x

    def head(self, h, y=None):
        return self.cond(h, y)


def ce(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


REAL = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # class logits [1, 0, 0], [0, 2, 1]
FAKE = torch.tensor([[0.0, 0.0], [1.0, 1.0]])  # class logits [0, 0, -1], [1, 1, 1]


def test_acgan_d_loss_by_hand():
    d = ACGAND()
    y_real, y_fake = torch.tensor([0, 2]), torch.tensor([1, 0])
    want = (ce([1, 0, 0], 0) + ce([0, 2, 1], 2)) / 2 + (ce([0, 0, -1], 1) + ce([1, 1, 1], 0)) / 2
    reg = AuxiliaryClassifierD()
    assert reg(d, REAL, FAKE, y_real=y_real, y_fake=y_fake).item() == pytest.approx(want, rel=1e-6)
    out = DiscriminatorOutputs(d(REAL), d(FAKE), d.features(REAL), d.features(FAKE))  # reuses the step's features
    assert reg(d, REAL, FAKE, y_real=y_real, y_fake=y_fake, out=out).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="regularizers.acgan needs class labels"):
        reg(d, REAL, FAKE)
    with pytest.raises(ValueError, match="conditioning=acgan"):
        reg(nn.Linear(2, 1), REAL, FAKE, y_real=y_real, y_fake=y_fake)


def test_acgan_g_loss_by_hand():
    d, y_fake = ACGAND(), torch.tensor([2, 1])
    fake = FAKE.clone().requires_grad_(True)
    loss = AuxiliaryClassifierG()(d, REAL, fake, y_fake=y_fake)
    assert loss.item() == pytest.approx((ce([0, 0, -1], 2) + ce([1, 1, 1], 1)) / 2, rel=1e-6)
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # reaches G's samples


def test_classify_without_acgan_head():
    class Plain(Discriminator):
        feature_dim = 2

    with pytest.raises(ValueError, match="conditioning=acgan"):
        Plain().classify(torch.zeros(1, 2))


@pytest.mark.parametrize(("name", "cls", "weight"), [
    ("gp", GradientPenalty, 10.0), ("dragan", DRAGAN, 10.0), ("r1", R1, 5.0), ("r2", R2, 5.0),
    ("historical_averaging", HistoricalAveraging, 1.0), ("acgan", AuxiliaryClassifierD, 1.0)])
def test_regularizer_yaml_composes(compose_cfg, name, cls, weight):
    select = "conditional=acgan" if name == "acgan" else f"+regularizers={name}"  # ACGAN: D head + both terms
    cfg = compose_cfg(select)
    reg = instantiate(cfg.regularizers[name])
    assert type(reg) is cls and reg.weight == weight and reg.every == 1
    if name == "acgan":
        assert type(instantiate(cfg.g_terms.acgan)) is AuxiliaryClassifierG
    lazy = instantiate(compose_cfg(select, f"regularizers.{name}.every=16").regularizers[name])
    assert lazy.every == 16
