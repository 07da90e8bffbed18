"""Stop a run whose losses became NaN or infinite, with a one-line reason."""

from __future__ import annotations

import math

import pytorch_lightning as pl

from ganlab.errors import UserError


class TrainingDiverged(UserError, RuntimeError):
    """Raised when a logged loss is not finite."""


class DivergenceGuard(pl.Callback):
    """Checks the logged losses at each logging step (no extra host-device syncs otherwise).

    Args:
        keys: logged scalars that must stay finite.
    """

    def __init__(self, keys: tuple[str, ...] = ("train/d_loss", "train/g_loss")) -> None:
        self.keys = tuple(keys)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.global_step % trainer.log_every_n_steps:
            return
        if pl_module.health_rollback_step == trainer.global_step:
            return  # the health monitor rolled this step's diverged state back (health.detectors.*.action=rollback)
        for key in self.keys:
            value = trainer.callback_metrics.get(key)
            if value is not None and not math.isfinite(float(value)):
                raise TrainingDiverged(
                    f"training diverged at step {trainer.global_step}: {key}={float(value)}; "
                    f"lower optim.g.lr / optim.d.lr, add a regularizer, or change loss="
                )
