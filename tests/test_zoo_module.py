"""The module's zoo hooks: EMA of G, Unrolled GAN look-ahead, PacGAN packing, augmentation, G terms."""

from __future__ import annotations

import copy
import functools
import io

import pytest
import torch
from torch import Tensor, nn

from ganlab.ema import EMA, ema_update
from ganlab.game import Alternating, Simultaneous, Unroll
from ganlab.losses.adversarial import NonSaturating, Wasserstein
from ganlab.losses.regularizers import GeneratorTerm
from ganlab.module import GANModule
from ganlab.nets.base import ConditionalHead, Discriminator
from ganlab.nets.pacgan import PacDiscriminator
from ganlab.unrolled import check_optimizer, unrolled_parameters


class FlatD(Discriminator):
    """Tiny MLP discriminator on flat [N, dim] data."""

    def __init__(self, dim: int = 2, hidden: int = 8) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh())
        self.feature_dim = hidden
        self.out = ConditionalHead(hidden)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.trunk(x)

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)


class FlatG(nn.Module):
    def __init__(self, z_dim: int = 3, dim: int = 2) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, dim))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z)


def _module(**kwargs) -> GANModule:
    torch.manual_seed(0)
    kwargs.setdefault("d_optimizer", lambda p: torch.optim.Adam(p, 1e-2))
    kwargs.setdefault("game", Alternating())
    return GANModule(FlatG(), FlatD(), NonSaturating(), lambda p: torch.optim.Adam(p, 1e-2), **kwargs)


def test_ema_update_arithmetic_params_averaged_buffers_copied():
    model, ema = FlatG(), FlatG()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
        for p in ema.parameters():
            p.fill_(3.0)
        model.net[1].running_mean.fill_(7.0)
    ema_update(ema, model, decay=0.9)
    for p in ema.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.9 * 3.0 + 0.1 * 1.0))
    torch.testing.assert_close(ema.net[1].running_mean, torch.full((8,), 7.0))  # copied, not averaged


def test_ema_rule_keeps_parameter_lists_per_pair_of_networks():
    """EMA.update keeps the parameter lists between steps (same values as ema_update, which collects them), and a
    new pair of networks gets its own lists; a reassigned buffer is still seen (buffers are collected each time)."""
    rule, model, ema, reference = EMA(0.9), FlatG(), FlatG(), FlatG()
    reference.load_state_dict(ema.state_dict())
    for step in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        rule.update(ema, model, step)
        ema_update(reference, model, 0.9)
    for a, b in zip(ema.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    model.net[1].running_mean = torch.full((8,), 5.0)  # a buffer replaced by a new tensor
    rule.update(ema, model, 3)
    torch.testing.assert_close(ema.net[1].running_mean, torch.full((8,), 5.0))
    other, other_ema = FlatG(), FlatG()
    with torch.no_grad():
        expected = [0.9 * e + 0.1 * o for e, o in zip(other_ema.parameters(), other.parameters(), strict=True)]
    rule.update(other_ema, other, 0)  # another pair: averaged towards `other`, not `model`
    for a, b in zip(other_ema.parameters(), expected, strict=True):
        torch.testing.assert_close(a, b)


def test_ema_generator_is_a_frozen_copy_used_for_samples():
    module = _module(ema=EMA(0.99))
    assert module.eval_generator is module.generator_ema
    assert not any(p.requires_grad for p in module.generator_ema.parameters())
    assert "generator_ema.net.0.weight" in module.state_dict()
    with torch.no_grad():
        for p in module.generator_ema.parameters():
            p.zero_()
    z = torch.randn(4, 3)
    # samples come from the average (zero weights -> zero output), not from G
    assert torch.equal(module.generate(z), torch.zeros(4, 2))
    assert _module().eval_generator is not None and _module().generator_ema is None


def test_ema_decay_out_of_range_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"ema.decay=1.0; valid"):
        EMA(1.0)


def test_ema_rampup_half_life_grows_with_the_steps_averaged_until_the_decay_caps_it():
    ema = EMA(0.999, start=100, rampup=0.05)
    assert ema.decay_at(99) == 0.0  # before start: copies G
    # 200 steps averaged after step 299: half-life 0.05 * 200 = 10 steps
    assert ema.decay_at(299) == pytest.approx(0.5 ** (1 / 10))
    assert 0.5 ** (1 / 10) < 0.999
    # 0.999 has a half-life of 692.8 steps, reached after 692.8 / 0.05 = 13,857 averaged steps
    assert ema.decay_at(100 + 13_000) < 0.999 and ema.decay_at(100 + 14_000) == 0.999
    assert EMA(0.999).decay_at(5) == 0.999 and EMA(0.999, start=10).decay_at(5) == 0.0
    with pytest.raises(ValueError, match=r"ema.rampup=0; valid"):
        EMA(0.999, rampup=0)


