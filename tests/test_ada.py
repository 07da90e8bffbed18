"""ADA (Karras et al. 2020): p's update arithmetic on hand-made logits, clamping, gating, the module's
hooks (observe, logging, checkpoint round trip) and a resumed run that continues p exactly."""

from __future__ import annotations

import io

import pytest
import torch
from hydra.utils import instantiate
from test_train_cli import events, load_ckpt, run_train

from ganlab.augment import AdaptiveAugment, DiffAugment, InstanceNoise, translate
from ganlab.checkpoint import CheckpointError, check_resume
from ganlab.config import compose
from ganlab.game import Alternating
from ganlab.losses.adversarial import NonSaturating
from ganlab.module import GANModule
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator


def logits(*signs: float) -> torch.Tensor:
    """D's logits [N] with the given signs (magnitudes vary: only the sign may count)."""
    return torch.tensor(signs) * torch.arange(1, len(signs) + 1).float() * 0.7


def test_p_moves_one_notch_per_interval_by_the_sign_of_rt_minus_target():
    # notch = batch_size * interval / speed_img = 4 * 2 / 1000 = 0.008
    ada = AdaptiveAugment(target=0.6, interval=2, speed_img=1000, batch_size=4, p=0.5)
    ada.observe(logits(1, 1, -1, 1))
    assert ada.p == 0.5 and ada.rt is None  # mid-interval: nothing changes yet
    ada.observe(logits(1, 1, 1, -1))
    assert ada.rt == 0.5  # (2 + 2) / 8
    assert ada.p == pytest.approx(0.492, abs=1e-12)  # r_t < target: p down one notch
    ada.observe(logits(1, 1, 1, 1))
    ada.observe(logits(1, 1, 1, 0))  # a zero logit has sign 0
    assert ada.rt == 7 / 8
    assert ada.p == pytest.approx(0.5, abs=1e-12)  # r_t > target: p up one notch
    ada.observe(logits(1, 1, 1, -1))
    ada.observe(logits(1, 1, 0, -1))
    assert ada.rt == pytest.approx(0.375)
    assert ada.p == pytest.approx(0.492, abs=1e-12)


def test_rt_exactly_at_target_leaves_p_and_the_notch_scales_with_batch_interval_and_speed():
    ada = AdaptiveAugment(target=0.5, interval=1, speed_img=100, batch_size=4, p=0.3)
    ada.observe(logits(1, 1, 1, -1))  # r_t = 0.5 = target: sign 0
    assert ada.rt == 0.5 and ada.p == 0.3
    ada = AdaptiveAugment(target=0.6, interval=3, speed_img=500_000, batch_size=64)
    for _ in range(3):
        ada.observe(torch.ones(64))
    assert ada.p == pytest.approx(64 * 3 / 500_000, abs=1e-15)  # the paper's notch at batch 64


def test_p_is_clamped_to_0_and_1():
    low = AdaptiveAugment(target=0.6, interval=1, speed_img=10, batch_size=4, p=0.1)
    low.observe(logits(-1, -1, -1, -1))  # notch 0.4 would take p to -0.3
    assert low.p == 0.0
    low.observe(logits(-1, -1, -1, -1))
    assert low.p == 0.0
    high = AdaptiveAugment(target=0.6, interval=1, speed_img=10, batch_size=4, p=0.9)
    high.observe(logits(1, 1, 1, 1))  # 0.9 + 0.4
    assert high.p == 1.0
    high.observe(logits(-1, -1, -1, -1))  # no wind-up above 1: one notch down from 1
    assert high.p == pytest.approx(0.6, abs=1e-12)


def test_target_null_keeps_p_and_still_measures_rt():
    ada = AdaptiveAugment(target=None, interval=2, speed_img=10, batch_size=2, p=0.25)
    for _ in range(2):
        ada.observe(logits(1, -1))
    assert ada.p == 0.25 and ada.rt == 0.0
    assert ada.stats() == {"train/ada_p": 0.25, "train/ada_rt": 0.0}
    assert AdaptiveAugment().stats() == {"train/ada_p": 0.0}  # no r_t before the first interval


def test_p_zero_is_the_identity_without_random_draws():
    x = torch.randn(5, 1, 8, 8)
    state = torch.get_rng_state()
    assert AdaptiveAugment(p=0.0)(x) is x
    assert torch.equal(torch.get_rng_state(), state)  # a p = 0 run keeps the training noise of a run without it


