"""mnist5k loading, image fitting, and the in-memory batch iterator (order, sharding, resume)."""

from __future__ import annotations

import pytest
import torch

from ganlab.data import GANDataModule, ImageData, InMemoryBatches, fit_images, to_model_space
from ganlab.data.base import balanced_subset
from ganlab.data.mnist5k import load_mnist5k, mnist5k_raw


def test_mnist5k_is_embedded_and_balanced():
    raw = mnist5k_raw()
    assert raw.x.shape == (5000, 1, 28, 28) and raw.x.dtype == torch.uint8
    assert raw.y.bincount().tolist() == [500] * 10
    padded = load_mnist5k(32, 1).x
    assert padded.shape == (5000, 1, 32, 32)
    assert torch.equal(padded[:, :, 2:30, 2:30], raw.x)  # padding keeps every pixel exact
    assert padded[:, :, :2].max() == 0
    x = to_model_space(padded[:10])
    assert x.min() == -1 and x.max() == 1


def test_fit_images_resize_and_channels():
    x = torch.full((2, 3, 20, 30), 200, dtype=torch.uint8)
    out = fit_images(x, 16, 1)
    assert out.shape == (2, 1, 16, 16) and (out == 200).all()  # grey 200 stays 200 through luma and resize
    with pytest.raises(ValueError, match="channels=2"):
        fit_images(x, 16, 2)


def _data(n: int = 40) -> ImageData:
    x = torch.arange(n, dtype=torch.float32).view(n, 1)  # value = index, to read orders back
    return ImageData(x, torch.arange(n), "ids")


def test_epochs_are_seeded_permutations():
    it = InMemoryBatches(_data(), batch_size=8, seed=5)
    epoch0 = torch.cat([x for x, _ in it]).flatten()
    epoch1 = torch.cat([x for x, _ in it]).flatten()
    assert sorted(epoch0.tolist()) == list(range(40))
    assert not torch.equal(epoch0, epoch1)
    again = InMemoryBatches(_data(), batch_size=8, seed=5)
    assert torch.equal(torch.cat([x for x, _ in again]).flatten(), epoch0)


def _epoch_as_lightning_takes_it(batches: InMemoryBatches) -> torch.Tensor:
    # Lightning knows len() and takes exactly that many batches: the epoch's generator is never exhausted
    it = iter(batches)
    return torch.cat([next(it)[0] for _ in range(len(batches))]).flatten()


def test_each_epoch_is_a_new_permutation_when_only_len_batches_are_taken():
    it = InMemoryBatches(_data(), batch_size=8, seed=5)
    epochs = [_epoch_as_lightning_takes_it(it) for _ in range(3)]
    perms = [torch.randperm(40, generator=torch.Generator().manual_seed(5 + e)).float() for e in range(3)]
    assert all(torch.equal(got, want) for got, want in zip(epochs, perms, strict=True))
    assert it.state_dict() == {"epoch": 2, "served": 5}


def test_resume_after_an_epochs_last_batch_serves_the_next_epoch():
    straight = InMemoryBatches(_data(), batch_size=8, seed=5)
    _epoch_as_lightning_takes_it(straight)
    state = straight.state_dict()
    assert state == {"epoch": 0, "served": 5}
    resumed = InMemoryBatches(_data(), batch_size=8, seed=5)
    resumed.load_state_dict(state)
    assert list(resumed) == []  # Lightning's restart finishes the saved epoch first: nothing is left of it
    assert torch.equal(_epoch_as_lightning_takes_it(resumed), _epoch_as_lightning_takes_it(straight))


