"""In-memory image sets and the batch iterator that replaces a DataLoader for them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class ImageData:
    """A whole dataset held as tensors.

    Attributes:
        x: uint8 images [N, C, H, W] already at the target resolution and channels
            (scaled to [-1, 1] per batch, on the device), or float data [N, D] used as is.
        y: int64 class labels [N], or None for unlabelled data.
        name: the dataset's name, for messages and metric cards.
    """

    x: Tensor
    y: Tensor | None
    name: str

    def __len__(self) -> int:
        return self.x.shape[0]


def to_model_space(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]; float data passes unchanged."""
    if x.dtype == torch.uint8:
        return x.float().div_(127.5).sub_(1.0)
    return x


def fit_images(x: Tensor, resolution: int, channels: int) -> Tensor:
    """Bring uint8 images [N, C, H, W] to [N, channels, resolution, resolution].

    Square images 4 pixels smaller than the target (MNIST's 28 -> 32) are padded with the
    background value, which keeps every digit pixel exact (the LeNet convention); other sizes
    are resized with antialiasing after a centre crop to a square.
    """
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"expected uint8 images [N, C, H, W], got {x.dtype} {tuple(x.shape)}")
    c, h, w = x.shape[1:]
    if c != channels:
        if c == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        elif c == 3 and channels == 1:
            # ITU-R 601-2 luma, as PIL's convert("L")
            luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * luma).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise ValueError(f"cannot convert {c}-channel images to channels={channels}; valid: 1 or 3")
    if h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, :, top : top + s, left : left + s]
        h = w = s
    if h == resolution:
        return x.contiguous()
    if h + 4 == resolution:
        # pad with the corner value (the background of digit-like images)
        background = int(x[:, :, 0, 0].float().median())
        return F.pad(x, (2, 2, 2, 2), value=background).contiguous()
    out = F.interpolate(x.float(), size=(resolution, resolution), mode="bilinear", antialias=True,
                        align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8).contiguous()


def balanced_subset(data: ImageData, n: int, seed: int = 0) -> ImageData:
    """A fixed draw of ``n`` samples of ``data``, class-balanced when it has labels.

    Labelled data: ``n // K`` samples of each of the K classes, plus one more for the first ``n % K``
    classes, each class drawn uniformly without replacement (so a 500-image subset of mnist5k holds 50
    of each digit, as the limited-data experiments of Karras et al. 2020 keep the class balance).
    Unlabelled data: ``n`` samples drawn uniformly. The draw depends on ``seed`` only (not on the
    run's seed), and the kept samples stay in dataset order.

    Args:
        data: the whole set (x [N, ...], y [N] or None).
        n: samples to keep, 1 <= n <= N.
        seed: seed of the draw.
    Returns:
        ImageData with x [n, ...] and y [n] (or None), same name.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(data):
        raise ValueError(f"datamodule.subset={n}; valid: null (all {len(data)} samples of {data.name!r}) "
                         f"or an integer in [1, {len(data)}]")
    g = torch.Generator().manual_seed(seed)
    if data.y is None:
        keep = torch.randperm(len(data), generator=g)[:n]
    else:
        classes = data.y.unique()  # sorted
        k = len(classes)
        parts = []
        for i, c in enumerate(classes.tolist()):
            members = (data.y == c).nonzero().flatten()
            want = n // k + (1 if i < n % k else 0)
            if want > len(members):
                raise ValueError(f"datamodule.subset={n} needs {want} samples of class {c} of {data.name!r}, "
                                 f"which has {len(members)}; valid: at most {len(members) * k} (balanced draw)")
            parts.append(members[torch.randperm(len(members), generator=g)[:want]])
        keep = torch.cat(parts)
    keep = keep.sort().values
    return ImageData(data.x[keep], data.y[keep] if data.y is not None else None, data.name)


class InMemoryBatches:
    """Batches drawn by index from one tensor, in a seeded permutation per epoch.

    Written by hand because a DataLoader over in-memory data pays per-item indexing and
    collation on every step; here a batch is one gather on the training device. Under DDP each
    rank takes a disjoint strided share of the same permutation. The iterator is stateful
    (``state_dict``/``load_state_dict``), so a resumed run continues the same data order.

    Args:
        data: the dataset.
        batch_size: samples per yielded batch (already multiplied by the number of D updates
            per training step, so each D update gets fresh reals).
        seed: base seed; epoch ``e`` uses permutation seed ``seed + e``.
        rank, world_size: this process's share under data parallelism.
        device: where the data lives; batches are gathered there.
        labels: yield (x, y) batches; False (a model that reads no labels) yields x alone: no label gather, and
            Lightning's per-step walk of the batch sees one tensor.
    """

    def __init__(self, data: ImageData, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, device: torch.device | str = "cpu", labels: bool = True) -> None:
        per_rank = len(data) // world_size
        if per_rank < batch_size:
            raise ValueError(
                f"dataset {data.name!r} has {len(data)} samples, fewer than one batch of {batch_size} per "
                f"process; lower dataset.batch_size or game.n_critic"
            )
        self.x = data.x.to(device)
        self.y = data.y.to(device) if data.y is not None and labels else None
        self.labels = labels
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0  # the epoch the next iter() serves
        self._start = 0  # batches of it already served (set on resume)
        self._current, self._served = 0, 0  # the epoch being served, and its batches served so far

    def __len__(self) -> int:
        return (self.x.shape[0] // self.world_size) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None] | Tensor]:
        # the epoch advances when an epoch's iterator is made, not after its last batch: Lightning knows len()
        # and never asks a finished epoch's generator for one more item, so code after the loop would not run
        epoch, start = self.epoch, self._start
        self.epoch, self._start = epoch + 1, 0
        self._current, self._served = epoch, start
        g = torch.Generator().manual_seed(self.seed + epoch)
        perm = torch.randperm(self.x.shape[0], generator=g)[self.rank :: self.world_size]
        perm = perm.to(self.x.device)
        bs = self.batch_size
        for i in range(start, len(self)):
            self._served = i + 1
            idx = perm[i * bs : (i + 1) * bs]
            x = to_model_space(self.x[idx])
            yield (x, self.y[idx] if self.y is not None else None) if self.labels else x

    def state_dict(self) -> dict[str, int]:
        """The epoch being served and how many of its batches were served."""
        return {"epoch": self._current, "served": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # saved after an epoch's last batch (served == len), Lightning's restart first finishes that epoch with an
        # iterator that yields nothing; the next one serves the next epoch
        self.epoch, self._start = int(state["epoch"]), int(state["served"])
