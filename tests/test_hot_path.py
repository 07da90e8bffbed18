"""The training hot path: a step that is not a logging, evaluation or other periodic step makes no host sync.

On a GPU every ``.item()``, ``.tolist()``, ``.cpu()``, ``float()``/``bool()`` of a tensor or printing of one waits
for the device to finish its queued work; on the CPU these calls are cheap but the code path is the same, so a
real tiny run on the CPU counts them (the proxy for GPU overhead while no GPU is at hand).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from conftest import TINY_MLP
from hydra.utils import instantiate

from ganlab.assembly import build_callbacks, build_module
from ganlab.loggers import build_loggers
from ganlab.tools.bench import trainer_switches

# Tensor methods that copy a device tensor's value to the host (a synchronisation)
SYNCS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__index__", "__bool__", "__repr__", "__format__")
# torch's own code is not counted: its CPU-side optimizer state (Adam's step count) is read with .item() by design
TORCH_DIR = str(Path(torch.__file__).resolve().parent)


class SyncWatch:
    """Records the tensor-to-host calls made from code outside torch, on the main thread, while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.calls: list[tuple[int, str, str]] = []  # (step, method, caller file:line)
        self.step = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in SYNCS:
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, getattr(torch.Tensor, name)))

    def _wrap(self, name: str, original):
        def watched(tensor, *args, **kwargs):
            if self.active and threading.current_thread() is threading.main_thread():
                frame = sys._getframe(1)
                if not frame.f_code.co_filename.startswith(TORCH_DIR):
                    self.calls.append((self.step, name, f"{frame.f_code.co_filename}:{frame.f_lineno}"))
            return original(tensor, *args, **kwargs)

        return watched


EVERY = 4  # all periodic work (logging, health checks, grids, checkpoints) every 4 steps, evaluation every 8
PERIODIC = set(range(EVERY, 13, EVERY))


def watched_run(compose_cfg, monkeypatch, extra: list | None = None, *overrides: str) -> tuple[SyncWatch, int]:
    """A 12-step default run (every default callback, the TensorBoard logger, EMA, the health monitor) with its
    periodic work every 4 steps; the watch is active from the end of a plain step's predecessor (Lightning's
    bookkeeping, the batch fetch) to the end of the plain step's last callback. Returns the watch and the steps."""
    cfg = compose_cfg(*TINY_MLP, "trainer.max_steps=12", f"trainer.log_every_n_steps={EVERY}",
                      f"metrics.every_n_steps={2 * EVERY}", "metrics.num_samples=200", "metrics.batch_size=100",
                      f"health.every_n_steps={EVERY}", "health.num_samples=16",
                      f"callbacks.samples.every_n_steps={EVERY}", f"callbacks.model_checkpoint.every_n_steps={EVERY}",
                      "callbacks.progress_bar.log_lines=1000", *overrides)  # a progress log line every step
    watch = SyncWatch()
    model = build_module(cfg)

    # Lightning calls the module's batch hooks after the callbacks' own: the window closes after every callback
    # of step s, and opens again at once when s and s + 1 are both plain steps (else at step s + 1's start)
    def on_train_batch_start(batch, batch_idx):
        watch.step = model.trainer.global_step + 1
        watch.active = watch.step not in PERIODIC

    def on_train_batch_end(outputs, batch, batch_idx):
        step = model.trainer.global_step
        watch.active = step not in PERIODIC and step + 1 not in PERIODIC
        watch.step = step + 1

    model.on_train_batch_start, model.on_train_batch_end = on_train_batch_start, on_train_batch_end
    callbacks = [*build_callbacks(cfg), *(extra or [])]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=build_loggers(cfg.logger),
                          **trainer_switches(callbacks))
    watch.install(monkeypatch)
    try:
        trainer.fit(model, datamodule=instantiate(cfg.datamodule))
    finally:
        monkeypatch.undo()
    return watch, trainer.global_step


def test_a_step_that_is_not_a_logging_or_evaluation_step_makes_no_host_sync(compose_cfg, monkeypatch):
    watch, steps = watched_run(compose_cfg, monkeypatch)
    assert steps == 12
    assert watch.calls == [], "\n".join(map(str, watch.calls))


class ReadsTheLoss(pl.Callback):
    """A callback that reads the latest logged loss as a float at every step (a host sync per step)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        value = trainer.callback_metrics.get("train/d_loss")
        if value is not None:
            float(value)


def test_the_watch_sees_a_sync_in_a_callback(compose_cfg, monkeypatch):
    """The watch of the test above catches a float() of a logged loss in a per-step hook, on every plain step
    after the first logging step (before it nothing is logged)."""
    watch, _ = watched_run(compose_cfg, monkeypatch, [ReadsTheLoss()], "metrics=none")  # no FID: a shorter run
    assert {step for step, name, _ in watch.calls if name == "__float__"} == {5, 6, 7, 9, 10, 11}
    assert all(where.startswith(__file__) for _, _, where in watch.calls)


class Readings(pl.Callback):
    """At each step's end: the step, callback_metrics' train/d_loss and how many results Lightning would recompute."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float | None, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = trainer.callback_metrics.get("train/d_loss")
        live = sum(1 for _ in trainer._results.valid_items())
        self.rows.append((trainer.global_step, None if loss is None else float(loss), live))


def test_logged_values_stay_readable_after_lightning_results_are_reset():
    """A logging step's values reach callback_metrics; the next step resets Lightning's results (nothing left to
    recompute at each batch end) and callback_metrics keep the logging step's values until the next one."""
    from test_module import make_data, make_module

    readings = Readings()
    trainer = pl.Trainer(max_steps=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=2, accelerator="cpu",
                         callbacks=[readings])
    trainer.fit(make_module(), datamodule=make_data())
    steps, losses, live = zip(*readings.rows, strict=True)
    assert steps == (1, 2, 3, 4, 5)
    assert losses[0] is None and None not in losses[1:]
    assert losses[2] == losses[1] and losses[4] == losses[3] != losses[1]  # held between logging steps
    assert live[1] > 0 and live[3] > 0  # train/d_loss, g_loss, d_real, ... on the logging steps
    assert live[2] == live[4] == 0  # reset on the steps after them