def test_ranks_get_disjoint_shares():
    shares = [torch.cat([x for x, _ in InMemoryBatches(_data(), 4, seed=1, rank=r, world_size=2)]).flatten()
              for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 20
    assert not set(shares[0].tolist()) & set(shares[1].tolist())


def test_resume_continues_the_same_order():
    full = InMemoryBatches(_data(), 4, seed=2)
    order = [x.flatten().tolist() for _, (x, _) in zip(range(15), _forever(full), strict=False)]
    part = InMemoryBatches(_data(), 4, seed=2)
    it = iter(part)
    for _ in range(3):
        next(it)
    state = part.state_dict()
    resumed = InMemoryBatches(_data(), 4, seed=2)
    resumed.load_state_dict(state)
    rest = [x.flatten().tolist() for _, (x, _) in zip(range(12), _forever(resumed), strict=False)]
    assert rest == order[3:]


def _forever(batches):
    while True:
        yield from batches


def test_too_small_dataset_is_clear():
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        InMemoryBatches(_data(40), 64)


def test_datamodule_checks_shape_and_serves_n_critic_batches():
    images = torch.zeros(100, 1, 8, 8, dtype=torch.uint8)
    dm = GANDataModule("zeros", lambda: ImageData(images, None, "zeros"), resolution=8, channels=1, batch_size=10,
                       batches_per_step=3, eval_samples=25, eval_batch_size=10)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (30, 1, 8, 8) and y is None and (x == -1).all()
    assert [b.tolist() for b in dm.val_dataloader()][-1] == list(range(20, 25))
    bad = GANDataModule("zeros", lambda: ImageData(images, None, "zeros"), resolution=16, channels=1)
    with pytest.raises(ValueError, match="yields images 1x8x8 but dataset.channels=1, dataset.resolution=16"):
        bad.setup()


def test_toy_mixtures_follow_the_pacgan_protocol():
    from ganlab.data.toy import grid_means, load_grid, load_ring, ring_means

    means = ring_means()
    assert means.shape == (8, 2) and torch.allclose(means.norm(dim=1), torch.ones(8))
    assert torch.cdist(means, means).add(torch.eye(8)).min() > 0.7  # 8 distinct modes (no duplicate at 2π)
    assert torch.allclose(means[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    assert sorted(set(grid_means()[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    ring = load_ring(n=20_000, seed=1)
    assert ring.x.shape == (20_000, 2) and ring.y.bincount().min() > 2_200
    spread = (ring.x - means[ring.y]).std()
    assert abs(spread.item() - 0.01) < 0.001
    grid = load_grid(n=20_000)
    assert abs((grid.x - grid_means()[grid.y]).std().item() - 0.05) < 0.003
    assert torch.equal(load_ring(n=100, seed=3).x, load_ring(n=100, seed=3).x)


def test_subset_is_a_fixed_class_balanced_draw_and_references_stay_the_whole_set():
    dm = GANDataModule("mnist5k", lambda: load_mnist5k(32, 1), 32, 1, 10, batch_size=50, subset=503, seed=7)
    dm.setup()
    train, full = dm.train_data, dm.real_images()
    assert len(full) == 5000 and full is dm.data  # FID statistics, class shares: the whole training set
    assert train.y.bincount().tolist() == [51, 51, 51, 50, 50, 50, 50, 50, 50, 50]  # 503 = 10 x 50 + 3
    again = GANDataModule("mnist5k", lambda: load_mnist5k(32, 1), 32, 1, 10, batch_size=50, subset=503, seed=1)
    again.setup()
    assert torch.equal(again.train_data.x, train.x)  # the draw does not follow the run's seed
    served = torch.cat([x for x, _ in dm.train_dataloader()])
    assert served.shape[0] == 500  # 10 batches of 50 from the 503 images
    member = {tuple(v.tolist()) for v in to_model_space(train.x).flatten(1)}
    assert all(tuple(v.tolist()) in member for v in served.flatten(1)[:20])
    whole = GANDataModule("mnist5k", lambda: load_mnist5k(32, 1), 32, 1, 10)
    whole.setup()
    assert whole.train_data is whole.data  # subset=null: exactly the data of before


def test_balanced_subset_draws_and_errors():
    data = ImageData(torch.arange(30).view(30, 1), torch.tensor([0] * 20 + [1] * 10), "ids")
    part = balanced_subset(data, 6, seed=0)
    assert part.y.tolist() == [0, 0, 0, 1, 1, 1] and part.x.flatten().tolist() == sorted(part.x.flatten().tolist())
    assert not torch.equal(balanced_subset(data, 6, seed=1).x, part.x)
    assert torch.equal(balanced_subset(data, 6, seed=0).x, part.x)
    unlabelled = balanced_subset(ImageData(torch.arange(30).view(30, 1), None, "flat"), 7)
    assert unlabelled.y is None and len(set(unlabelled.x.flatten().tolist())) == 7
    with pytest.raises(ValueError, match=r"datamodule.subset=24 needs 12 samples of class 1 .* has 10"):
        balanced_subset(data, 24)
    with pytest.raises(ValueError, match=r"datamodule.subset=31; valid: null \(all 30 samples"):
        balanced_subset(data, 31)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=f"datamodule.subset={bad}; valid"):
            GANDataModule("ids", lambda: data, None, 1, subset=bad)


def test_batches_without_labels_serve_the_same_images_as_bare_tensors():
    with_labels = list(InMemoryBatches(_data(), batch_size=8, seed=5))
    without = list(InMemoryBatches(_data(), batch_size=8, seed=5, labels=False))
    assert all(y is not None for _, y in with_labels) and all(isinstance(x, torch.Tensor) for x in without)
    assert all(torch.equal(a, b) for (a, _), b in zip(with_labels, without, strict=True))


def test_an_unconditional_module_is_served_no_labels_and_a_conditional_one_is():
    from types import SimpleNamespace

    from ganlab.data.datamodule import GANDataModule

    dm = GANDataModule("toy", lambda: _data(), None, 2, batch_size=8)
    assert dm.model_takes_labels()  # no trainer yet: labels served
    for classes, served in ((0, False), (10, True)):
        dm.trainer = SimpleNamespace(lightning_module=SimpleNamespace(num_classes=classes), global_rank=0,
                                     world_size=1, strategy=SimpleNamespace(root_device=torch.device("cpu")))
        batch = next(iter(dm.train_dataloader()))
        assert isinstance(batch, tuple) == served and (not served or batch[1] is not None)
