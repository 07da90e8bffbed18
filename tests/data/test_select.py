"""ganlab.data.select: a labelled set restricted to classes, with a fixed draw as train and the rest held out."""

from __future__ import annotations

import pytest
import torch

from ganlab.data.base import ImageData
from ganlab.data.select import selected


def toy(n_per_class: int = 20, classes: int = 6, split: str = "all") -> ImageData:
    """Image i holds the value i; the test split is the last 5 images of each class, train the others."""
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = torch.arange(len(y), dtype=torch.int64).view(-1, 1, 1, 1).to(torch.uint8)
    test = (torch.arange(len(y)) % n_per_class) >= n_per_class - 5
    keep = {"all": torch.ones_like(test), "train": ~test, "test": test}[split]
    return ImageData(x[keep], y[keep], "toy")


def no_splits() -> ImageData:
    return toy()


def ids(data: ImageData) -> set[int]:
    return set(data.x.flatten().tolist())


def test_train_heldout_and_test_split_the_kept_classes():
    train = selected(toy, classes=[3, 4, 5], subset=15, split="train", seed=0)
    held = selected(toy, classes=[3, 4, 5], subset=15, split="heldout", seed=0)
    test = selected(toy, classes=[3, 4, 5], subset=15, split="test", seed=0)
    every = selected(toy, classes=[3, 4, 5], split="all")
    assert train.y.bincount(minlength=6).tolist() == [0, 0, 0, 5, 5, 5]  # balanced draw from the train split
    assert len(held) == 30 and len(test) == 15 and set(test.y.tolist()) == {3, 4, 5}
    assert ids(train).isdisjoint(ids(held)) and ids(train).isdisjoint(ids(test)) and ids(held).isdisjoint(ids(test))
    assert ids(train) | ids(held) | ids(test) == ids(every) == set(range(60, 120))
    # the draw depends on the selection's seed only: the same images for every run
    assert torch.equal(selected(toy, classes=[3, 4, 5], subset=15, seed=0).x, train.x)
    assert not torch.equal(selected(toy, classes=[3, 4, 5], subset=15, seed=1).x, train.x)
    assert train.name == "toy[classes 3,4,5][train 15]"
    # a base without splits: train and heldout from the whole set; it has no test split
    assert len(selected(no_splits, classes=[0], subset=4, split="heldout")) == 16
    with pytest.raises(ValueError, match="the base dataset of ganlab.data.select has no test split"):
        selected(no_splits, classes=[0], split="test")


def test_bad_selections_name_the_key():
    with pytest.raises(ValueError, match=r"dataset.source.classes=\[7\]; valid: distinct labels of 'toy' \(0..5\)"):
        selected(toy, classes=[7])
    with pytest.raises(ValueError, match=r"dataset.source.split='val' \(ganlab.data.select\); valid: train, test"):
        selected(toy, classes=[1], split="val")
    with pytest.raises(ValueError, match=r"dataset.source.subset=100; valid: .* or an integer in \[1, 45\]"):
        selected(toy, classes=[0, 1, 2], subset=100)
    with pytest.raises(ValueError, match="split=heldout needs dataset.source.subset"):
        selected(toy, classes=[0], split="heldout")


def test_the_transfer_presets_compose_to_disjoint_digit_sets(compose_cfg):
    from ganlab.config import build

    pre = build(compose_cfg("experiment=transfer_pretrain").dataset.source, "source")()
    cfg = compose_cfg("experiment=transfer_target")
    target = build(cfg.dataset.source, "source")()
    test = build(cfg.dataset.test, "test")()
    cfg.dataset.source.split = "test"  # what ganlab-eval asks for its test-split metrics
    assert torch.equal(build(cfg.dataset.source, "source")().x, test.x)
    assert sorted(pre.y.unique().tolist()) == [0, 1, 2, 3, 4] and len(pre) == 2000  # 400 per digit of the train split
    assert target.y.bincount(minlength=10).tolist() == [0] * 5 + [100] * 5
    assert test.y.bincount(minlength=10).tolist() == [0] * 5 + [100] * 5
    seen = {tuple(x.flatten().tolist()) for x in target.x}
    assert not any(tuple(x.flatten().tolist()) in seen for x in test.x)  # no training image in the test digits
