"""mnist5k's fixed test split: disjoint from the GAN's training digits and from the digit classifier's."""

from __future__ import annotations

import pytest
import torch

from ganlab.config import compose
from ganlab.data.mnist5k import load_mnist5k, split_indices
from ganlab.metrics.extractors.digits import DigitFeatures


@pytest.fixture(scope="module")
def splits():
    return {s: load_mnist5k(32, 1, split=s) for s in ("train", "test", "all")}


def test_sizes_and_class_balance(splits):
    assert len(splits["train"]) == 4000 and len(splits["test"]) == 1000 and len(splits["all"]) == 5000
    assert torch.equal(torch.bincount(splits["test"].y), torch.full((10,), 100))
    assert torch.equal(torch.bincount(splits["train"].y), torch.full((10,), 400))


def test_no_image_in_both_splits(splits):
    all_y = splits["all"].y
    train, test = split_indices(all_y, "train"), split_indices(all_y, "test")
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(5000))
    # by content too: no test digit's pixels equal a training digit's
    flat = lambda x: {bytes(row.numpy()) for row in x.flatten(1)}  # noqa: E731
    assert not flat(splits["train"].x) & flat(splits["test"].x)


def test_the_classifier_never_trained_on_the_test_split(splits):
    # the packaged classifiers' recipe holds out held_out_split(y, meta.split_seed); that is the test split
    from ganlab.data.mnist5k import held_out_split

    for version in ("v1", "v2"):
        meta = DigitFeatures(version=version).meta
        train_idx, held_idx = held_out_split(splits["all"].y, meta["split_seed"])
        assert meta["n_held_out"] == len(held_idx) == 1000
        assert torch.equal(held_idx, split_indices(splits["all"].y, "test"))
        assert not set(train_idx.tolist()) & set(split_indices(splits["all"].y, "test").tolist())


def test_runs_train_on_the_train_split():
    cfg = compose([])
    assert cfg.dataset.source.split == "train"
    assert cfg.datamodule.source.split == "train"


def test_unknown_split_is_one_line():
    with pytest.raises(ValueError, match=r"dataset.source.split='val'; valid: train, test, all"):
        load_mnist5k(split="val")