def test_p_one_applies_every_op_to_every_sample_and_gates_per_sample():
    x = torch.randn(6, 1, 8, 8)
    assert torch.equal(AdaptiveAugment("flip", p=1.0)(x), x.flip(-1))
    torch.manual_seed(0)
    shifted = AdaptiveAugment("translation", p=1.0)(x)
    torch.manual_seed(0)
    torch.rand(6)  # the gate's draw, then the shifts, as DiffAugment draws them
    dy, dx = torch.randint(-1, 2, (6,)), torch.randint(-1, 2, (6,))
    assert torch.equal(shifted, translate(x, torch.stack([dy, dx], dim=1)))
    torch.manual_seed(1)
    big = torch.randn(4000, 1, 4, 4)
    flipped = (AdaptiveAugment("flip", p=0.3)(big) != big).flatten(1).any(1).float().mean().item()
    assert flipped == pytest.approx(0.3, abs=0.03)  # each sample mirrored with probability p


def test_augmentation_is_differentiable():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    AdaptiveAugment("flip,translation,cutout,brightness,saturation,contrast", p=0.7)(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"ops": "translation,rotate"}, "augment.ada.ops"), ({"target": 1.0}, "augment.ada.target=1.0"),
    ({"interval": 0}, "augment.ada.interval=0"), ({"speed_img": 0}, "augment.ada.speed_img=0"),
    ({"p": 1.5}, "augment.ada.p=1.5"), ({"batch_size": 0}, "augment.ada.batch_size=0"),
])
def test_bad_settings_are_one_line_errors_naming_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")) as e:
        AdaptiveAugment(**kwargs)
    assert "valid:" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="flat data"):
        AdaptiveAugment(p=0.5)(torch.randn(4, 2))


def test_config_builds_the_paper_defaults_with_the_dataset_batch_size():
    cfg = compose(["augment=ada", "dataset.batch_size=32"])
    ada = instantiate(cfg.augment.ada)
    assert isinstance(ada, AdaptiveAugment)
    assert (ada.target, ada.interval, ada.speed_img, ada.batch_size, ada.p) == (0.6, 4, 500_000, 32, 0.0)
    assert "flip" not in ada.ops  # digits: mirrored digits are not digits


def test_existing_augmentations_have_no_op_hooks():
    for aug in (DiffAugment(), InstanceNoise()):
        aug.observe(torch.randn(2))
        assert aug.stats() == {} and aug.state_dict() == {}


def _module(ada: AdaptiveAugment) -> GANModule:
    torch.manual_seed(0)
    g = MLPGenerator(z_dim=4, resolution=8, channels=1, hidden=[8])
    d = MLPDiscriminator(resolution=8, channels=1, hidden=[8])
    module = GANModule(g, d, NonSaturating(), lambda p: torch.optim.Adam(p, 1e-3), lambda p: torch.optim.Adam(p, 1e-3),
                       game=Alternating(), augment={"ada": ada})
    opt_g, opt_d = module.configure_optimizers()[0]
    module.optimizers = lambda: (opt_g, opt_d)
    module.manual_backward = lambda loss: loss.backward()
    return module


def test_module_feeds_d_real_logits_to_observe_and_logs_p_and_rt():
    ada = AdaptiveAugment(target=0.6, interval=2, speed_img=1000, batch_size=6)
    module = _module(ada)
    seen = []
    original = ada.observe
    ada.observe = lambda x: (seen.append(x.clone()), original(x))
    real = torch.rand(6, 1, 8, 8) * 2 - 1
    stats = module.d_step(real, None, *module.game.d_fakes(module, 6), True)
    torch.testing.assert_close(seen[0], module.last_d_outputs[0])  # D's logits of the reals [N], no graph
    assert seen[0].shape == (6,) and not seen[0].requires_grad
    assert stats["train/ada_p"] == 0.0 and "train/ada_rt" not in stats
    stats = module.d_step(real, None, *module.game.d_fakes(module, 6), True)
    expected_rt = torch.cat(seen).sign().mean().item()
    assert stats["train/ada_rt"] == pytest.approx(expected_rt)
    assert stats["train/ada_p"] == pytest.approx(0.012 if expected_rt > 0.6 else 0.0)
    assert "train/ada_p" not in module.d_step(real, None, *module.game.d_fakes(module, 6), False)  # only when logging


