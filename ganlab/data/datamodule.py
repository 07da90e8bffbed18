"""GANDataModule: real data for the D steps, and sample indices for evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import Tensor

from ganlab.data.base import ImageData, InMemoryBatches, balanced_subset
from ganlab.data.split import split_data


class IndexBatches:
    """Batches of sample indices [B] for evaluation; rank r of w takes batches r, r + w, ...

    Any number of ranks works: when ``n`` samples in batches of ``batch_size`` give fewer batches than ranks,
    the batches shrink to ``n // world_size`` samples, so every rank gets at least one (the shares may differ
    by a batch). Sample i's noise depends only on i (``eval_noise``) and the rows are put back in sample order,
    so the metrics equal the single-process ones. (A plain list would be read by Lightning as several dataloaders.)
    """

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        if world_size > 1 and -(-n // batch_size) < world_size:
            batch_size = max(n // world_size, 1)  # n >= world_size is checked with the config
        self.batches = [torch.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)][rank::world_size]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.batches)


class GANDataModule(pl.LightningDataModule):
    """Serves batches of ``batch_size * batches_per_step`` real samples per training step.

    Args:
        name: the dataset's name (cards, messages, feature-extractor choice).
        source: a factory returning ``ImageData`` (uint8 images held in memory, on the training device
            when it is a GPU; batches are gathered by index, no DataLoader).
        resolution, channels, num_classes: the data's shape, shared with G and D by interpolation.
        batch_size: samples per D update.
        batches_per_step: real batches consumed per training step (= game.n_critic).
        on_device: keep in-memory data on the training device (GPU) instead of host memory.
        seed: seed of the per-epoch permutation (and of the held-out / subset split).
        eval_samples: generated samples per evaluation; eval_batch_size: per generator call.
        holdout: real samples kept out of training (seeded by ``seed``), for the health monitor's held-out D view
            (0: none, and the training data is the dataset itself).
        subset: train on a fixed, class-balanced draw of this many of the remaining samples
            (``ganlab.data.base.balanced_subset``, drawn with seed 0 whatever the run's seed); None: all of them.
            Evaluation references (``real_images``: FID statistics, class shares, the real grid) stay the whole set
            (less the held-out split).
        test_source: a factory of the dataset's fixed test split (``dataset.test``; mnist5k: the 1,000 digits no
            network trained on), for the memorization check; None: the dataset has none.
    """

    def __init__(self, name: str, source: Callable[[], ImageData], resolution: int | None,
                 channels: int, num_classes: int = 0, batch_size: int = 64, batches_per_step: int = 1,
                 on_device: bool = True, seed: int = 0, eval_samples: int = 2000,
                 eval_batch_size: int = 500, holdout: int = 0, subset: int | None = None,
                 test_source: Callable[[], ImageData] | None = None) -> None:
        super().__init__()
        self.name, self.source = name, source
        self.resolution, self.channels, self.num_classes = resolution, channels, num_classes
        self.batch_size, self.batches_per_step = batch_size, batches_per_step
        self.on_device, self.seed = on_device, seed
        self.eval_samples, self.eval_batch_size = eval_samples, eval_batch_size
        if subset is not None and (not isinstance(subset, int) or isinstance(subset, bool) or subset < 1):
            raise ValueError(f"datamodule.subset={subset}; valid: null (the whole set) or an integer >= 1")
        self.holdout, self.subset = holdout, subset
        self.test_source = test_source
        self.test: ImageData | None = None
        self.data: ImageData | None = None  # the whole set less the held-out split: evaluation references
        self.heldout: ImageData | None = None
        self.train_data: ImageData | None = None  # what the D steps draw from (the subset, or self.data)

    def setup(self, stage: str | None = None) -> None:
        if self.data is None:
            self.data, self.heldout = split_data(self.source(), self.holdout, None, self.seed)
            self._check_shape()
            # a fixed draw (seed 0), so every seed of an experiment trains on the same images
            self.train_data = balanced_subset(self.data, self.subset, seed=0) if self.subset is not None else self.data

    def _check_shape(self) -> None:
        if self.data.x.dim() != 4:
            return
        c, h, w = self.data.x.shape[1:]
        if (c, h, w) != (self.channels, self.resolution, self.resolution):
            raise ValueError(
                f"dataset {self.name!r} yields images {c}x{h}x{w} but dataset.channels={self.channels}, "
                f"dataset.resolution={self.resolution}"
            )

    def _device(self) -> torch.device:
        if self.on_device and self.trainer is not None:
            return self.trainer.strategy.root_device
        return torch.device("cpu")

    def _rank(self) -> tuple[int, int]:
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)

    def train_dataloader(self) -> InMemoryBatches:
        self.setup()
        rank, world = self._rank()
        return InMemoryBatches(self.train_data, self.batch_size * self.batches_per_step, seed=self.seed, rank=rank,
                               world_size=world, device=self._device(), labels=self.model_takes_labels())

    def model_takes_labels(self) -> bool:
        """Whether the module being trained reads the reals' labels (a class-conditional G or D); without a
        trainer, or with a module that does not say, assume it does."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(module, "num_classes", 1) > 0

    def val_dataloader(self) -> IndexBatches:
        """Sample indices [B] per evaluation batch, this rank's strided share."""
        rank, world = self._rank()
        return IndexBatches(self.eval_samples, self.eval_batch_size, rank, world)

    def real_images(self) -> ImageData:
        """The whole real set less the held-out split (reference statistics of metrics), also when training uses
        a subset."""
        self.setup()
        return self.data

    def training_images(self) -> ImageData:
        """The images the D steps draw from: the subset when ``subset`` is set, else ``real_images()``."""
        self.setup()
        return self.train_data

    def test_images(self) -> ImageData | None:
        """The dataset's fixed test split (no image of it is trained on), or None when it has none."""
        if self.test is None and self.test_source is not None:
            self.test = self.test_source()
        return self.test

    def heldout_images(self) -> ImageData | None:
        """The held-out real split (``holdout`` samples never trained on), or None."""
        self.setup()
        return self.heldout
