"""Hyperparameter schedules (ganlab/schedules.py): known values of every shape, target checks, a training run
whose optimizer, regularizer and EMA follow them, a checkpoint round trip, TensorBoard tags and R3GAN's ramps."""

from __future__ import annotations

import math
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from conftest import TINY, TINY_MLP
from test_module import CountingAdam, make_data, make_module
from test_train_cli import events, run_train

from ganlab.assembly import build_module
from ganlab.augment import AdaptiveAugment
from ganlab.config import ConfigError
from ganlab.ema import EMA
from ganlab.losses import R1
from ganlab.schedules import Schedule, Schedules


def value(step: int, images: int = 0, **kwargs) -> float:
    return Schedule(target="optim.d.lr", **kwargs).value(step, images)


# ----------------------------------------------------------------- the pure function
def test_constant_holds_start_and_ignores_length():
    assert [value(s, start=0.3) for s in (0, 5, 10**9)] == [0.3, 0.3, 0.3]


def test_linear_known_values():
    kw = dict(shape="linear", start=1.0, end=3.0, length=4)
    assert [value(s, **kw) for s in (0, 1, 2, 3, 4, 100)] == [1.0, 1.5, 2.0, 2.5, 3.0, 3.0]


def test_cosine_known_values():
    kw = dict(shape="cosine", start=1.0, end=3.0, length=4)
    got = [value(s, **kw) for s in (0, 1, 2, 3, 4, 9)]
    # start + (end - start) * (1 - cos(pi t)) / 2 at t = 0, 1/4, 1/2, 3/4, 1, then end
    assert got == pytest.approx([1.0, 2 - math.sqrt(0.5), 2.0, 2 + math.sqrt(0.5), 3.0, 3.0], abs=1e-15)


def test_warmup_is_linear_from_warmup_from_then_the_shape_over_the_rest_of_length():
    kw = dict(shape="linear", start=1.0, end=0.0, length=6, warmup=2, warmup_from=0.2)
    # 0.2 -> 1.0 over steps 0..2, then 1.0 -> 0.0 over steps 2..6 (length includes the warm-up)
    assert [value(s, **kw) for s in range(8)] == pytest.approx([0.2, 0.6, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0])
    assert [value(s, start=5.0, warmup=4) for s in (0, 1, 4, 9)] == [0.0, 1.25, 5.0, 5.0]  # constant after warm-up


def test_unit_images_reads_images_not_steps():
    kw = dict(shape="linear", start=0.0, end=1.0, length=1000, unit="images")
    assert value(3, 250, **kw) == 0.25 and value(250, 3, **kw) == 0.003


def test_r3gan_cosine_matches_its_halfway_and_end_values():
    """R3GAN's CIFAR-10 lr ramp (2e-4 -> 5e-5 over 20M images): the midpoint is the mean, the end holds."""
    kw = dict(shape="cosine", start=2e-4, end=5e-5, length=20_000_000, unit="images")
    assert value(0, 10_000_000, **kw) == pytest.approx(1.25e-4, rel=1e-12)
    assert value(0, 30_000_000, **kw) == 5e-5


@pytest.mark.parametrize(("entry", "message"), [
    ({"shape": "exp"}, "schedules.s.shape='exp'; valid: constant, linear, cosine"),
    ({"unit": "kimg"}, "schedules.s.unit='kimg'; valid: steps, images"),
    ({"shape": "linear", "end": 1.0}, "schedules.s.length=None; valid: a number of steps > warmup=0"),
    ({"shape": "cosine", "end": 1.0, "length": 5, "warmup": 5},
     "schedules.s.length=5; valid: a number of steps > warmup=5"),
    ({"shape": "cosine", "length": 5}, "schedules.s.end=None; valid: a number"),
    ({"start": "high"}, "schedules.s.start='high'; valid: a number"),
    ({"warmup": -1}, "schedules.s.warmup=-1; valid: a number of steps >= 0"),
    ({"lenght": 5}, "schedules.s: unknown key 'lenght'; valid keys: target, start, end, shape, length, warmup"),
])
def test_bad_entries_are_one_line_errors(entry, message):
    with pytest.raises(ValueError) as info:
        Schedules({"s": {"target": "optim.d.lr", "start": 1.0, **entry}})
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


# ----------------------------------------------------------------- targets on a built module
def scheduled(entries: dict, **kwargs):
    return make_module(schedules=Schedules(entries, batch_size=8), **kwargs)


def test_unknown_target_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        scheduled({"g": {"target": "regularizers.r1.gamma", "start": 1.0}})
    text = str(info.value)
    assert text.startswith("schedules.g.target='regularizers.r1.gamma' is not a schedulable hyperparameter of this "
                           "run; valid: loss.real_target, optim.d.beta1, optim.d.beta2, optim.d.eps, optim.d.lr,")
    # with the regularizer in the run it is valid, and so is its weight; the count `every` is not
    valid = Schedules.valid_targets(make_module(regularizers={"r1": R1(gamma=1.0)}))
    assert {"regularizers.r1.gamma", "regularizers.r1.weight"} <= set(valid)
    assert "regularizers.r1.every" not in valid


