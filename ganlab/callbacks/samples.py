"""Sample grids from one fixed noise batch, sent to the run's loggers and saved as PNG files."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ganlab.data.base import to_model_space
from ganlab.loggers.base import add_image


def spread_indices(labels: Tensor | None, n: int, total: int, seed: int = 0) -> Tensor:
    """Indices [min(n, total)] of a seeded sample that holds every class as often as ``n`` allows.

    Labelled sets are often stored sorted by class (mnist5k is), so their first ``n`` images show one
    class. Here items are taken round-robin over the classes (in a seeded random order, a seeded
    random item of each), then ordered by class, so a grid reads class by class. Unlabelled: a
    seeded random sample in index order. Uses its own generator, never the global RNG.

    Args:
        labels: int64 class labels [total], or None.
        n: how many indices.
        total: size of the set.
        seed: seed of the draw.
    """
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=g)  # [total]: a random order of the items
    n = min(n, total)
    if labels is None:
        return order[:n].sort().values
    y = labels[order]
    classes, y_index = torch.unique(y, return_inverse=True)  # y_index [total]: class number 0..K-1
    class_rank = torch.randperm(len(classes), generator=g)[y_index]  # a random order of the classes
    by_class = torch.sort(y_index, stable=True).indices  # items grouped by class, random order inside
    starts = torch.searchsorted(y_index[by_class], torch.arange(len(classes)))
    within = torch.empty(total, dtype=torch.long)
    within[by_class] = torch.arange(total) - starts[y_index[by_class]]  # rank of each item inside its class
    pick = torch.sort(within * len(classes) + class_rank, stable=True).indices[:n]  # round-robin over classes
    pick = pick[torch.sort(y_index[pick] * total + within[pick], stable=True).indices]  # class by class
    return order[pick]


def to_grid(images: Tensor, nrow: int) -> Tensor:
    """[N, C, H, W] in [-1, 1] -> one image grid [3, H', W'] in [0, 1]."""
    return make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1)


class SampleGrid(pl.Callback):
    """Every ``every_n_steps`` training steps and at the end of training, log a grid of G(fixed z) as
    ``samples`` (and a PNG), so a short or resumed run ends with a grid too.

    The fixed noise is the module's ``sample_z`` buffer, so grids are comparable over a run,
    across resumes, and across runs with the same ``seed``. Real images are logged once as ``real``:
    a seeded sample that holds every class (``spread_indices``), not the first images of a sorted set.
    Conditional models get one row per class (the module's ``sample_nrow`` images each).

    Args:
        every_n_steps: interval in training steps.
        nrow: images per grid row.
        save_dir: folder for PNG copies (``samples/step_000100.png``); None for TensorBoard only.
    """

    def __init__(self, every_n_steps: int = 500, nrow: int = 8, save_dir: str | None = None) -> None:
        self.every_n_steps, self.nrow = every_n_steps, nrow
        self.save_dir = Path(save_dir) if save_dir else None
        self._last: int | None = None  # the step of the latest samples grid

    def _log(self, trainer: pl.Trainer, tag: str, images: Tensor, step: int, nrow: int | None = None) -> None:
        if images.dim() != 4:  # flat (e.g. 2-D toy) data has no image grid
            return
        grid = to_grid(images, nrow or self.nrow)
        add_image(trainer, tag, grid, step)  # every logger that holds images
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            save_image(grid, self.save_dir / f"{tag}_{step:07d}.png")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = None
        if trainer.is_global_zero and trainer.global_step == 0:
            data = trainer.datamodule.real_images()
            index = spread_indices(data.y, pl_module.sample_z.shape[0], len(data))
            self._log(trainer, "real", to_model_space(data.x[index]), 0)
            self._samples(trainer, pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._samples(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._samples(trainer, pl_module)  # the final grid (skipped when this step has one already)

    def _samples(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = trainer.global_step
        if trainer.is_global_zero and step != self._last:
            self._last = step
            with torch.no_grad():
                self._log(trainer, "samples", pl_module.sample_grid_images(), step, pl_module.sample_nrow)
