"""The module's support for losses that pair fakes with reals (RpGAN) and the game's fake-label choice."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.game import Alternating, Simultaneous, Unroll
from ganlab.losses import LeCam, NonSaturating, RpGAN
from ganlab.module import GANModule
from ganlab.nets.base import ConditionalHead, Discriminator


class FlatD(Discriminator):
    def __init__(self, dim: int = 2, num_classes: int = 0) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, 8), nn.Tanh())
        self.feature_dim, self.num_classes = 8, num_classes
        self.out = ConditionalHead(8, num_classes)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.trunk(x)

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)


class FlatG(nn.Module):
    def __init__(self, z_dim: int = 3, dim: int = 2, num_classes: int = 0) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Linear(z_dim, dim)
        self.embed = nn.Embedding(max(num_classes, 1), dim)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z) + (self.embed(y) if y is not None else 0)


def _module(loss=None, num_classes: int = 0, **kwargs) -> GANModule:
    torch.manual_seed(0)
    module = GANModule(FlatG(num_classes=num_classes), FlatD(num_classes=num_classes), loss or RpGAN(),
                       lambda p: torch.optim.SGD(p, 0.1), lambda p: torch.optim.SGD(p, 0.1),
                       num_classes=num_classes, **{"game": Alternating(), **kwargs})
    opt_g, opt_d = module.configure_optimizers()[0]
    module.optimizers = lambda: (opt_g, opt_d)  # driven by hand, without a Trainer
    module.manual_backward = lambda loss: loss.backward()
    return module


def test_g_step_pairs_each_fake_with_d_logit_of_the_real_batch(monkeypatch):
    module = _module()
    real, z = torch.randn(6, 2), torch.randn(6, 3)
    seen = {}
    g_loss = module.loss.g_loss

    def spy(fake_logits, real_logits=None):
        seen["fake"], seen["real"] = fake_logits.detach(), real_logits
        return g_loss(fake_logits, real_logits)

    monkeypatch.setattr(module.loss, "g_loss", spy)
    expected_real = module.discriminator(real).detach()  # the G step does not change D
    expected_fake = module.discriminator(module.generator(z)).detach()
    stats = module.g_step(real, None, z, None, True)  # a logging step: the loss is reported
    torch.testing.assert_close(seen["real"], expected_real)
    torch.testing.assert_close(seen["fake"], expected_fake)
    assert not seen["real"].requires_grad  # a constant of G's loss
    # G's loss: softplus(-(D(G(z_i)) - D(x_i))), i-th fake with i-th real
    torch.testing.assert_close(stats["train/g_loss"], F.softplus(expected_real - expected_fake).mean())


def test_other_losses_get_no_real_logits(monkeypatch):
    module = _module(NonSaturating())
    seen = []
    g_loss = module.loss.g_loss
    monkeypatch.setattr(module.loss, "g_loss", lambda f, r=None: seen.append(r) or g_loss(f, r))
    module.g_step(torch.randn(4, 2), None, torch.randn(4, 3), None, False)
    assert seen == [None]


def test_alternating_pairs_g_step_with_the_last_d_step_reals(monkeypatch):
    module = _module(game=Alternating(n_critic=2))
    calls = []
    monkeypatch.setattr(module, "d_step", lambda real, y, fake, y_fake, log: calls.append(("d", real)) or {})
    monkeypatch.setattr(module, "g_step", lambda real, y, z, y_fake, log, judge: calls.append(("g", real)) or {})
    reals = [torch.randn(4, 2), torch.randn(4, 2)]
    module.game.play(module, reals, [None, None], False)
    assert [k for k, _ in calls] == ["d", "d", "g"]
    assert calls[2][1] is reals[1]  # G's fakes meet the reals of the last D step


@pytest.mark.parametrize("game_cls", [Alternating, Simultaneous])
def test_fake_labels_real_gives_each_fake_its_pairs_class(monkeypatch, game_cls):
    module = _module(num_classes=3, game=game_cls(fake_labels="real"))
    labels = []
    monkeypatch.setattr(module, "d_step", lambda real, y, fake, y_fake, log: labels.append((y, y_fake)) or {})
    monkeypatch.setattr(module, "g_step", lambda real, y, z, y_fake, log, judge: labels.append((y, y_fake)) or {})
    y = torch.tensor([2, 0, 1, 1])
    module.game.play(module, [torch.randn(4, 2)], [y], False)
    assert len(labels) == 2 and all(torch.equal(y_fake, y) and y_real is y for y_real, y_fake in labels)


def test_fake_labels_random_draws_them():
    module = _module(num_classes=3)
    assert module.game.fake_labels == "random"
    torch.manual_seed(1)
    y_fake = module.game.d_fakes(module, 200, torch.zeros(200, dtype=torch.long))[1]
    assert set(y_fake.tolist()) == {0, 1, 2}  # uniform draws, not the reals' (all-0) labels
    with pytest.raises(ValueError, match="game.fake_labels='paired'; valid: random, real"):
        Alternating(fake_labels="paired")


def test_unrolling_with_a_pairing_loss_is_refused():
    with pytest.raises(ValueError, match="game.unroll with RpGAN"):
        _module(game=Alternating(unroll=Unroll(2)))
    _module(NonSaturating(), game=Alternating(unroll=Unroll(2)))  # other losses unroll as before


def test_lecam_averages_travel_in_the_module_checkpoint():
    def build() -> GANModule:
        return _module(regularizers={"lecam": LeCam(decay=0.9)})

    module = build()
    for _ in range(3):
        module.d_step(torch.randn(8, 2), None, *module.game.d_fakes(module, 8), False)
    reg = module.regularizers["lecam"]
    assert reg.updates == 3
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    resumed = build()
    resumed.load_state_dict(module.state_dict())
    resumed.on_load_checkpoint(torch.load(buffer, weights_only=True))
    after = resumed.regularizers["lecam"]
    assert after.updates == 3
    torch.testing.assert_close(after.alpha_real, reg.alpha_real)
    torch.testing.assert_close(after.alpha_fake, reg.alpha_fake)
    # the next D step's penalty is the uninterrupted run's
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    torch.manual_seed(5)
    a = module.d_step(real, None, fake, None, False)["train/lecam"]
    torch.manual_seed(5)
    b = resumed.d_step(real, None, fake, None, False)["train/lecam"]
    torch.testing.assert_close(a, b)
