"""A labelled dataset restricted to some classes, and optionally to a fixed small draw of them.

Limited-data transfer (docs/finetuning.md) pretrains on some classes and fine-tunes on a few images of others,
then measures the generator against images of those classes it never saw. ``selected`` wraps a dataset factory
of labelled data (``base``) and serves one of four splits, fixed by ``seed`` whatever the run's seed:

- ``train``: the base's train split restricted to ``classes``, then ``subset`` images drawn class-balanced
  from it (all of them when ``subset`` is null): what the run trains on;
- ``test``: the base's test split restricted to ``classes`` (mnist5k: its 1,000 digits nothing trained on);
- ``heldout``: the train split's images of ``classes`` outside the ``subset`` draw;
- ``all``: every image of ``classes`` (the base's ``all`` split where it has one).

ganlab-eval sets ``split`` (``real.split``, and ``test`` for its test-split metrics and the memorization check),
so a checkpoint trained on ``train`` is evaluated against images of the same classes that it never saw.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ganlab.data.base import ImageData, balanced_subset

SPLITS = ("train", "test", "heldout", "all")
BASE_SPLIT = {"train": "train", "heldout": "train", "test": "test", "all": "all"}  # what is asked of the base


def _kept(data: ImageData, classes: Sequence[int] | None) -> ImageData:
    """``data`` restricted to ``classes`` (in dataset order), or unchanged when None."""
    if classes is None:
        return data
    if data.y is None:
        raise ValueError(f"dataset.source.classes={list(classes)}: {data.name!r} has no labels; valid: null")
    wanted = [int(c) for c in classes]
    present = set(data.y.unique().tolist())
    if not wanted or any(c not in present for c in wanted) or len(set(wanted)) != len(wanted):
        raise ValueError(f"dataset.source.classes={wanted}; valid: distinct labels of {data.name!r} "
                         f"({min(present)}..{max(present)})")
    keep = torch.isin(data.y, torch.tensor(wanted))
    return ImageData(data.x[keep], data.y[keep], f"{data.name}[classes {','.join(map(str, wanted))}]")


def _has_splits(base: Callable[..., ImageData]) -> bool:
    """Whether the base factory takes a ``split`` argument (mnist5k, torchvision sets)."""
    try:
        return "split" in inspect.signature(base).parameters
    except (TypeError, ValueError):
        return False


def selected(base: Callable[..., ImageData], classes: Sequence[int] | None = None, subset: int | None = None,
             split: str = "train", seed: int = 0, **base_args: Any) -> ImageData:
    """The ``split`` of ``base(**base_args)`` restricted to ``classes`` and a ``subset``-image draw.

    Args:
        base: the dataset factory (a ``_partial_`` config, e.g. ``ganlab.data.mnist5k.load_mnist5k``).
        classes: labels to keep (None: all).
        subset: images of the ``train`` split, drawn class-balanced (``balanced_subset``); None: all kept images.
        split: "train", "test", "heldout" or "all" (see the module docstring).
        seed: seed of the draw (the same images for every run seed).
        base_args: passed to ``base`` (resolution, channels: the dataset config's keys).

    Returns:
        ImageData of that split, named after the selection (evaluation cards show it).
    """
    if split not in SPLITS:
        raise ValueError(f"dataset.source.split={split!r} (ganlab.data.select); valid: {', '.join(SPLITS)}")
    if _has_splits(base):
        data = base(split=BASE_SPLIT[split], **base_args)
    elif split == "test":
        raise ValueError("dataset.source.split=test: the base dataset of ganlab.data.select has no test split; "
                         "valid: train, heldout, all")
    else:
        data = base(**base_args)
    data = _kept(data, classes)
    if split in ("test", "all") or subset is None:
        if split == "heldout":
            raise ValueError("dataset.source.split=heldout needs dataset.source.subset (without it the train split "
                             "is every kept image)")
        return data
    indexed = ImageData(torch.arange(len(data)), data.y, data.name)  # draw indices with the labels' balance
    try:
        train = balanced_subset(indexed, subset, seed=seed).x
    except ValueError as e:  # its message names datamodule.subset; here the key is the source's
        raise ValueError(str(e).replace("datamodule.subset", "dataset.source.subset")) from e
    mask = torch.zeros(len(data), dtype=torch.bool)
    mask[train] = True
    if split == "heldout":
        mask = ~mask
    return ImageData(data.x[mask], data.y[mask] if data.y is not None else None,
                     f"{data.name}[{split} {int(mask.sum())}]")
