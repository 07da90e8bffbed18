"""Training-time Stacked MNIST mode counting (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018)."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from ganlab.callbacks.metrics import gather_rows
from ganlab.metrics.stacked import mode_statistics, predict_modes


class StackedModes(pl.Callback):
    """Logs ``val/modes`` (distinct predicted digit triples, of 1,000) and ``val/reverse_kl``
    (KL(p || uniform), nats) of the validation samples, and the best of each so far.

    The number of samples is ``metrics.num_samples`` (the validation loop's length); under DDP each
    rank classifies its share and the predicted modes are gathered, so the values equal the
    single-process ones.

    Args:
        classifier: digit classifier with ``logits(x [M, 1, H, W]) -> [M, 10]`` (``DigitFeatures``).
        batch_size: stacked images per classifier call.
    """

    def __init__(self, classifier: nn.Module, batch_size: int = 500) -> None:
        self.classifier, self.batch_size = classifier, batch_size
        self.best: dict[str, float] = {}
        self._modes: list[Tensor] = []

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = dict(state.get("best", {}))

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self.classifier.to(pl_module.device)
        self._modes = []

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        if outputs.dim() != 4 or outputs.shape[1] != 3:
            raise ValueError(f"metrics=stacked_modes needs 3-channel images (dataset=stacked_mnist5k); "
                             f"got samples of shape {tuple(outputs.shape[1:])}")
        self._modes.append(predict_modes(outputs.detach(), self.classifier, self.batch_size))  # [B] on the CPU

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the histogram does not depend on sample order: gather without sorting
        modes = gather_rows(torch.cat(self._modes).to(pl_module.device)).cpu()
        stats = mode_statistics(modes)
        self.best["modes"] = max(self.best.get("modes", 0), stats["modes"])
        self.best["reverse_kl"] = min(self.best.get("reverse_kl", float("inf")), stats["reverse_kl"])
        scalars = {
            "val/modes": float(stats["modes"]),
            "val/reverse_kl": stats["reverse_kl"],
            "val/modes_best": float(self.best["modes"]),
            "val/reverse_kl_best": self.best["reverse_kl"],
            "val/eval_seconds": time.perf_counter() - self._start,
        }
        for key, value in scalars.items():
            # for checkpoints and the progress bar; written to the logger below at the right step
            pl_module.log(key, value, prog_bar=key == "val/modes", logger=False, rank_zero_only=True)
        if trainer.logger is not None and trainer.is_global_zero:
            # at the step the checkpoint carries, not Lightning's lagging batch counter
            trainer.logger.log_metrics(scalars, step=trainer.global_step)
