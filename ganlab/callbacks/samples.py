"""Sample grids from one fixed noise batch, logged to TensorBoard and saved as PNG files."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ganlab.data.base import to_model_space


def to_grid(images: Tensor, nrow: int) -> Tensor:
    """[N, C, H, W] in [-1, 1] -> one image grid [3, H', W'] in [0, 1]."""
    return make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1)


class SampleGrid(pl.Callback):
    """Every ``every_n_steps`` training steps, log a grid of G(fixed z) as ``samples`` (and a PNG).

    The fixed noise is the module's ``sample_z`` buffer, so grids are comparable over a run,
    across resumes, and across runs with the same ``seed``. Real images are logged once as ``real``.
    Conditional models get one row per class (the module's ``sample_nrow`` images each).

    Args:
        every_n_steps: interval in training steps.
        nrow: images per grid row.
        save_dir: folder for PNG copies (``samples/step_000100.png``); None for TensorBoard only.
    """

    def __init__(self, every_n_steps: int = 500, nrow: int = 8, save_dir: str | None = None) -> None:
        self.every_n_steps, self.nrow = every_n_steps, nrow
        self.save_dir = Path(save_dir) if save_dir else None

    def _log(self, trainer: pl.Trainer, tag: str, images: Tensor, step: int, nrow: int | None = None) -> None:
        if images.dim() != 4:  # flat (e.g. 2-D toy) data has no image grid
            return
        grid = to_grid(images, nrow or self.nrow)
        if trainer.logger is not None and hasattr(trainer.logger.experiment, "add_image"):
            trainer.logger.experiment.add_image(tag, grid, step)
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            save_image(grid, self.save_dir / f"{tag}_{step:07d}.png")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and trainer.global_step == 0:
            real = to_model_space(trainer.datamodule.real_images().x[: pl_module.sample_z.shape[0]])
            self._log(trainer, "real", real, 0)
            self._log(trainer, "samples", pl_module.sample_grid_images(), 0, pl_module.sample_nrow)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        step = trainer.global_step
        if trainer.is_global_zero and step % self.every_n_steps == 0:
            with torch.no_grad():
                self._log(trainer, "samples", pl_module.sample_grid_images(), step, pl_module.sample_nrow)
