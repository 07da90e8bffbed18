"""RpGAN, R1 + R2 together and LeCam against values computed by hand."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from ganlab.config import CONFIG_DIR
from ganlab.losses import R1, R2, LeCam, RpGAN
from ganlab.losses.regularizers import DiscriminatorOutputs

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


def test_rpgan_losses_by_hand():
    # D: -log sigmoid(D(x_i) - D(G(z_i))) = softplus(f_i - r_i); pairs (2, 0.5) and (-1, -3)
    d = (softplus(0.5 - 2.0) + softplus(-3.0 + 1.0)) / 2
    # G: softplus(r_i - f_i)
    g = (softplus(2.0 - 0.5) + softplus(-1.0 + 3.0)) / 2
    assert RpGAN().d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6) == pytest.approx(0.164171, abs=1e-6)
    assert RpGAN().g_loss(FAKE, REAL).item() == pytest.approx(g, rel=1e-6) == pytest.approx(1.914171, abs=1e-6)


def test_rpgan_pairs_elementwise():
    # the same logits paired the other way round: (2, -3) and (-1, 0.5) -- a different loss
    swapped = FAKE.flip(0)
    d = (softplus(-3.0 - 2.0) + softplus(0.5 + 1.0)) / 2
    g = (softplus(2.0 + 3.0) + softplus(-1.0 - 0.5)) / 2
    assert RpGAN().d_loss(REAL, swapped).item() == pytest.approx(d, rel=1e-6)
    assert RpGAN().g_loss(swapped, REAL).item() == pytest.approx(g, rel=1e-6)
    assert RpGAN().d_loss(REAL, swapped).item() != pytest.approx(RpGAN().d_loss(REAL, FAKE).item())
    # G's gradient w.r.t. its own logit i only involves its pair: -sigmoid(r_i - f_i) / N
    fake = FAKE.clone().requires_grad_(True)
    RpGAN().g_loss(fake, REAL).backward()
    expected = [-1 / (1 + math.exp(-(r - f))) / 2 for r, f in zip(REAL.tolist(), FAKE.tolist(), strict=True)]
    assert fake.grad.tolist() == pytest.approx(expected, rel=1e-6)


def test_rpgan_refuses_unpaired_input():
    assert RpGAN.pairs_real and RpGAN().pairs_real
    with pytest.raises(ValueError, match="real_logits"):
        RpGAN().g_loss(FAKE)
    with pytest.raises(ValueError, match="same shape"):
        RpGAN().d_loss(REAL, torch.zeros(3))


def test_rpgan_and_r3gan_yaml_compose(compose_cfg):
    assert type(instantiate(OmegaConf.load(Path(CONFIG_DIR) / "loss" / "rpgan.yaml"))) is RpGAN
    cfg = compose_cfg("loss=r3gan", "regularizers.r1.gamma=0.2")
    assert type(instantiate(cfg.loss)) is RpGAN
    r1, r2 = instantiate(cfg.regularizers.r1), instantiate(cfg.regularizers.r2)
    assert (type(r1), type(r2)) == (R1, R2)
    assert r1.weight == r2.weight == pytest.approx(0.1) and r1.every == r2.every == 1  # gamma / 2 each


class Quadratic(nn.Module):
    """D(x) = 1/2 a ||x||^2 per sample, so grad_x D = a x and ||grad||^2 = a^2 ||x||^2."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * self.a * x.flatten(1).pow(2).sum(1)


def test_r1r2_preset_is_half_gamma_of_each_every_step(compose_cfg):
    cfg = compose_cfg("+regularizers=r1r2", "regularizers.r1.gamma=0.3")
    regs = {name: instantiate(node) for name, node in cfg.regularizers.items()}
    assert set(regs) == {"r1", "r2"} and (type(regs["r1"]), type(regs["r2"])) == (R1, R2)
    assert regs["r2"].gamma == 0.3 and all(r.every == 1 for r in regs.values())  # r2 follows r1's knobs
    torch.manual_seed(0)
    d, real, fake = Quadratic(-1.5), torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    # what the module adds to D's loss: sum of weight * every * penalty
    combined = sum(r.weight * r.every * r(d, real, fake) for r in regs.values())
    direct = 0.3 / 2 * R1(gamma=0.3)(d, real, fake) + 0.3 / 2 * R2(gamma=0.3)(d, real, fake)  # r1(g/2) + r2(g/2)
    # (gamma / 2) E||grad D(x)||^2 + (gamma / 2) E||grad D(G(z))||^2, with ||grad||^2 = a^2 ||x||^2
    by_hand = 0.15 * 1.5**2 * (real.flatten(1).pow(2).sum(1).mean() + fake.flatten(1).pow(2).sum(1).mean())
    torch.testing.assert_close(combined, direct)
    torch.testing.assert_close(combined, by_hand)
    cfg.regularizers.r1.every = 4  # lazy: r2 follows r1's interval too
    assert instantiate(cfg.regularizers.r2).every == 4


