"""PacGAN's maxout D (Lin et al. 2018): the maxout layer's values, shapes, packing, and the Table 1 presets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import TINY

from ganlab.assembly import build_module
from ganlab.cli.train import train
from ganlab.config import CONFIG_DIR
from ganlab.nets.maxout import Maxout, MaxoutDiscriminator
from ganlab.nets.pacgan import PacDiscriminator

PRESETS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("pacgan*.yaml"))
QUIET = ["~logger", "~callbacks.model_checkpoint", "~callbacks.samples", "+trainer.enable_checkpointing=false"]
# the rows whose numbers are quoted (issue text); the others point to the paper's Table 1
PUBLISHED = {"pacgan_gan_ring": (6.3, 98.2, 0.45), "pacgan2_ring": (7.9, 95.6, 0.07),
             "pacgan_gan_grid": (17.3, 94.8, 0.70), "pacgan4_grid": (24.8, 93.6, 0.04)}


def test_maxout_layer_is_max_over_pieces_of_the_linear_map():
    layer = Maxout(2, units=2, pieces=3)
    with torch.no_grad():
        # rows 0-2: unit 0's pieces, rows 3-5: unit 1's pieces
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0],
                                                [2.0, 0.0], [0.0, -3.0], [0.5, 0.5]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0.0, 10.0, 0.0, 1.0, 0.0]))
    x = torch.tensor([[1.0, 2.0], [-4.0, 1.0]])
    # sample 0: unit 0 = max(1, 2, 7) = 7, unit 1 = max(2, -5, 1.5) = 2
    # sample 1: unit 0 = max(-4, 1, 13) = 13, unit 1 = max(-8, -2, -1.5) = -1.5
    assert torch.equal(layer(x), torch.tensor([[7.0, 2.0], [13.0, -1.5]]))
    # the same thing spelled as a max over the linear map's pieces
    assert torch.equal(layer(x), layer.linear(x).view(2, 2, 3).max(-1).values)


def test_paper_architecture_and_shapes():
    d = MaxoutDiscriminator()
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.linear.out_features) for m in maxouts] == [(2, 1000), (200, 1000), (200, 1000)]
    x = torch.randn(7, 2)
    h = d.features(x)
    assert h.shape == (7, 200) and d.feature_dim == 200
    assert d(x).shape == (7,) and torch.allclose(d(x), d.head(h))
    assert MaxoutDiscriminator(resolution=4, channels=3, hidden=[8], pieces=2)(torch.randn(5, 3, 4, 4)).shape == (5,)


def test_init_std_conditioning_and_spectral_norm():
    d = MaxoutDiscriminator(hidden=[400, 400], init_std=0.02)
    w = torch.cat([m.weight.flatten() for m in d.modules() if isinstance(m, torch.nn.Linear)])
    assert abs(w.std().item() - 0.02) < 0.002
    assert all(m.bias.abs().max() == 0 for m in d.modules() if isinstance(m, torch.nn.Linear))
    cond = MaxoutDiscriminator(hidden=[8], pieces=2, num_classes=3)
    assert cond(torch.randn(4, 2), torch.tensor([0, 1, 2, 0])).shape == (4,)
    sn = MaxoutDiscriminator(hidden=[8], pieces=2, spectral_norm=True)
    assert torch.nn.utils.parametrize.is_parametrized(sn.net[1].linear)


@pytest.mark.parametrize(("kwargs", "key"), [({"pieces": 0}, "discriminator.pieces=0"),
                                              ({"hidden": []}, "discriminator.hidden"),
                                              ({"init_std": -1.0}, "discriminator.init_std")])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        MaxoutDiscriminator(**kwargs)


def test_packed_maxout_judges_packs(compose_cfg):
    cfg = compose_cfg("dataset=ring", "discriminator=maxout", "metrics=none", "pack=4")
    d = build_module(cfg).discriminator  # D with its wrappers, as the module gets it
    assert isinstance(d, PacDiscriminator) and d.inner.net[1].linear.in_features == 8  # 4 samples x 2 coordinates
    x = torch.randn(12, 2)
    logits = d(x)
    assert logits.shape == (3,)
    assert torch.equal(logits, d.inner(x.reshape(3, 8)))  # consecutive samples form a pack


@pytest.mark.parametrize("name", PRESETS)
def test_pacgan_preset_composes(compose_cfg, name):
    assert len(PRESETS) == 8
    cfg = compose_cfg(f"experiment={name}")
    m = cfg.pack
    assert name.startswith(f"pacgan{m}_" if m > 1 else "pacgan_gan_") and cfg.dataset.name == name.split("_")[-1]
    # the authors' batch counts packs: 100 packs of m points; 400 epochs of 100,000 packs = 400,000 steps
    assert cfg.dataset.batch_size == 100 * m and cfg.trainer.max_steps == 400_000
    assert cfg.generator.z_dim == 2 and list(cfg.generator.hidden) == [400] * 4 and cfg.generator.batchnorm
    assert cfg.optim.g.lr == cfg.optim.d.lr == 1e-4 and cfg.optim.beta1 == 0.8
    assert cfg.loss._target_ == "ganlab.losses.NonSaturating" and cfg.metrics.num_samples == 2500
    inner = build_module(cfg).discriminator
    inner = inner.inner if m > 1 else inner
    assert isinstance(inner, MaxoutDiscriminator) and inner.net[1].linear.in_features == 2 * m
    pub = cfg.published
    numbers = (pub.modes, pub.high_quality, pub.reverse_kl)
    assert numbers == PUBLISHED.get(name, (None, None, None))
    assert "Table 1" in pub.source and "2,500 samples" in pub.protocol


@pytest.mark.parametrize("name", PRESETS)
def test_pacgan_preset_trains_three_steps(compose_cfg, name):
    cfg = compose_cfg(f"experiment={name}", *TINY, *QUIET, "trainer.max_steps=3", "metrics.every_n_steps=3",
                      "metrics.num_samples=200", "metrics.batch_size=200", "optimized_metric=val/modes")
    modes = train(cfg)
    assert modes is not None and math.isfinite(modes) and 0 <= modes <= (8 if name.endswith("ring") else 25)
