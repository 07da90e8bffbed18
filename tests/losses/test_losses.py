"""Each loss against values computed by hand on fixed logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlab.losses import GradientPenalty, Hinge, LeastSquares, Minimax, NonSaturating, Wasserstein, WeightClip

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_minimax_is_the_papers_value_function():
    d = mean(-math.log(sig(r)) for r in REAL) + mean(-math.log(1 - sig(f)) for f in FAKE)
    g = mean(math.log(1 - sig(f)) for f in FAKE)  # saturating: G minimizes log(1 - D(G(z)))
    assert Minimax().d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert Minimax().g_loss(FAKE).item() == pytest.approx(g, rel=1e-6)


def test_nonsaturating_generator():
    g = mean(-math.log(sig(f)) for f in FAKE)
    assert NonSaturating().g_loss(FAKE).item() == pytest.approx(g, rel=1e-6)
    assert NonSaturating().d_loss(REAL, FAKE).item() == pytest.approx(Minimax().d_loss(REAL, FAKE).item())


def test_stable_for_extreme_logits():
    big = torch.tensor([200.0, -200.0])
    for loss in (Minimax(), NonSaturating()):
        assert torch.isfinite(loss.d_loss(big, big)) and torch.isfinite(loss.g_loss(big))
    assert NonSaturating().g_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_lsgan():
    d = 0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE)
    g = 0.5 * mean((f - 1) ** 2 for f in FAKE)
    assert LeastSquares().d_loss(REAL, FAKE).item() == pytest.approx(d)
    assert LeastSquares().g_loss(FAKE).item() == pytest.approx(g)


def test_hinge():
    d = mean(max(0, 1 - r) for r in REAL) + mean(max(0, 1 + f) for f in FAKE)  # (0 + 2)/2 + (1.5 + 0)/2
    assert Hinge().d_loss(REAL, FAKE).item() == pytest.approx(d) == pytest.approx(1.75)
    assert Hinge().g_loss(FAKE).item() == pytest.approx(1.25)


def test_wasserstein():
    assert Wasserstein().d_loss(REAL, FAKE).item() == pytest.approx(mean(FAKE) - mean(REAL))  # -1.25 - 0.5
    assert Wasserstein().g_loss(FAKE).item() == pytest.approx(1.25)


def test_gradient_penalty_on_linear_critic():
    # D(x) = w.x has gradient w everywhere: penalty = (||w|| - 1)^2 exactly
    d = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        d[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))  # ||w|| = 5
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    gp = GradientPenalty()(lambda x, y=None: d(x).squeeze(1), real, fake)
    assert gp.item() == pytest.approx(16.0)
    gp.backward()  # differentiable w.r.t. D's weights (create_graph)
    assert d[1].weight.grad is not None and d[1].weight.grad.abs().sum() > 0


def test_weight_clip_clamps_after_step():
    d = nn.Linear(3, 1)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[0.5, -0.002, -2.0]]))
    clip = WeightClip(0.01)
    assert clip(d, torch.zeros(1), torch.zeros(1)) is None  # no penalty term
    clip.after_d_step(d)
    assert d.weight.tolist() == [[pytest.approx(0.01), pytest.approx(-0.002), pytest.approx(-0.01)]]


def test_regularizer_rejects_bad_interval():
    with pytest.raises(ValueError, match="every=0"):
        GradientPenalty(every=0)


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


@pytest.mark.parametrize("cls", [Minimax, NonSaturating])
def test_one_sided_label_smoothing_changes_only_the_real_target(cls):
    smooth, plain = cls(real_target=0.9), cls()
    fake_part = mean(softplus(f) for f in FAKE)  # -log(1 - D(G(z))): target 0, unchanged
    real_part = mean(0.9 * softplus(-r) + 0.1 * softplus(r) for r in REAL)
    assert smooth.d_loss(REAL, FAKE).item() - fake_part == pytest.approx(real_part, rel=1e-6)
    assert plain.d_loss(REAL, FAKE).item() - fake_part == pytest.approx(mean(softplus(-r) for r in REAL), rel=1e-6)
    # the fake term is the same for both: changing only the fakes moves both losses equally
    other = torch.tensor([-1.0, 4.0])
    assert (smooth.d_loss(REAL, FAKE) - smooth.d_loss(REAL, other)).item() == pytest.approx(
        (plain.d_loss(REAL, FAKE) - plain.d_loss(REAL, other)).item())
    assert smooth.g_loss(FAKE).item() == plain.g_loss(FAKE).item()
    assert repr(smooth) == f"{cls.__name__}(real_target=0.9)"


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_label_smoothing_target_validated(bad):
    with pytest.raises(ValueError, match="loss.real_target"):
        NonSaturating(real_target=bad)
