"""A labelled dataset restricted to some classes, and optionally to a fixed small draw of them.

Limited-data transfer (docs/finetuning.md) pretrains on some classes and fine-tunes on a few images of others,
then measures the generator against images of those classes it never saw. ``selected`` wraps any dataset factory
of labelled data (``dataset.source``) and serves one of three splits, fixed by ``seed`` whatever the run's seed:

- ``train``: the ``subset`` images drawn class-balanced from the kept classes (all of them when ``subset`` is null);
- ``heldout``: the kept classes' images that are not in ``train`` (what the generator is evaluated against);
- ``all``: every image of the kept classes.

``ganlab-eval real.split=heldout`` evaluates a checkpoint trained on ``train`` against ``heldout``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ganlab.data.base import ImageData, balanced_subset

SPLITS = ("train", "heldout", "all")


def _kept(data: ImageData, classes: Sequence[int] | None) -> ImageData:
    """``data`` restricted to ``classes`` (in dataset order), or unchanged when None."""
    if classes is None:
        return data
    if data.y is None:
        raise ValueError(f"dataset.source.classes={list(classes)}: {data.name!r} has no labels; valid: null")
    wanted = [int(c) for c in classes]
    present = set(data.y.unique().tolist())
    missing = [c for c in wanted if c not in present]
    if not wanted or missing or len(set(wanted)) != len(wanted):
        raise ValueError(f"dataset.source.classes={wanted}; valid: distinct labels of {data.name!r} "
                         f"({min(present)}..{max(present)})")
    keep = torch.isin(data.y, torch.tensor(wanted))
    return ImageData(data.x[keep], data.y[keep], f"{data.name}[classes {','.join(map(str, wanted))}]")


def selected(base: Callable[..., ImageData], classes: Sequence[int] | None = None, subset: int | None = None,
             split: str = "train", seed: int = 0, **base_args: Any) -> ImageData:
    """The ``split`` of ``base(**base_args)`` restricted to ``classes`` and a ``subset``-image draw.

    Args:
        base: the dataset factory (a ``_partial_`` config, e.g. ``ganlab.data.mnist5k.load_mnist5k``).
        classes: labels to keep (None: all).
        subset: images of the ``train`` split, drawn class-balanced (``balanced_subset``); None: all kept images.
        split: "train", "heldout" (the kept images not in ``train``) or "all".
        seed: seed of the draw (the same images for every run seed).
        base_args: passed to ``base`` (resolution, channels: the dataset config's keys).

    Returns:
        ImageData of that split, named after the selection (evaluation cards show it).
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} of dataset.source (ganlab.data.select); valid: {', '.join(SPLITS)}")
    data = _kept(base(**base_args), classes)
    if split == "all" or subset is None:
        if split == "heldout":
            raise ValueError("split=heldout needs dataset.source.subset (the train split is then every kept image)")
        return data
    order = torch.arange(len(data))
    indexed = ImageData(order, data.y, data.name)  # draw indices with the labels' balance, then take the images
    try:
        train = balanced_subset(indexed, subset, seed=seed).x
    except ValueError as e:  # its message names datamodule.subset; here the key is the source's
        raise ValueError(str(e).replace("datamodule.subset", "dataset.source.subset")) from e
    mask = torch.zeros(len(data), dtype=torch.bool)
    mask[train] = True
    if split == "heldout":
        mask = ~mask
    tag = f"[{split} {int(mask.sum())}]"
    return ImageData(data.x[mask], data.y[mask] if data.y is not None else None, f"{data.name}{tag}")
