"""game.unroll.objective=saddle: G minimizes the saddle objective at the look-ahead D, reals' term included
(Metz et al. 2017, Eq. 4-5; the authors' toy notebook), against the default objective=fake."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from ganlab.game import Alternating, Unroll
from ganlab.losses.adversarial import Minimax, NonSaturating
from ganlab.module import GANModule
from ganlab.nets.base import ConditionalHead, Discriminator

LR_D, STEPS = 0.5, 2


class FlatD(Discriminator):
    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, 6), nn.Tanh())
        self.feature_dim = 6
        self.out = ConditionalHead(6)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.trunk(x)

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)


class LinearG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.z_dim = 3
        self.net = nn.Linear(3, 2)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z)


def _module(loss=None, game=None) -> GANModule:
    torch.manual_seed(0)
    module = GANModule(LinearG(), FlatD(), loss or Minimax(), lambda p: torch.optim.SGD(p, 0.1),
                       lambda p: torch.optim.SGD(p, LR_D), game=game or Alternating(unroll=Unroll(STEPS)))
    module.double()
    opt_g, opt_d = module.configure_optimizers()[0]
    module.optimizers = lambda: (opt_g, opt_d)  # driven by hand, without a Trainer
    module.manual_backward = lambda loss: loss.backward()
    return module


def _g_grad(objective: str, second_order: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """G's weight gradient and logged loss from one g_step, and the weight before the step."""
    module = _module(game=Alternating(unroll=Unroll(STEPS, second_order=second_order, objective=objective)))
    torch.manual_seed(1)
    real, z = torch.randn(10, 2, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    w0 = module.generator.net.weight.detach().clone()
    stats = module.g_step(real, None, z, None, True, module.game.judge(module))  # a logging step: loss reported
    return module.generator.net.weight.grad.clone(), stats["train/g_loss"], w0


def _saddle_by_hand(w: Tensor) -> float:
    """f(W) = E log D_K(x) + E log(1 - D_K(G_W(z))), D_K after STEPS plain SGD steps on D's loss (written
    out here, independent of ganlab.unrolled), D and G as _module builds them."""
    module = _module()
    d = copy.deepcopy(module.discriminator)
    torch.manual_seed(1)
    real, z = torch.randn(10, 2, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    fake = z @ w.T + module.generator.net.bias.detach()
    bce = nn.functional.binary_cross_entropy_with_logits
    for _ in range(STEPS):
        r, f = d(real), d(fake)
        d_loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        grads = torch.autograd.grad(d_loss, list(d.parameters()))
        with torch.no_grad():
            for p, g in zip(d.parameters(), grads, strict=True):
                p -= LR_D * g
    with torch.no_grad():
        r, f = d(real), d(fake)
        return float(-(bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))))


def test_saddle_gradient_is_the_derivative_of_the_saddle_objective_at_the_lookahead_d():
    grad, g_loss, w0 = _g_grad("saddle")
    numeric = torch.zeros_like(w0)
    h = 1e-6
    for i in range(w0.numel()):
        e = torch.zeros_like(w0).view(-1)
        e[i] = h
        e = e.view_as(w0)
        numeric.view(-1)[i] = (_saddle_by_hand(w0 + e) - _saddle_by_hand(w0 - e)) / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-9)
    # the logged loss is the objective's value: -D's loss at the look-ahead D
    assert float(g_loss) == pytest.approx(_saddle_by_hand(w0), rel=1e-9)


def test_the_reals_term_changes_g_gradient_only_through_the_second_order_lookahead():
    saddle, saddle_loss, _ = _g_grad("saddle")
    fake, fake_loss, _ = _g_grad("fake")
    assert (saddle - fake).norm() > 0.05 * fake.norm()  # the reals' term reaches G through D_K(theta_G)
    assert float(saddle_loss) < float(fake_loss)  # + E log D_K(x) < 0
    first_saddle, _, _ = _g_grad("saddle", second_order=False)
    first_fake, _, _ = _g_grad("fake", second_order=False)
    torch.testing.assert_close(first_saddle, first_fake, rtol=1e-12, atol=1e-14)


def test_saddle_objective_needs_the_minimax_loss_and_a_known_name():
    with pytest.raises(ValueError, match=r"^game.unroll.objective=saddle with NonSaturating: G's loss is then "):
        _module(NonSaturating(), Alternating(unroll=Unroll(2, objective="saddle")))
    _module(NonSaturating(), Alternating(unroll=Unroll(2)))  # the default objective takes any unrollable loss
    with pytest.raises(ValueError, match=r"^game.unroll.objective='full'; valid: fake, saddle$"):
        Unroll(2, objective="full")
