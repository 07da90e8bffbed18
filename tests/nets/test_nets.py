"""Output shapes and ranges of every network family, for several resolutions and channel counts."""

from __future__ import annotations

import pytest
import torch

from ganlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_and_range(resolution, channels):
    g = DCGANGenerator(z_dim=16, resolution=resolution, channels=channels, width=8)
    d = DCGANDiscriminator(resolution=resolution, channels=channels, width=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, channels, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    assert d(x).shape == (5,)


def test_dcgan_paper_widths_at_64():
    g = DCGANGenerator(resolution=64, channels=3, width=64)
    widths = [m.out_channels for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]  # Radford et al. 2016, Fig. 1
    d = DCGANDiscriminator(resolution=64, channels=3, width=64)
    assert [m.out_channels for m in d.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256, 512, 1]
    # BatchNorm on all D convs but the first
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == 3


def test_dcgan_init_std():
    g = DCGANGenerator(resolution=64, width=64)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002


@pytest.mark.parametrize("resolution", [8, 24, 28, 48])
def test_dcgan_rejects_bad_resolution(resolution):
    with pytest.raises(ValueError, match=f"generator.resolution={resolution}: DCGAN needs a power of two"):
        DCGANGenerator(resolution=resolution)
    with pytest.raises(ValueError, match="discriminator.resolution"):
        DCGANDiscriminator(resolution=resolution)


@pytest.mark.parametrize("resolution", [28, 32])
def test_mlp_seed_design(resolution):
    g, d = MLPGenerator(resolution=resolution), MLPDiscriminator(resolution=resolution)
    linears = [m.out_features for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [128, 256, 512, 1024, resolution * resolution]
    assert [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 128, 1]
    x = g(torch.randn(3, 100))
    assert x.shape == (3, 1, resolution, resolution) and x.abs().max() <= 1
    assert d(x).shape == (3,)


def test_mlp_flat_output_unbounded():
    g = MLPGenerator(z_dim=2, resolution=None, channels=2, hidden=[8], out_activation="none")
    with torch.no_grad():
        g.net[-1].bias.fill_(5.0)
    assert g(torch.randn(4, 2)).shape == (4, 2)
    assert g(torch.randn(4, 2)).min() > 1  # no tanh squashing
    with pytest.raises(ValueError, match="out_activation"):
        MLPGenerator(out_activation="sigmoid")