def test_ema_targets_need_ema_and_follow_its_mode():
    with pytest.raises(ValueError, match=r"EMA is off \(set ema.decay or ema.half_life_images\); valid: "):
        scheduled({"e": {"target": "ema.decay", "start": 0.9}})
    assert "ema.half_life_images" not in Schedules.valid_targets(make_module(ema=EMA(decay=0.99)))
    assert "ema.decay" not in Schedules.valid_targets(make_module(ema=EMA(half_life_images=100)))


def test_adapted_duplicate_and_scheduler_conflicts_are_refused():
    with pytest.raises(ValueError, match=r"augment.ada adapts p itself; valid: augment.ada.target=null, so that"):
        scheduled({"p": {"target": "augment.ada.p", "start": 0.1}}, augment={"ada": AdaptiveAugment(target=0.6)})
    ok = scheduled({"p": {"target": "augment.ada.p", "start": 0.1}}, augment={"ada": AdaptiveAugment(target=None)})
    assert [t.path for t in ok.schedules.bound["p"]] == ["augment.ada.p"]
    with pytest.raises(ValueError, match=r"target='optim.d.lr' is also set by schedules.a; valid: one schedule per"):
        scheduled({"a": {"target": ["optim.g.lr", "optim.d.lr"], "start": 1e-3},
                   "b": {"target": "optim.d.lr", "start": 1e-3}})
    linear = partial(torch.optim.lr_scheduler.LinearLR, total_iters=4)
    with pytest.raises(ValueError, match=r"optim.g_scheduler already schedules that learning rate"):
        scheduled({"a": {"target": "optim.g.lr", "start": 1e-3}}, g_scheduler=linear)


# ----------------------------------------------------------------- training
class Record(pl.Callback):
    """After each step: the values the step used (read back at its start) and the regularizer's weight."""

    def __init__(self) -> None:
        self.values: dict[int, dict[str, float]] = {}
        self.r1_weight: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values[trainer.global_step] = dict(pl_module._scheduled)
        self.r1_weight[trainer.global_step] = pl_module.regularizers["r1"].weight


ENTRIES = {
    "lr": {"target": ["optim.g.lr", "optim.d.lr"], "shape": "cosine", "start": 1e-3, "end": 1e-4, "length": 6,
           "warmup": 2, "warmup_from": 1e-4},
    "beta2": {"target": "optim.d.beta2", "shape": "linear", "start": 0.9, "end": 0.99, "length": 48, "unit": "images"},
    "gamma": {"target": "regularizers.r1.gamma", "shape": "linear", "start": 2.0, "end": 0.5, "length": 6},
    "half_life": {"target": "ema.half_life_images", "shape": "linear", "start": 0, "end": 80, "length": 5},
}


def trained(steps: int, root, ckpt_path=None, lr: float = 1e-3) -> tuple:
    model = scheduled(ENTRIES, regularizers={"r1": R1(gamma=1.0)}, ema=EMA(half_life_images=0, batch_size=8))
    model.g_optimizer = model.d_optimizer = partial(CountingAdam, lr=lr)  # the configured rate LambdaLR scales
    record = Record()
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, accelerator="cpu", callbacks=[record],
                         default_root_dir=root)
    trainer.fit(model, datamodule=make_data(), ckpt_path=ckpt_path)
    return model, record, trainer


def test_a_run_follows_its_schedules_and_a_resumed_run_sets_the_same_values(tmp_path):
    model, record, _ = trained(6, tmp_path / "straight")
    schedules = model.schedules.schedules
    for step in range(6):  # training step `step + 1` used the values of `step` completed steps (8 images each)
        expected = {name: s.value(step, 8 * step) for name, s in schedules.items()}
        assert record.values[step + 1] == pytest.approx(expected, rel=1e-12)  # lr through LambdaLR: rounding
        assert record.r1_weight[step + 1] == expected["gamma"] / 2  # the penalty's weight follows gamma
    assert record.values[1]["lr"] == pytest.approx(1e-4) and record.values[3]["lr"] == pytest.approx(1e-3)
    opt_g, opt_d = model.optimizers(use_pl_optimizer=False)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(1e-4, rel=1e-12)  # value(6): the end, for a next step
    assert opt_d.param_groups[0]["betas"] == (0.9, pytest.approx(0.9 + 0.09 * 40 / 48))  # step 5's value
    assert opt_g.param_groups[0]["betas"] == (0.9, 0.999)  # beta2 scheduled for D only
    # the EMA's decay comes from the half-life set at the start of the step: 80 images (its end) in step 6
    assert model.ema.decay_at(5) == 0.5 ** (8 / 80) and record.values[6]["half_life"] == 80.0

    # checkpoint round trip: 3 steps, save, resume to 6: the same values at steps 4-6 and the same weights,
    # even with another configured lr on resume (LambdaLR's base rate comes back from the checkpoint)
    _, _, first = trained(3, tmp_path / "first")
    first.save_checkpoint(tmp_path / "step3.ckpt")
    resumed, again, _ = trained(6, tmp_path / "resumed", ckpt_path=tmp_path / "step3.ckpt", lr=5e-4)
    assert sorted(again.values) == [4, 5, 6]
    assert all(again.values[s] == record.values[s] for s in (4, 5, 6))
    for key, tensor in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], tensor), key


