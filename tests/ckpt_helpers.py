"""Test-only callbacks for checkpoint tests, importable by ganlab-train subprocesses (tests/ is on PYTHONPATH)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class FailAt(pl.Callback):
    """Raise at step ``step`` (after it finished); with ``nan=True`` first make a G weight NaN."""

    def __init__(self, step: int, nan: bool = False) -> None:
        self.step, self.nan = step, nan

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.global_step == self.step:
            if self.nan:
                with torch.no_grad():
                    next(pl_module.generator.parameters()).fill_(float("nan"))
            raise RuntimeError(f"injected failure at step {self.step}")


class StepFile(pl.Callback):
    """Write the number of finished steps to ``path`` after every step (the kill test's clock; no RNG use)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        with open(self.path, "w") as f:
            f.write(str(trainer.global_step))
