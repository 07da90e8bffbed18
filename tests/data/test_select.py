"""ganlab.data.select: a labelled set restricted to classes, with a fixed draw as train and the rest held out."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from ganlab.data.base import ImageData
from ganlab.data.select import selected


def toy(n_per_class: int = 20, classes: int = 6) -> ImageData:
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = torch.arange(len(y), dtype=torch.int64).view(-1, 1, 1, 1).to(torch.uint8)  # image i holds the value i
    return ImageData(x, y, "toy")


def ids(data: ImageData) -> set[int]:
    return set(data.x.flatten().tolist())


def test_train_and_heldout_split_the_kept_classes():
    base = partial(toy)
    train = selected(base, classes=[3, 4, 5], subset=15, split="train", seed=0)
    held = selected(base, classes=[3, 4, 5], subset=15, split="heldout", seed=0)
    every = selected(base, classes=[3, 4, 5], split="all")
    assert train.y.bincount(minlength=6).tolist() == [0, 0, 0, 5, 5, 5]  # balanced draw
    assert len(held) == 45 and set(held.y.tolist()) == {3, 4, 5}
    assert ids(train).isdisjoint(ids(held)) and ids(train) | ids(held) == ids(every) == set(range(60, 120))
    # the draw depends on the selection's seed only: the same images for every run
    assert torch.equal(selected(base, classes=[3, 4, 5], subset=15, seed=0).x, train.x)
    assert not torch.equal(selected(base, classes=[3, 4, 5], subset=15, seed=1).x, train.x)
    assert train.name == "toy[classes 3,4,5][train 15]"


def test_bad_selections_name_the_key():
    with pytest.raises(ValueError, match=r"dataset.source.classes=\[7\]; valid: distinct labels of 'toy' \(0..5\)"):
        selected(toy, classes=[7])
    with pytest.raises(ValueError, match=r"split='test' of dataset.source .*valid: train, heldout, all"):
        selected(toy, classes=[1], split="test")
    with pytest.raises(ValueError, match=r"dataset.source.subset=100; valid: .* or an integer in \[1, 60\]"):
        selected(toy, classes=[0, 1, 2], subset=100)
    with pytest.raises(ValueError, match="split=heldout needs dataset.source.subset"):
        selected(toy, classes=[0], split="heldout")


def test_the_transfer_presets_compose_to_disjoint_digit_sets(compose_cfg):
    from ganlab.config import build

    pre = build(compose_cfg("experiment=transfer_pretrain").dataset.source, "source")()
    cfg = compose_cfg("experiment=transfer_target")
    target = build(cfg.dataset.source, "source")()
    cfg.dataset.source.split = "heldout"
    held = build(cfg.dataset.source, "source")()
    assert sorted(pre.y.unique().tolist()) == [0, 1, 2, 3, 4] and len(pre) == 2500
    assert target.y.bincount(minlength=10).tolist() == [0] * 5 + [100] * 5
    assert len(held) == 2000 and sorted(held.y.unique().tolist()) == [5, 6, 7, 8, 9]
    flat = {tuple(x.flatten().tolist()) for x in target.x}
    assert not any(tuple(x.flatten().tolist()) in flat for x in held.x)  # no training image in the held-out set