def test_no_schedules_adds_no_lr_scheduler_and_logs_nothing():
    model = make_module(schedules=Schedules({}, batch_size=8))
    assert model.schedules is None
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(model, datamodule=make_data())
    assert model.lr_schedulers() is None and model._scheduled == {}


# ----------------------------------------------------------------- configs and ganlab-train
def test_tensorboard_has_sched_tags_with_the_values_of_each_step(tmp_path):
    run = tmp_path / "run"
    run_train(f"hydra.run.dir={run}", "metrics=none", "callbacks.samples.every_n_steps=1000",
              "+schedules.d_lr={target:optim.d.lr,shape:linear,start:4e-4,end:0,length:4}",
              "+schedules.b1={target:[optim.g.beta1,optim.d.beta1],start:0.0}", cwd=tmp_path)
    acc = events(run)
    # logged after step s with the value step s used: lr(s - 1) = 4e-4 * (1 - (s - 1) / 4)
    assert [(e.step, round(e.value, 10)) for e in acc.Scalars("sched/d_lr")] == [
        (1, 4e-4), (2, 3e-4), (3, 2e-4), (4, 1e-4)]
    assert [e.value for e in acc.Scalars("sched/b1")] == [0.0] * 4


def test_r3gan_preset_builds_its_five_ramps(compose_cfg):
    cfg = compose_cfg(*TINY_MLP, *TINY, "+regularizers=[r1,r2]", "augment=ada", "augment.ada.target=null",
                      "schedules=r3gan")
    model = build_module(cfg)
    bound = {name: [t.path for t in targets] for name, targets in model.schedules.bound.items()}
    assert bound == {"lr": ["optim.g.lr", "optim.d.lr"], "beta2": ["optim.g.beta2", "optim.d.beta2"],
                     "gamma": ["regularizers.r1.gamma", "regularizers.r2.gamma"],
                     "ema_half_life": ["ema.half_life_images"], "augment_p": ["augment.ada.p"]}
    halfway = {n: s.value(0, 10_000_000) for n, s in model.schedules.schedules.items()}
    assert halfway == pytest.approx({"lr": 1.25e-4, "beta2": 0.945, "gamma": 0.0275, "ema_half_life": 2.5e6,
                                     "augment_p": 0.275})
    assert cfg.optim.beta1 == 0.0 and cfg.ema.decay is None and model.ema.half_life_images == 0.0
    with pytest.raises(ConfigError, match=r"^model: schedules.gamma.target='regularizers.r1.gamma' is not a "):
        build_module(compose_cfg(*TINY_MLP, "schedules=r3gan"))


def test_r3gan_cifar10_preset_runs_the_papers_ramps_from_their_start_values(compose_cfg):
    # the CIFAR-10 preset's R1 + R2 come from loss=r3gan (r2 interpolates r1's gamma): the gamma ramp binds both
    cfg = compose_cfg("experiment=r3gan_cifar10", "dataset=mnist5k", "generator.widths=[8,8,8,8]",
                      "generator.group_size=8", *TINY)
    model = build_module(cfg)
    assert {n: [t.path for t in ts] for n, ts in model.schedules.bound.items()}["gamma"] == [
        "regularizers.r1.gamma", "regularizers.r2.gamma"]
    start = {n: s.value(0, 0) for n, s in model.schedules.schedules.items()}
    end = {n: s.value(0, 20_000_000) for n, s in model.schedules.schedules.items()}
    assert start == pytest.approx({"lr": 2e-4, "beta2": 0.9, "gamma": 0.05, "ema_half_life": 0.0, "augment_p": 0.0})
    assert end == pytest.approx({"lr": 5e-5, "beta2": 0.99, "gamma": 0.005, "ema_half_life": 5e6, "augment_p": 0.55})
    full = compose_cfg("experiment=r3gan_cifar10")
    assert full.trainer.max_steps * full.dataset.batch_size >= full.schedules.lr.length  # it runs until the ramps end
