"""Lightning's per-step callback hooks that a callback leaves as ``Callback``'s no-op are not dispatched.

Lightning calls every callback's hook through ``pytorch_lightning.trainer.call._call_callback_hooks``, once per
hook and callback, also when the callback keeps the base class's empty method: each such call opens a profiler
context and builds the callback's state key, about 2.5 µs on a CPU. Under manual optimization a GAN step fires
``on_train_batch_start``, ``on_before_backward``, ``on_after_backward`` and ``on_before_optimizer_step`` once
per optimizer step and backward, and ``on_train_batch_end``: with ganlab's seven default callbacks, of which none
implements the first four, that was 126 µs per step of the toy ring's 6 ms (Lightning's dispatcher skips a hook
attribute that is not callable, which these tests rely on: tests/callbacks/test_hooks.py). The GAN module's own
hooks of these names go through Lightning's dispatcher the same way and are skipped the same way
(``ganlab.module.skip_unused_module_hooks``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytorch_lightning as pl

# hooks Lightning dispatches on every training step (several times per step for the backward and optimizer ones)
PER_STEP_HOOKS = ("on_train_batch_start", "on_before_backward", "on_after_backward", "on_before_zero_grad",
                  "on_before_optimizer_step", "on_train_batch_end")


def skip_unused_hooks(callbacks: Iterable[pl.Callback]) -> None:
    """Set to None, on each callback instance, the per-step hooks its class does not implement (still
    ``pl.Callback``'s own no-op), so Lightning's dispatcher passes them by; hooks a class implements stay."""
    for callback in callbacks:
        for hook in PER_STEP_HOOKS:
            if getattr(type(callback), hook, None) is getattr(pl.Callback, hook):
                setattr(callback, hook, None)