def test_ema_half_life_in_images_gives_the_per_step_decay():
    """StyleGAN2 / R3GAN: decay = 0.5 ** (batch / half-life in images); 0 images: the average is G."""
    ema = EMA(half_life_images=640, batch_size=64)
    assert ema.enabled and ema.decay_at(0) == 0.5 ** (64 / 640)  # half-life 10 steps
    assert EMA(half_life_images=0, batch_size=64).decay_at(7) == 0.0
    # ramp-up and start apply as with decay: half-life at most 0.05 * 20 = 1 step after 20 averaged steps
    assert EMA(half_life_images=640, batch_size=64, rampup=0.05, start=5).decay_at(24) == 0.5
    assert EMA(half_life_images=640, batch_size=64, start=5).decay_at(4) == 0.0
    with pytest.raises(ValueError, match=r"^ema.decay=0.99 and ema.half_life_images=100; valid: one of the two"):
        EMA(0.99, half_life_images=100)
    with pytest.raises(ValueError, match=r"^ema.half_life_images=-1; valid: a number of images >= 0"):
        EMA(half_life_images=-1)
    assert not EMA().enabled


def _linear_d() -> FlatD:
    torch.manual_seed(1)
    return FlatD()


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.SGD(p, lr=0.1),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.5, 0.999)),
    lambda p: torch.optim.RMSprop(p, lr=0.01),
], ids=["sgd", "sgd-momentum", "adam", "rmsprop"])
def test_unrolled_updates_match_the_real_optimizer_and_leave_d_unchanged(make_opt):
    d, loss = _linear_d(), NonSaturating()
    opt = make_opt(d.parameters())
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    # one real step first, so the optimizer carries state (moments) into the look-ahead
    opt.zero_grad()
    loss.d_loss(d(real), d(fake)).backward()
    opt.step()
    before = copy.deepcopy(d.state_dict())
    state_before = copy.deepcopy(opt.state_dict())
    batches = [(real, None, fake, None), (fake, None, real, None)]
    ahead = unrolled_parameters(d, loss, opt, batches)
    x = torch.randn(5, 2)
    got = ahead(x)
    for k, v in d.state_dict().items():  # D's own weights and the optimizer are untouched
        assert torch.equal(v, before[k])
    assert str(opt.state_dict()) == str(state_before)
    # the same two updates with the real optimizer on a copy give the same D
    d2 = copy.deepcopy(d)
    opt2 = type(opt)(d2.parameters(), **{k: v for k, v in opt.param_groups[0].items() if k != "params"})
    opt2.load_state_dict(opt.state_dict())
    for r, _, f, _ in batches:
        opt2.zero_grad()
        loss.d_loss(d2(r), d2(f)).backward()
        opt2.step()
    torch.testing.assert_close(got, d2(x), rtol=1e-5, atol=1e-6)


def test_unrolled_second_order_gradient_reaches_the_generator_through_the_lookahead():
    d, loss = _linear_d(), Wasserstein()
    opt = torch.optim.SGD(d.parameters(), lr=0.5)
    w = torch.tensor([[0.3, -0.2]], requires_grad=True)  # "generator": fake = w + noise
    real = torch.randn(8, 2)
    fake = w + torch.zeros(8, 2)
    grads = {}
    for second in (True, False):
        f = fake if second else fake.detach()
        ahead = unrolled_parameters(d, loss, opt, [(real, None, f, None)], create_graph=second)
        (g,) = torch.autograd.grad(loss.g_loss(ahead(fake)), w)
        grads[second] = g
    assert not torch.allclose(grads[True], grads[False])


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.99)),
    lambda p: torch.optim.RMSprop(p, lr=0.02),
    lambda p: torch.optim.SGD(p, lr=0.3, momentum=0.5),
], ids=["adam", "rmsprop", "sgd-momentum"])
def test_unrolled_second_order_gradient_matches_finite_differences(make_opt):
    """G's gradient through k look-ahead updates is the true derivative of the unrolled objective:
    central differences of  G-loss(D_k(w), fake(w))  in float64, D_k depending on w through the fakes."""
    torch.manual_seed(3)
    d, loss = FlatD().double(), NonSaturating()
    opt = make_opt(d.parameters())
    real, z = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 2, dtype=torch.float64)
    opt.zero_grad()  # one real step, so the look-ahead starts from non-empty moments
    loss.d_loss(d(real), d(z)).backward()
    opt.step()
    w = torch.tensor([[0.4, -0.3], [0.2, 0.9]], dtype=torch.float64)  # "generator": fake = tanh(z W)

    def objective(weights: Tensor) -> Tensor:
        fake = torch.tanh(z @ weights)
        ahead = unrolled_parameters(d, loss, opt, [(real, None, fake, None)] * 2, create_graph=True)
        return loss.g_loss(ahead(fake))

    w_var = w.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(w_var), w_var)
    numeric = torch.zeros_like(w)
    h = 1e-6
    for i in range(w.numel()):
        e = torch.zeros_like(w).view(-1)
        e[i] = h
        e = e.view_as(w)
        numeric.view(-1)[i] = (objective(w + e) - objective(w - e)).item() / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)
    # and the look-ahead's own contribution is not negligible here (else this test proves little)
    fake = torch.tanh(z @ w_var)
    frozen_d = unrolled_parameters(d, loss, opt, [(real, None, fake.detach(), None)] * 2, create_graph=False)
    (first_order,) = torch.autograd.grad(loss.g_loss(frozen_d(fake)), w_var)
    assert (grad - first_order).norm() > 0.01 * grad.norm()


