"""Training-time FID: real features once per run, generated features at every evaluation."""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ganlab.data.base import to_model_space


class FIDCallback(pl.Callback):
    """Computes ``val/fid`` from the samples the module generates in its validation loop.

    Real-data statistics are accumulated once (first evaluation) and kept across evaluations
    (``reset_real_features=False``). Under DDP every rank feeds its share of real and generated
    images; torchmetrics sums the statistics over ranks, so the value equals the single-process one.

    Args:
        feature: feature extractor taking images in [-1, 1] [N, C, H, W] -> [N, D]; must expose
            ``num_features``.
        max_real: real images used for the reference statistics (None: the whole set).
        batch_size: images per feature-extractor call for the real set.
        tag: the logged metric name.
    """

    def __init__(self, feature: nn.Module, max_real: int | None = None, batch_size: int = 500,
                 tag: str = "val/fid") -> None:
        self.feature, self.max_real, self.batch_size, self.tag = feature, max_real, batch_size, tag
        self.metric: FrechetInceptionDistance | None = None
        self._have_real = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.metric is None:
            self.metric = FrechetInceptionDistance(feature=self.feature, reset_real_features=False)

    @torch.no_grad()
    def _add_real(self, trainer: pl.Trainer, device: torch.device) -> None:
        x = trainer.datamodule.real_images().x[: self.max_real]
        x = x[trainer.global_rank :: trainer.world_size]  # this rank's share
        for i in range(0, x.shape[0], self.batch_size):
            self.metric.update(to_model_space(x[i : i + self.batch_size].to(device)), real=True)
        self._have_real = True

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metric.to(pl_module.device)
        self._start = time.perf_counter()
        if not self._have_real:
            self._add_real(trainer, pl_module.device)

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.metric.update(outputs, real=False)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = self.metric.compute()  # synced over ranks
        self.metric.reset()  # keeps the real statistics
        seconds = time.perf_counter() - self._start
        pl_module.log(self.tag, value, prog_bar=True, logger=False)  # for checkpoints and the progress bar
        if trainer.logger is not None and trainer.is_global_zero:
            # at the step the checkpoint carries, not Lightning's lagging batch counter
            trainer.logger.log_metrics({self.tag: float(value), "val/eval_seconds": seconds}, step=trainer.global_step)
