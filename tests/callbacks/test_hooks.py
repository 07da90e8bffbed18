"""Per-step hooks a callback does not implement are not dispatched (ganlab.callbacks.hooks)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.call import _call_callback_hooks, _call_lightning_module_hook
from test_module import make_data, make_module
from torch import nn

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


def test_the_module_skips_its_empty_per_step_hooks_and_keeps_implemented_or_assigned_ones():
    """GANModule's per-step hooks (LightningModule's empty methods) are None on the instance; a subclass's own hook
    and a function assigned to the instance later are called by Lightning as usual."""
    from ganlab.game import Alternating
    from ganlab.module import PER_STEP_MODULE_HOOKS, GANModule

    module = make_module()
    assert all(getattr(module, hook) is None for hook in PER_STEP_MODULE_HOOKS)
    assert "callable" in _call_lightning_module_hook.__code__.co_names  # Lightning passes a None hook by

    class Counting(GANModule):
        def on_after_backward(self) -> None:
            self.after_backward = getattr(self, "after_backward", 0) + 1

    torch.manual_seed(0)
    counting = Counting(**{k: getattr(module, k) for k in ("generator", "discriminator", "loss", "g_optimizer",
                                                           "d_optimizer")}, game=Alternating(2, 1))
    assert callable(counting.on_after_backward) and counting.on_before_backward is None
    ends = []
    counting.on_train_batch_end = lambda outputs, batch, batch_idx: ends.append(batch_idx)
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(counting, datamodule=make_data(n_critic=2))
    assert trainer.global_step == 3 and counting.after_backward == 3 * 3 and ends == [0, 1, 2]


def test_plain_attributes_of_the_module_are_set_directly_and_are_never_parameters_buffers_or_submodules():
    from ganlab.module import PLAIN_ATTRIBUTES

    module = make_module()
    for name in PLAIN_ATTRIBUTES:
        setattr(module, name, (torch.zeros(1),) if name == "last_d_outputs" else 7)
        assert vars(module)[name] is not None
    registered = {*dict(module.named_parameters()), *dict(module.named_buffers()), *dict(module.named_modules())}
    assert not registered & PLAIN_ATTRIBUTES
    module.extra = nn.Linear(2, 2)  # any other name still goes through nn.Module's registration
    assert "extra" in dict(module.named_modules())