def test_unrolled_accepts_only_optimizers_whose_update_it_replays():
    w = [nn.Parameter(torch.zeros(1))]
    for ok in (torch.optim.Adam(w), torch.optim.RMSprop(w), torch.optim.SGD(w, lr=0.1, momentum=0.9)):
        check_optimizer(ok)
    with pytest.raises(ValueError, match=r"^game.unroll needs D's optimizer \(optim.d\) to be one of Adam, "
                                         r"RMSprop, SGD; got AdamW$"):
        check_optimizer(torch.optim.AdamW(w))
    with pytest.raises(ValueError, match=r"^game.unroll supports SGD without .*; optim.d sets nesterov$"):
        check_optimizer(torch.optim.SGD(w, lr=0.1, momentum=0.9, nesterov=True))
    with pytest.raises(ValueError, match="optim.d sets centered"):  # refused when the module is built
        _module(game=Alternating(unroll=Unroll(2)),
                d_optimizer=functools.partial(torch.optim.RMSprop, lr=1e-3, centered=True))


def test_unrolled_g_step_leaves_d_weights_unchanged():
    module = _module(game=Alternating(unroll=Unroll(3)))
    trainer_stub_step(module)


def trainer_stub_step(module: GANModule) -> None:
    """One G step with look-ahead: G's weights move, D's (and D's optimizer state) do not."""
    opt_g, opt_d = module.configure_optimizers()[0]
    module.optimizers = lambda: (opt_g, opt_d)  # the G step asks for D's optimizer
    module.manual_backward = lambda loss: loss.backward()
    d_before = copy.deepcopy(module.discriminator.state_dict())
    g_before = copy.deepcopy(module.generator.state_dict())
    real = torch.randn(16, 2)
    module.g_step(real, None, module.noise(16), None, False)
    for k, v in module.discriminator.state_dict().items():
        assert torch.equal(v, d_before[k]), k
    assert not torch.equal(module.generator.state_dict()["net.0.weight"], g_before["net.0.weight"])
    assert all(p.grad is None for p in module.discriminator.parameters())


def test_pacgan_inner_discriminator_sees_packs():
    seen = []
    inner = FlatD(dim=2 * 3)
    inner.trunk.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    d = PacDiscriminator(inner, packing=3)
    x = torch.randn(12, 2)
    logits = d(x)
    assert seen == [torch.Size([4, 6])] and logits.shape == (4,)
    # a pack is consecutive samples: changing sample 4 changes only the second pack's logit
    x2 = x.clone()
    x2[4] += 1
    changed = (d(x2) != logits).tolist()
    assert changed == [False, True, False, False]
    images = torch.randn(6, 3, 8, 8)
    assert d.pack(images).shape == (2, 9, 8, 8)
    torch.testing.assert_close(d.pack(images)[1, 3:6], images[4])
    with pytest.raises(ValueError, match="pack=3"):
        d(torch.randn(10, 2))


