"""Training-time mode coverage of 2-D toy mixtures: scalars and a scatter plot in TensorBoard."""

from __future__ import annotations

import io
import time

import numpy as np
import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure  # no pyplot: renders with Agg, changes no global backend
from matplotlib.patches import Circle
from PIL import Image
from torch import Tensor

from ganlab.callbacks.metrics import gather_rows
from ganlab.metrics.modes import mode_metrics


def scatter_image(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> np.ndarray:
    """Generated points over the mode centres (circles of radius threshold*std) as an RGB array [H, W, 3]."""
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.subplots()
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
    ax.scatter(means[:, 0], means[:, 1], s=30, marker="x", color="tab:red", label="modes")
    for m in means.tolist():
        ax.add_patch(Circle(m, threshold * std, fill=False, color="tab:red", lw=0.5))
    span = float(means.abs().max()) * 1.5 + 1e-6
    ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
    ax.legend(loc="upper right", fontsize=6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return np.asarray(Image.open(buf).convert("RGB"))


class ModeCoverage(pl.Callback):
    """Logs ``val/modes``, ``val/high_quality`` (%) and ``val/reverse_kl`` of the validation samples,
    and a ``modes`` scatter plot of them over the mixture's centres.

    Args:
        means: mode centres [K, 2] (the dataset's ``mode_means``).
        std: the components' standard deviation (the dataset's ``mode_std``).
        threshold: high quality within ``threshold * std`` of the nearest centre.
        plot: also log the scatter plot image.
    """

    def __init__(self, means: Tensor, std: float, threshold: float = 3.0, plot: bool = True) -> None:
        self.means, self.std, self.threshold, self.plot = torch.as_tensor(means).float(), float(std), threshold, plot
        self._samples: list[Tensor] = []
        self._index: list[Tensor] = []

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self._samples, self._index = [], []

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        if outputs.dim() != 2 or outputs.shape[1] != self.means.shape[1]:
            raise ValueError(f"metrics=modes needs flat {self.means.shape[1]}-d samples (dataset=ring or grid); "
                             f"got samples of shape {tuple(outputs.shape[1:])}")
        self._samples.append(outputs.detach())
        self._index.append(batch)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        device = pl_module.device
        index = gather_rows(torch.cat(self._index).to(device)).cpu()
        samples = gather_rows(torch.cat(self._samples).to(device)).cpu()[index.argsort()]
        values = mode_metrics(samples, self.means, self.std, self.threshold)
        scalars = {f"val/{k}": float(v) for k, v in values.items()}
        scalars["val/eval_seconds"] = time.perf_counter() - self._start
        for key, value in scalars.items():
            pl_module.log(key, value, prog_bar=key == "val/modes", logger=False, rank_zero_only=True)
        if trainer.logger is not None and trainer.is_global_zero:
            trainer.logger.log_metrics(scalars, step=trainer.global_step)
            if self.plot and hasattr(trainer.logger.experiment, "add_image"):
                image = scatter_image(samples.float(), self.means, self.std, self.threshold)
                trainer.logger.experiment.add_image("modes", image, trainer.global_step, dataformats="HWC")
