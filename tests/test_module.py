"""GANModule's game loop: update counts, which network each step changes, and gradient isolation."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch

from ganlab.data import GANDataModule, ImageData
from ganlab.game import Alternating
from ganlab.losses import GradientPenalty, NonSaturating
from ganlab.module import GANModule
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator


class CountingAdam(torch.optim.Adam):
    """Adam that counts its steps."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def make_module(n_critic: int = 1, n_gen: int = 1, **kwargs) -> GANModule:
    torch.manual_seed(0)
    return GANModule(
        generator=MLPGenerator(z_dim=8, resolution=8, channels=1, hidden=[16]),
        discriminator=MLPDiscriminator(resolution=8, channels=1, hidden=[16]),
        loss=NonSaturating(),
        g_optimizer=partial(CountingAdam, lr=1e-3),
        d_optimizer=partial(CountingAdam, lr=1e-3),
        num_sample_images=4,
        **{"game": Alternating(n_critic, n_gen), **kwargs},
    )


def make_data(n_critic: int = 1) -> GANDataModule:
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8, generator=g)
    return GANDataModule(name="random", source=lambda: ImageData(images, None, "random"), resolution=8,
                         channels=1, batch_size=8, batches_per_step=n_critic, eval_samples=0)


def fit(model: GANModule, steps: int, n_critic: int = 1) -> pl.Trainer:
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1,
                         accelerator="cpu")
    trainer.fit(model, datamodule=make_data(n_critic))
    return trainer


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in module.parameters()]


def same(a: list, b: list) -> bool:
    return all((x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
               for x, y in zip(a, b, strict=True))


def test_one_step_changes_both_networks():
    model = make_module()
    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    fit(model, 1)
    assert not same(g0, snapshot(model.generator))
    assert not same(d0, snapshot(model.discriminator))


@pytest.mark.parametrize(("n_critic", "n_gen"), [(1, 1), (3, 1), (2, 2)])
def test_update_counts_and_global_step(n_critic, n_gen):
    model = make_module(n_critic=n_critic, n_gen=n_gen)
    trainer = fit(model, 4, n_critic)
    opt_g, opt_d = (o.optimizer for o in model.optimizers())
    assert opt_d.steps == 4 * n_critic
    assert opt_g.steps == 4 * n_gen
    assert trainer.global_step == 4  # one training step = one game iteration


def test_each_step_touches_only_its_network(monkeypatch):
    model = make_module(n_critic=2, regularizers={"gp": GradientPenalty(weight=10.0)})
    checks = {"d": 0, "g": 0}
    d_step, g_step = GANModule.d_step, GANModule.g_step

    def checked_d_step(self, *args, **kwargs):
        g_params, g_grads = snapshot(self.generator), grads(self.generator)
        out = d_step(self, *args, **kwargs)
        # the D step neither moves G nor leaves gradients on it
        assert same(g_params, snapshot(self.generator)) and same(g_grads, grads(self.generator))
        checks["d"] += 1
        return out

    def checked_g_step(self, *args, **kwargs):
        d_params, d_grads = snapshot(self.discriminator), grads(self.discriminator)
        g_params = snapshot(self.generator)
        out = g_step(self, *args, **kwargs)
        # the G step leaves D's weights and D's gradients exactly as they were (nothing leaks)
        assert same(d_params, snapshot(self.discriminator)) and same(d_grads, grads(self.discriminator))
        assert not same(g_params, snapshot(self.generator))
        assert all(p.requires_grad for p in self.discriminator.parameters())  # unfrozen again
        checks["g"] += 1
        return out

    monkeypatch.setattr(GANModule, "d_step", checked_d_step)
    monkeypatch.setattr(GANModule, "g_step", checked_g_step)
    fit(model, 3, n_critic=2)
    assert checks == {"d": 6, "g": 3}


def test_fresh_real_batch_per_d_update(monkeypatch):
    model = make_module(n_critic=3)
    seen = []
    d_step = GANModule.d_step

    def recording(self, real, *args):
        seen.append(real.clone())
        return d_step(self, real, *args)

    monkeypatch.setattr(GANModule, "d_step", recording)
    fit(model, 2, n_critic=3)
    assert len(seen) == 6 and all(r.shape == (8, 1, 8, 8) for r in seen)
    assert all(not torch.equal(seen[i], seen[j]) for i in range(6) for j in range(i + 1, 6))


def test_sample_noise_is_fixed_by_seed():
    a, b = make_module(sample_seed=3), make_module(sample_seed=3)
    assert torch.equal(a.sample_z, b.sample_z)
    assert not torch.equal(a.sample_z, make_module(sample_seed=4).sample_z)
    assert "sample_z" in a.state_dict()  # travels with checkpoints


def test_validation_noise_is_seeded_by_index():
    model = make_module()
    first = model.validation_step(torch.arange(0, 4), 0)
    again = model.validation_step(torch.arange(0, 4), 7)
    other = model.validation_step(torch.arange(4, 8), 0)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_rejects_bad_schedule():
    with pytest.raises(ValueError, match="game.n_critic=0"):
        make_module(n_critic=0)


def test_one_lr_scheduler_is_stepped_once_per_training_step():
    """Lightning hands back a single scheduler as an object, not a list (the README's LinearLR line)."""
    model = make_module(g_scheduler=partial(torch.optim.lr_scheduler.LinearLR, start_factor=1.0, end_factor=0.0,
                                            total_iters=4))
    fit(model, 3)
    opt_g, opt_d = (o.optimizer for o in model.optimizers())
    assert opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 3 / 4))
    assert opt_d.param_groups[0]["lr"] == 1e-3  # no D scheduler