class Spy:
    """Records every tensor an augmentation sees; adds 0 so values are unchanged."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, x: Tensor, step: int) -> Tensor:
        self.calls.append((x.shape[0], x.requires_grad))
        return x + 0


class MeanTerm(GeneratorTerm):
    replaces_adversarial = True

    def __call__(self, discriminator, real, fake, *, generator=None, y_real=None, y_fake=None, fake_features=None):
        assert fake_features is not None and fake_features.shape == (fake.shape[0], 8)
        return (fake_features.mean(0) - discriminator.features(real).mean(0).detach()).pow(2).sum()


def test_augmentation_applied_to_real_and_fake_in_both_steps_and_g_terms_replace_the_loss():
    spy, term = Spy(), MeanTerm()
    module = _module(augment={"spy": spy}, g_terms={"fm": term})
    opt_g, opt_d = module.configure_optimizers()[0]
    module.optimizers = lambda: (opt_g, opt_d)
    module.manual_backward = lambda loss: loss.backward()
    real = torch.randn(16, 2)
    module.d_step(real, None, *module.game.d_fakes(module, 16), False)
    assert len(spy.calls) == 2  # real and fake, D step: fakes carry no graph
    assert [g for _, g in spy.calls] == [False, False]
    stats = module.g_step(real, None, module.noise(16), None, True)  # a logging step: the losses are reported
    assert len(spy.calls) == 4 and spy.calls[2][1]  # the G step's fakes are augmented with their graph
    # the adversarial loss is replaced: g_loss is exactly the term
    torch.testing.assert_close(stats["train/g_loss"], stats["train/fm"])


def test_conditional_sample_grid_has_one_row_per_class():
    module = _module(num_classes=10, num_sample_images=64)
    assert module.sample_nrow == 6 and module.sample_z.shape == (60, 3)
    rows = module.sample_y.view(10, 6)  # the grid's rows, nrow = sample_nrow
    assert torch.equal(rows, torch.arange(10).unsqueeze(1).expand(10, 6))
    assert _module().sample_nrow is None and _module().sample_z.shape[0] == 64


def test_historical_averaging_state_survives_a_checkpoint():
    from ganlab.losses.generator_terms import HistoricalAveragingG
    from ganlab.losses.regularizers import HistoricalAveraging

    def build() -> GANModule:
        return _module(regularizers={"historical_averaging": HistoricalAveraging()},
                       g_terms={"historical_averaging": HistoricalAveragingG()})

    module = build()
    for shift in (1.0, 3.0):  # two D and G steps: the running means are the midpoints
        with torch.no_grad():
            for p in [*module.discriminator.parameters(), *module.generator.parameters()]:
                p.add_(shift)
        module.regularizers["historical_averaging"].after_d_step(module.discriminator)
        module.g_terms["historical_averaging"].after_g_step(module.generator)
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    checkpoint = torch.load(_roundtrip(checkpoint), weights_only=True)  # as a file is read back: data only
    resumed = build()
    resumed.load_state_dict(module.state_dict())
    resumed.on_load_checkpoint(checkpoint)
    for kind, net in (("regularizers", "discriminator"), ("g_terms", "generator")):
        before, after = getattr(module, kind)["historical_averaging"], getattr(resumed, kind)["historical_averaging"]
        assert after.average.steps == 2
        for name, mean in before.average.mean.items():
            torch.testing.assert_close(after.average.mean[name], mean)
        # the penalty after resuming is the uninterrupted one, and not 0 (a fresh average would give 0)
        value = after.average.distance(getattr(resumed, net))
        torch.testing.assert_close(value, before.average.distance(getattr(module, net)))
        assert value > 0


def _roundtrip(obj: dict) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def _one_step(module: GANModule, real: Tensor) -> None:
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    data = DataLoader(TensorDataset(real, torch.zeros(len(real), dtype=torch.long)), batch_size=len(real))
    pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, accelerator="cpu", limit_val_batches=0).fit(module, data)


@pytest.mark.parametrize("simultaneous", [True, False])
def test_simultaneous_steps_take_both_gradients_at_the_same_point(simultaneous):
    """Simultaneous: D's step uses G's pre-update fakes and G's step the pre-update D (same z).
    Alternating: G's step sees the updated D. Checked against the two SGD updates written out."""
    torch.manual_seed(0)
    sgd = lambda p: torch.optim.SGD(p, lr=0.5)  # noqa: E731
    module = GANModule(FlatG(), FlatD(), NonSaturating(), sgd, sgd,
                       game=Simultaneous() if simultaneous else Alternating())
    g0, d0 = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
    real, z = torch.randn(16, 2), torch.randn(16, 3)
    module.noise = lambda n: z  # the same z for every draw, so the steps can be replayed
    _one_step(module, real)

    loss = NonSaturating()
    fake0 = g0(z)
    d_grads = torch.autograd.grad(loss.d_loss(d0(real), d0(fake0.detach())), list(d0.parameters()))
    d1 = copy.deepcopy(d0)
    with torch.no_grad():
        for p, g in zip(d1.parameters(), d_grads, strict=True):
            p.sub_(0.5 * g)
    against = d0 if simultaneous else d1  # the D that G's step differentiates through
    g_grads = torch.autograd.grad(loss.g_loss(against(g0(z))), list(g0.parameters()))
    for p, p0, g in zip(module.generator.parameters(), g0.parameters(), g_grads, strict=True):
        torch.testing.assert_close(p.detach(), p0.detach() - 0.5 * g)
    for p, p1 in zip(module.discriminator.parameters(), d1.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), p1.detach())


def test_simultaneous_needs_one_update_of_each_player():
    with pytest.raises(ValueError, match=r"^game=simultaneous with game.n_critic=5, game.n_gen=1; valid"):
        Simultaneous(n_critic=5)
