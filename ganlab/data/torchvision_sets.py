"""MNIST, Fashion-MNIST and CIFAR-10 read from torchvision's on-disk formats into one uint8 tensor."""

from __future__ import annotations

import os

import torch
from torchvision.datasets import CIFAR10, MNIST, FashionMNIST, VisionDataset

from ganlab.data.base import ImageData, fit_images

_SETS: dict[str, type[VisionDataset]] = {"mnist": MNIST, "fashion_mnist": FashionMNIST, "cifar10": CIFAR10}
_SPLITS = ("train", "test")


def _expected_files(cls: type[VisionDataset], root: str) -> tuple[str, list[str]]:
    """The folder torchvision reads ``cls`` from under ``root`` and the file names it needs there."""
    if cls is CIFAR10:
        names = [f for f, _ in CIFAR10.train_list + CIFAR10.test_list] + [CIFAR10.meta["filename"]]
        return os.path.join(root, CIFAR10.base_folder), names
    # MNIST-style: the decompressed idx files, all four needed whichever split is asked for
    names = [os.path.splitext(f)[0] for f, _ in cls.resources]
    return os.path.join(root, cls.__name__, "raw"), names


def load_torchvision(name: str, root: str, resolution: int, channels: int, split: str = "train",
                     download: bool = False) -> ImageData:
    """Load a whole torchvision image set at the configured resolution and channels.

    Args:
        name: "mnist", "fashion_mnist" or "cifar10".
        root: torchvision's dataset root (files in ``<root>/MNIST/raw``, ``<root>/cifar-10-batches-py``).
        resolution, channels: target size and channel count (1 or 3), applied by ``fit_images``.
        split: "train" or "test".
        download: let torchvision fetch missing files (needs network access).

    Returns:
        ImageData with x uint8 [N, channels, resolution, resolution] and y int64 [N].
    """
    if name not in _SETS:
        raise ValueError(f"unknown torchvision dataset {name!r}; valid: {', '.join(sorted(_SETS))}")
    if split not in _SPLITS:
        raise ValueError(f"unknown split {split!r} for dataset {name!r}; valid: {', '.join(_SPLITS)}")
    cls = _SETS[name]
    root = os.path.expanduser(str(root))
    try:
        ds = cls(root, train=split == "train", download=download)
    except (RuntimeError, OSError) as e:
        # RuntimeError: files missing or failing the md5 check, or every download mirror failed;
        # OSError (URLError is one): the network could not be reached during download
        folder, files = _expected_files(cls, root)
        first = (str(e).splitlines() or [type(e).__name__])[0]  # torchvision's messages span lines
        why = f"download failed ({first})" if download else "files missing or corrupt"
        raise FileNotFoundError(
            f"dataset {name!r} ({split}): {why}; put {', '.join(files)} in {folder} "
            f"(or point dataset.source.root at the directory that holds {os.path.relpath(folder, root)}), "
            f"or set dataset.source.download=true on a machine with network access"
        ) from e
    # .data is uint8 [N, H, W] (MNIST family, a tensor) or [N, H, W, 3] (CIFAR, a numpy array);
    # read whole, so no per-item PIL round trip
    x = torch.as_tensor(ds.data)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # -> [N, C, H, W]
    y = torch.as_tensor(ds.targets, dtype=torch.int64)  # [N]
    tag = name if split == "train" else f"{name}_{split}"
    return ImageData(x=fit_images(x.contiguous(), resolution, channels), y=y, name=tag)
