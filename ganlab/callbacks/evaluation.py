"""Training-time evaluation: metric objects on the samples of the validation loop, logged as ``val/<name>``."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from ganlab.loggers.base import add_image, log_metrics
from ganlab.metrics.gather import gather_in_order
from ganlab.metrics.metric import EvalMetric

_START = {"min": math.inf, "max": -math.inf}


class Evaluation(pl.Callback):
    """Collect -> gather over DDP ranks -> compute -> log, for a dict of metric objects (``ganlab.metrics.metric``).

    The module generates ``metrics.num_samples`` samples from seeded noise in its validation loop;
    every metric object takes each batch (``update``), its rows are gathered over ranks and put back
    in sample order (so every value equals the single-process one), and its values are logged as
    ``val/<name>``, with ``val/<name>_best`` for the values the metric names in ``best``,
    ``val/eval_seconds`` (the whole evaluation) and the metric's images (rank 0, TensorBoard).

    Args:
        metrics: name -> metric object (the names only label config entries; values keep their own names).
    """

    def __init__(self, metrics: Mapping[str, EvalMetric]) -> None:
        wrong = {name: type(m).__name__ for name, m in metrics.items() if not isinstance(m, EvalMetric)}
        if wrong:
            name, kind = next(iter(wrong.items()))
            raise TypeError(f"metrics.{name}: a {kind} is not a metric object; valid: a subclass of "
                            f"ganlab.metrics.metric.EvalMetric")
        self.metrics = dict(metrics)
        self.best: dict[str, float] = {}  # value name -> best so far (kept in checkpoints)
        self._index: list[Tensor] = []

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = dict(state.get("best", {}))

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self._index = []
        for metric in self.metrics.values():
            metric.setup(trainer, pl_module)
            metric.reset()

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        samples = outputs.detach()  # [B, ...] generated; batch: their sample indices [B]
        for metric in self.metrics.values():
            metric.update(samples, batch)
        self._index.append(batch.cpu())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._index:
            return
        gather = gather_in_order(torch.cat(self._index), pl_module.device)
        scalars: dict[str, float] = {}
        prog_bar: set[str] = set()
        for metric in self.metrics.values():
            metric.sync(gather)
            values = metric.compute()
            scalars.update({f"val/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))})
            for key, mode in metric.best.items():  # best so far, for the HParams tab and sweeps comparing runs
                if key in values:
                    pick = min if mode == "min" else max
                    self.best[key] = pick(self.best.get(key, _START[mode]), float(values[key]))
                    scalars[f"val/{key}_best"] = self.best[key]
            prog_bar.update(f"val/{k}" for k in metric.prog_bar)
        scalars["val/eval_seconds"] = time.perf_counter() - self._start
        for key, value in scalars.items():
            # logged for checkpoints and the progress bar; written to the logger below at the right step
            pl_module.log(key, value, prog_bar=key in prog_bar, logger=False, rank_zero_only=True)
        if not trainer.is_global_zero:
            return
        # to every logger, at the step the checkpoint carries, not Lightning's lagging batch counter
        log_metrics(trainer, scalars, trainer.global_step)
        for metric in self.metrics.values():
            for tag, image in metric.images().items():
                add_image(trainer, tag, image, trainer.global_step)
