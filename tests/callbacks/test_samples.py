"""Sample grids: the real grid holds every class (mnist5k is stored sorted by label)."""

from __future__ import annotations

import torch

from ganlab.callbacks.samples import spread_indices
from ganlab.data.mnist5k import load_mnist5k


def test_real_grid_indices_hold_every_class_of_mnist5k():
    labels = load_mnist5k().y
    assert set(labels[:64].tolist()) == {0}  # why the first 64 images will not do
    index = spread_indices(labels, 64, len(labels))
    counts = torch.bincount(labels[index], minlength=10)
    assert len(set(index.tolist())) == 64
    assert counts.min() >= 6 and counts.max() <= 7  # 64 over 10 classes: as even as it gets
    assert torch.equal(labels[index], labels[index].sort().values)  # the grid reads class by class
    assert torch.equal(index, spread_indices(labels, 64, len(labels)))  # seeded: the same grid every run
    assert not torch.equal(index, spread_indices(labels, 64, len(labels), seed=1))


def test_more_classes_than_images_gives_distinct_classes():
    labels = torch.arange(1000).repeat_interleave(5)  # stacked-MNIST-like: 1000 classes, sorted
    index = spread_indices(labels, 64, len(labels))
    assert len(set(labels[index].tolist())) == 64


def test_uses_no_global_rng_and_handles_unlabelled_and_small_sets():
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    index = spread_indices(None, 5, 100)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert len(set(index.tolist())) == 5 and torch.equal(index, index.sort().values) and int(index.max()) < 100
    assert sorted(spread_indices(torch.tensor([1, 0, 1]), 64, 3).tolist()) == [0, 1, 2]