def test_p_and_the_accumulator_survive_a_checkpoint_file():
    def build() -> GANModule:
        return _module(AdaptiveAugment(target=0.6, interval=3, speed_img=100, batch_size=4))

    module = build()
    ada = module.augment_hooks["ada"]
    for signs in [(1, 1, 1, 1)] * 3 + [(1, -1, 1, 1)] * 2:  # one full interval (p up), two steps of the next
        ada.observe(logits(*signs))
    assert ada.p == pytest.approx(0.12) and ada._observed == 2
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint["ganlab"]["augment"]["ada"] == {"p": ada.p, "signs": 4.0, "count": 8, "observed": 2, "rt": 1.0}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    resumed = build()
    resumed.on_load_checkpoint(torch.load(buffer, weights_only=True))  # data only, as files are read
    again = resumed.augment_hooks["ada"]
    assert (again.p, again.rt, again._count, again._observed) == (ada.p, ada.rt, ada._count, ada._observed)
    for a in (ada, again):  # the interval in progress completes identically: r_t = (4 + 0) / 12
        a.observe(logits(-1, -1, 1, 1))
    assert again.rt == ada.rt == pytest.approx(1 / 3) and again.p == ada.p == pytest.approx(0.0)


def test_a_stateless_augmentation_writes_no_state_and_resume_refuses_foreign_ada_state(tmp_path):
    module = _module(AdaptiveAugment())
    module.augment_hooks = {"diffaugment": DiffAugment()}
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint["ganlab"]["augment"] == {}
    ada = _module(AdaptiveAugment(p=0.25))
    checkpoint = {"state_dict": ada.state_dict()}
    ada.on_save_checkpoint(checkpoint)
    checkpoint["ganlab"]["config"] = {"generator": {}}
    torch.save(checkpoint, tmp_path / "ada.ckpt")
    plain = _module(AdaptiveAugment())
    plain.augment_hooks = {}
    with pytest.raises(CheckpointError, match="state for augment.ada, which this run does not enable"):
        check_resume(plain, tmp_path / "ada.ckpt")
    check_resume(ada, tmp_path / "ada.ckpt")  # the same setup resumes


@pytest.mark.slow  # two ganlab-train runs (~20 s on an idle 2-core machine)
def test_resumed_run_continues_p_exactly(tmp_path):
    ada = ["augment=ada", "augment.ada.interval=1", "augment.ada.speed_img=2000", "augment.ada.target=0.3",
           "datamodule.subset=200", "metrics=none", "callbacks.samples.every_n_steps=1000"]
    straight = tmp_path / "straight"
    run_train(f"hydra.run.dir={straight}", *ada, "trainer.max_steps=6",
              "callbacks.model_checkpoint.snapshot_every_n_steps=2", cwd=tmp_path)
    p_logged = {e.step: e.value for e in events(straight).Scalars("train/ada_p")}
    final = load_ckpt(straight / "checkpoints" / "last.ckpt")
    assert final["ganlab"]["augment"]["ada"]["p"] == pytest.approx(p_logged[max(p_logged)])
    assert len(set(p_logged.values())) > 1  # p moved: the resume below has something to continue
    # from step 2: subset=200 is 3 batches of 64 per epoch, and a checkpoint taken on the last batch of an
    # epoch (step 3) does not resume bit-identically, with or without ADA (a data-order issue of its own)
    resumed = tmp_path / "resumed"
    run_train(f"hydra.run.dir={resumed}", *ada, "trainer.max_steps=6",
              f"ckpt_path={straight}/checkpoints/step_0000002.ckpt", cwd=tmp_path)
    again = load_ckpt(resumed / "checkpoints" / "last.ckpt")
    assert again["ganlab"]["augment"]["ada"] == final["ganlab"]["augment"]["ada"]
    for key, value in final["state_dict"].items():
        assert torch.equal(again["state_dict"][key], value), key



def test_measuring_only_ada_trains_exactly_as_no_augmentation():
    """target=null, p=0: r_t is measured and logged, and G and D end bit-identical to a run without it."""
    def train(module: GANModule) -> GANModule:
        torch.manual_seed(3)
        real = torch.rand(12, 6, 1, 8, 8) * 2 - 1
        for batch in real:
            module.d_step(batch, None, *module.game.d_fakes(module, 6), True)
            module.g_step(batch, None, module.noise(6), None, True)
        return module

    watched = train(_module(AdaptiveAugment(target=None, interval=4)))
    plain = _module(AdaptiveAugment())
    plain.augment, plain.augment_hooks = [], {}
    train(plain)
    for (name, a), b in zip(watched.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert watched.augment_hooks["ada"].rt is not None and watched.augment_hooks["ada"].p == 0.0