def test_lecam_moving_averages_and_penalty_by_hand():
    reg = LeCam(weight=0.3, decay=0.5)
    steps = [(torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])),  # means 2, -1
             (torch.tensor([4.0, 4.0]), torch.tensor([-4.0, -2.0])),  # means 4, -3
             (torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))]  # means 1, 1
    # bias-corrected EMA, decay 0.5: after t steps alpha = sum_i 0.5^(t-i) 0.5 m_i / (1 - 0.5^t)
    alpha_r = [2.0, (0.25 * 2 + 0.5 * 4) / 0.75, (0.125 * 2 + 0.25 * 4 + 0.5 * 1) / 0.875]
    alpha_f = [-1.0, (0.25 * -1 + 0.5 * -3) / 0.75, (0.125 * -1 + 0.25 * -3 + 0.5 * 1) / 0.875]
    for t, (real, fake) in enumerate(steps):
        value = reg(None, torch.zeros(2, 1), torch.zeros(2, 1), out=DiscriminatorOutputs(real, fake))
        assert reg.updates == t + 1
        assert reg.alpha_real.item() == pytest.approx(alpha_r[t]) and reg.alpha_fake.item() == pytest.approx(alpha_f[t])
        # E[(D(x) - alpha_F)^2] + E[(D(G(z)) - alpha_R)^2] with this step's averages
        expected = (sum((r - alpha_f[t]) ** 2 for r in real.tolist()) / 2
                    + sum((f - alpha_r[t]) ** 2 for f in fake.tolist()) / 2)
        assert value.item() == pytest.approx(expected, rel=1e-6)
    assert alpha_r[1] == pytest.approx(10 / 3) and alpha_f[2] == pytest.approx(-3 / 7)


def test_lecam_one_sided_is_the_released_codes_form():
    reg = LeCam(decay=0.99, one_sided=True)
    real, fake = torch.tensor([1.0, 5.0]), torch.tensor([-1.0, 2.0])
    value = reg(None, torch.zeros(2, 1), torch.zeros(2, 1), out=DiscriminatorOutputs(real, fake))
    # first update: alpha_R = 3, alpha_F = 0.5; relu(D(x) - 0.5)^2 -> 0.25, 20.25; relu(3 - D(G(z)))^2 -> 16, 1
    assert value.item() == pytest.approx((0.25 + 20.25) / 2 + (16 + 1) / 2)
    two_sided = LeCam(decay=0.99)(None, torch.zeros(2, 1), torch.zeros(2, 1), out=DiscriminatorOutputs(real, fake))
    assert two_sided.item() == pytest.approx(value.item())  # no gap has the other sign here
    below = LeCam(one_sided=True)
    below.update(torch.tensor([0.0]), torch.tensor([0.0]))  # alpha_R = alpha_F = 0
    # a real logit below alpha_F and a fake logit above alpha_R are not penalised one-sided
    assert below.penalty(torch.tensor([-2.0]), torch.tensor([3.0])).item() == 0.0
    both = LeCam()
    both.update(torch.tensor([0.0]), torch.tensor([0.0]))
    assert both.penalty(torch.tensor([-2.0]), torch.tensor([3.0])).item() == pytest.approx(4 + 9)  # two-sided


def test_lecam_gradient_reaches_d_not_the_averages():
    reg = LeCam(decay=0.9)
    real = torch.tensor([1.0, 2.0], requires_grad=True)
    fake = torch.tensor([0.0, -1.0], requires_grad=True)
    reg(None, torch.zeros(2, 1), torch.zeros(2, 1), out=DiscriminatorOutputs(real, fake)).backward()
    # alpha_F = -0.5, alpha_R = 1.5 held constant: d/dr_i = 2 (r_i - alpha_F) / 2, d/df_i = -2 (alpha_R - f_i) / 2
    assert real.grad.tolist() == pytest.approx([1.5, 2.5]) and fake.grad.tolist() == pytest.approx([-1.5, -2.5])


def test_lecam_state_dict_round_trip_continues_the_averages():
    steps = [(torch.randn(5), torch.randn(5)) for _ in range(4)]
    reference = LeCam(decay=0.9)
    for real, fake in steps[:2]:
        reference.update(real, fake)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # as a checkpoint is read back: data only
    resumed = LeCam(decay=0.9)
    resumed.load_state_dict(state)
    assert resumed.updates == 2
    for real, fake in steps[2:]:
        expected = reference(None, real, fake, out=DiscriminatorOutputs(real, fake))
        torch.testing.assert_close(resumed(None, real, fake, out=DiscriminatorOutputs(real, fake)), expected)
    assert LeCam().state_dict() == {}  # nothing to save before the first update


def test_lecam_without_outputs_runs_d(compose_cfg):
    reg = instantiate(compose_cfg("+regularizers=lecam").regularizers.lecam)
    assert type(reg) is LeCam and reg.weight == 0.3 and reg.decay == 0.99 and not reg.one_sided
    d = Quadratic(2.0)
    real, fake = torch.ones(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)  # D(x) = 4, D(G(z)) = 0
    value = reg(d, real, fake)
    assert value.item() == pytest.approx((4 - 0) ** 2 + (4 - 0) ** 2)
    with pytest.raises(ValueError, match="regularizers.lecam.decay"):
        LeCam(decay=1.0)
