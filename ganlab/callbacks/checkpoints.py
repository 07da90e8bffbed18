"""Checkpoint policy: last.ckpt always holds the latest step, best.ckpt the best monitored one; writes are atomic.

Built on Lightning's ModelCheckpoint, which keeps best.ckpt (top-1 by ``monitor``) and its resume state.
What ModelCheckpoint (2.6) cannot do is written here: it rewrites last.ckpt only when a top-k file was
saved at the same step (so last.ckpt stays at the best step), its step and time triggers exclude each
other, and it writes in place (a kill mid-write leaves a truncated file).
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from ganlab.callbacks.preemption import Preempted, SignalFlag

log = logging.getLogger(__name__)

SNAPSHOT = re.compile(r"^step_(\d+)\.ckpt$")


def fsync_replace(tmp: str | Path, path: str | Path) -> None:
    """Make ``tmp`` durable, then rename it onto ``path`` (atomic on POSIX: readers see old or new, never half)."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)


def finite(module: torch.nn.Module) -> bool:
    """All parameters and buffers are finite (a NaN state must never replace a good last.ckpt)."""
    return all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point())


class CheckpointPolicy(ModelCheckpoint):
    """last.ckpt every ``every_n_steps`` steps / ``every_minutes`` minutes, at the end, on preemption
    (SIGTERM, SIGUSR1) and on an exception; best.ckpt by ``monitor``; optional ``step_NNNNNNN.ckpt`` snapshots.

    One step is one game iteration (``trainer.global_step``). Every file is written to a ``.tmp`` file
    in the same folder, fsynced and renamed over the old one.

    Args:
        dirpath: folder of the checkpoints.
        monitor: metric for best.ckpt (e.g. ``val/fid``); None: no best.ckpt.
        mode: ``min`` or ``max`` for ``monitor``.
        every_n_steps: write last.ckpt every this many steps (None or 0: off).
        every_minutes: write last.ckpt when this many minutes have passed since the last write (None or 0: off).
        snapshot_every_n_steps: also keep ``step_NNNNNNN.ckpt`` every this many steps (None or 0: off).
        keep: number of step snapshots kept (oldest removed first).
        signals: signal names that write last.ckpt at the next step boundary and stop the run.
    """

    def __init__(self, dirpath: str, monitor: str | None = None, mode: str = "min", every_n_steps: int | None = 500,
                 every_minutes: float | None = 10.0, snapshot_every_n_steps: int | None = None, keep: int = 3,
                 signals: tuple[str, ...] = ("SIGTERM", "SIGUSR1")) -> None:
        for key, value in (("every_n_steps", every_n_steps), ("snapshot_every_n_steps", snapshot_every_n_steps)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"callbacks.model_checkpoint.{key}={value}; valid: null or an integer >= 0")
        if every_minutes is not None and every_minutes < 0:
            raise ValueError(f"callbacks.model_checkpoint.every_minutes={every_minutes}; valid: null or a number >= 0")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"callbacks.model_checkpoint.keep={keep}; valid: an integer >= 1")
        # best.ckpt only: last.ckpt is handled below; no "-v1" copies next to an existing file
        super().__init__(dirpath=dirpath, filename="best", monitor=monitor, mode=mode,
                         save_top_k=1 if monitor else 0, save_last=False, auto_insert_metric_name=False,
                         save_on_train_epoch_end=False, enable_version_counter=False)
        self.every_n_steps, self.every_minutes = every_n_steps or 0, every_minutes or 0.0
        self.snapshot_every_n_steps, self.keep = snapshot_every_n_steps or 0, keep
        self.signals = SignalFlag(signals)
        self._last_step_written = -1
        self._best_step = -1  # step of the best.ckpt written by this process (-1: none yet)
        self._last_time = time.monotonic()
        self._pending = False

    @property
    def last_path(self) -> str:
        return os.path.join(self.dirpath, "last.ckpt")

    # ------------------------------------------------------------------ writing
    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """ModelCheckpoint's writer for best.ckpt (its only file: save_top_k=1, no save_last), made atomic."""
        self._atomic_save(trainer, filepath)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        self._best_step = trainer.global_step

    def _link_to_last(self, filepath: str) -> bool:
        """Make ``filepath`` a hard link to last.ckpt (rank 0), atomically; False where links are not possible.

        Used when ``filepath`` would hold the same step as last.ckpt (best.ckpt of the final evaluation, a
        snapshot): one 29 MB file on disk instead of two. Safe because last.ckpt is never written in place:
        its next version is a new file renamed over the name, so ``filepath`` keeps this step.
        """
        tmp = f"{filepath}.link.tmp"
        try:
            if os.path.lexists(tmp):
                os.remove(tmp)
            os.link(self.last_path, tmp)
            os.replace(tmp, filepath)  # readers see the old file or the link, never neither
        except OSError:  # a filesystem without hard links: the caller keeps (or writes) a copy
            if os.path.lexists(tmp):
                os.remove(tmp)
            return False
        fd = os.open(os.path.dirname(os.path.abspath(filepath)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _atomic_save(self, trainer: pl.Trainer, filepath: str) -> None:
        """Lightning writes ``filepath.tmp`` (all ranks call, rank 0 writes), rank 0 renames it over ``filepath``."""
        tmp = f"{filepath}.tmp"
        trainer.save_checkpoint(tmp, self.save_weights_only)
        if trainer.is_global_zero:
            fsync_replace(tmp, filepath)
        trainer.strategy.barrier("ganlab.checkpoint.replace")

    def write_last(self, trainer: pl.Trainer, pl_module: pl.LightningModule, why: str) -> bool:
        """last.ckpt (and a due snapshot) of the current step, unless written already or the state is not finite."""
        step = trainer.global_step
        if step == self._last_step_written or trainer.sanity_checking or trainer.fast_dev_run:
            return False
        if not finite(pl_module):
            log.warning("not writing last.ckpt at step %d (%s): weights are not finite; keeping the previous one",
                        step, why)
            return False
        # not _save_checkpoint: its bookkeeping would make ModelCheckpoint skip best.ckpt at this step
        self.last_model_path = self.last_path
        self._atomic_save(trainer, self.last_path)
        if self._best_step == step and self.best_model_path and trainer.is_global_zero:
            # best.ckpt was written at this step moments ago: the same weights, so one file for both
            self._link_to_last(self.best_model_path)
        if self.snapshot_every_n_steps and step % self.snapshot_every_n_steps == 0:
            snapshot = os.path.join(self.dirpath, f"step_{step:07d}.ckpt")
            linked = trainer.is_global_zero and self._link_to_last(snapshot)
            if not trainer.strategy.broadcast(linked):
                self._atomic_save(trainer, snapshot)
            if trainer.is_global_zero:
                self._prune()
        self._last_step_written, self._last_time = step, time.monotonic()
        log.debug("last.ckpt at step %d (%s)", step, why)
        return True

    def _prune(self) -> None:
        snaps = sorted((int(m.group(1)), name) for name in os.listdir(self.dirpath) if (m := SNAPSHOT.match(name)))
        for _, name in snaps[:-self.keep]:
            os.remove(os.path.join(self.dirpath, name))

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after Lightning registered its own handlers (Trainer._run), so ours come first and call theirs
        self.signals.install()
        self._last_step_written, self._last_time = trainer.global_step, time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        due = bool(self.every_n_steps) and step % self.every_n_steps == 0
        due = due or (bool(self.snapshot_every_n_steps) and step % self.snapshot_every_n_steps == 0)
        clock = bool(self.every_minutes) and not due and time.monotonic() - self._last_time >= 60 * self.every_minutes
        stop = self.signals.received is not None
        if trainer.world_size > 1:
            # clocks differ between ranks and a signal may reach only some of them, but all ranks must write and
            # stop together: both decisions in one all-reduce per step (a broadcast of a Python object, as
            # Strategy.broadcast does, costs two collectives and a pickle; measured 4.5 ms per step for the
            # former broadcast + reduce_boolean_decision on 2 CPU processes)
            flags = torch.tensor([clock, stop], dtype=torch.float32, device=pl_module.device)
            clock, stop = (bool(v) for v in trainer.strategy.reduce(flags, reduce_op="max").tolist())
        due = due or clock
        if stop:
            self.write_last(trainer, pl_module, "signal")
            raise Preempted(self.signals.exit_code())
        if due and self._validates_now(trainer):
            # after validation: the file then carries this step's best score, and a resume does not skip it
            self._pending = True
        elif due:
            self.write_last(trainer, pl_module, "interval")

    @staticmethod
    def _validates_now(trainer: pl.Trainer) -> bool:
        # Lightning's own decision, made right after this hook (private API, stable across 2.x)
        loop = trainer.fit_loop
        return bool(loop.epoch_loop._should_check_val_fx(loop._data_fetcher))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)  # best.ckpt
        if self._pending:
            self._pending = False
            self.write_last(trainer, pl_module, "interval")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write_last(trainer, pl_module, "end of training")
        self.signals.restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Lightning's OnExceptionCheckpoint, but atomic, into last.ckpt, and never with NaN weights."""
        if self.signals.received is not None and isinstance(exception, SystemExit):
            # Lightning's SIGTERMException (exit status 0) raised mid-validation: the scheduler must see 128+signal
            exception.code = self.signals.exit_code()
        if trainer.state.fn == "fit":
            self.write_last(trainer, pl_module, f"{type(exception).__name__}")
        self.signals.restore()
