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
    gp = GradientPenalty()(lambda x: d(x).squeeze(1), real, fake)
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
