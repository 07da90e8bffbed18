"""Stacked-MNIST-lite: each channel a real mnist5k digit, y the digit triple, 1,000 modes covered; the yaml."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from ganlab.cli.train import train
from ganlab.config import validate
from ganlab.data.mnist5k import load_mnist5k
from ganlab.data.stacked import load_stacked_mnist5k


@pytest.fixture(scope="module")
def digits():
    return load_mnist5k(resolution=32, channels=1)


@pytest.fixture(scope="module")
def stacked():
    return load_stacked_mnist5k()  # the default set, as the dataset yaml builds it


def test_shape_dtype_and_mode_labels(stacked):
    assert stacked.x.shape == (50_000, 3, 32, 32) and stacked.x.dtype == torch.uint8
    assert stacked.y.dtype == torch.int64 and stacked.y.shape == (50_000,)
    assert int(stacked.y.min()) >= 0 and int(stacked.y.max()) <= 999
    assert stacked.name == "stacked_mnist5k"


def test_each_channel_is_the_mnist5k_digit_named_by_y(stacked, digits):
    flat = digits.x[:, 0].flatten(1)  # [5000, 1024]
    for i in range(0, 50_000, 2_500):  # 20 images, 60 channels
        triple = [int(stacked.y[i]) // 100, int(stacked.y[i]) // 10 % 10, int(stacked.y[i]) % 10]
        for c in range(3):
            same = (flat == stacked.x[i, c].flatten()).all(1).nonzero().flatten()
            assert len(same) >= 1, f"image {i} channel {c} is no mnist5k digit"
            assert set(digits.y[same].tolist()) == {triple[c]}


def test_all_1000_modes_nearly_uniform(stacked):
    counts = torch.bincount(stacked.y, minlength=1000)
    assert int((counts > 0).sum()) == 1000
    assert int(counts.min()) >= 15 and int(counts.max()) <= 90  # Binomial(50000, 1/1000): 50 ± 7
    for place in (100, 10, 1):  # each channel's digit is uniform over 0..9
        per_digit = torch.bincount(stacked.y // place % 10, minlength=10)
        assert (per_digit - 5_000).abs().max() < 300


def test_seeded_and_resolution():
    a, b = load_stacked_mnist5k(n=300, seed=3), load_stacked_mnist5k(n=300, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(load_stacked_mnist5k(n=300, seed=4).y, a.y)
    native = load_stacked_mnist5k(n=300, seed=3, resolution=28)
    assert native.x.shape == (300, 3, 28, 28)
    assert torch.equal(native.x, a.x[:, :, 2:30, 2:30]) and torch.equal(native.y, a.y)  # 32 = 28 zero-padded
    with pytest.raises(ValueError, match="dataset.source.n=0"):
        load_stacked_mnist5k(n=0)


def test_dataset_yaml_composes_and_loads(compose_cfg):
    cfg = compose_cfg("dataset=stacked_mnist5k", "generator=dcgan", "discriminator=dcgan",
                      "dataset.source.n=400")
    validate(cfg)
    assert (cfg.dataset.channels, cfg.dataset.resolution, cfg.dataset.num_classes) == (3, 32, 0)
    assert cfg.generator.channels == cfg.discriminator.channels == 3
    dm = instantiate(cfg.datamodule)
    dm.setup()
    assert dm.real_images().x.shape == (400, 3, 32, 32)


def test_fid_on_stacked_digits_trains(compose_cfg):
    """The dataset's default metrics (FID on per-channel digit features) run end to end."""
    cfg = compose_cfg("dataset=stacked_mnist5k", "generator=dcgan", "discriminator=dcgan", "generator.width=8",
                      "discriminator.width=8", "dataset.source.n=400", "dataset.batch_size=16", "trainer.max_steps=2",
                      "metrics.every_n_steps=2", "metrics.num_samples=100", "metrics.batch_size=100",
                      "~logger", "~callbacks.model_checkpoint", "~callbacks.samples", "~callbacks.progress_bar",
                      "+trainer.enable_checkpointing=false", "+trainer.enable_progress_bar=false",
                      "trainer.enable_model_summary=false")
    fid = train(cfg)
    assert fid is not None and fid > 0
