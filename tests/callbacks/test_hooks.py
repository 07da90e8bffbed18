"""Per-step hooks a callback does not implement are not dispatched (ganlab.callbacks.hooks)."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.trainer.call import _call_callback_hooks
from test_module import make_data, make_module

from ganlab.assembly import build_callbacks
from ganlab.callbacks.hooks import PER_STEP_HOOKS, skip_unused_hooks


class Spy(pl.Callback):
    """Implements two per-step hooks and counts them; leaves the others as Callback's no-ops."""

    def __init__(self) -> None:
        self.calls = {"on_after_backward": 0, "on_train_batch_end": 0}

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls["on_after_backward"] += 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.calls["on_train_batch_end"] += 1


def test_only_the_hooks_a_class_leaves_empty_are_removed():
    spy = Spy()
    skip_unused_hooks([spy])
    assert spy.on_train_batch_start is None and spy.on_before_backward is None
    assert spy.on_before_optimizer_step is None and spy.on_before_zero_grad is None
    assert callable(spy.on_after_backward) and callable(spy.on_train_batch_end)
    assert callable(Spy().on_train_batch_start)  # the class itself is unchanged


def test_lightning_skips_them_and_still_calls_the_implemented_ones():
    """Lightning's dispatcher passes a hook attribute that is not callable by (it would raise on None otherwise)."""
    assert "callable" in _call_callback_hooks.__code__.co_names
    spy = Spy()
    skip_unused_hooks([spy])
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, accelerator="cpu", callbacks=[spy])
    trainer.fit(make_module(n_critic=2), datamodule=make_data(n_critic=2))
    assert trainer.global_step == 3
    assert spy.calls == {"on_after_backward": 3 * 3, "on_train_batch_end": 3}  # 2 D + 1 G backward per step


def test_the_default_callbacks_keep_their_own_per_step_hooks_only(compose_cfg):
    callbacks = {type(cb).__name__: cb for cb in build_callbacks(compose_cfg())}
    assert {"HealthMonitor", "CheckpointPolicy", "SampleGrid", "RunInfo", "DivergenceGuard", "StepProgressBar",
            "Evaluation"} <= set(callbacks)
    for name, cb in callbacks.items():
        kept = {hook for hook in PER_STEP_HOOKS if getattr(cb, hook) is not None}
        implemented = {hook for hook in PER_STEP_HOOKS if hook in vars(type(cb)) or any(
            hook in vars(base) for base in type(cb).__mro__[1:] if base is not pl.Callback and base is not object)}
        assert kept == implemented, name
    assert callbacks["RunInfo"].on_train_batch_end is None  # no per-step work at all
    assert callable(callbacks["CheckpointPolicy"].on_train_batch_end)
