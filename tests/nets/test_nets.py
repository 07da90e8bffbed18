"""Every network family: shapes and ranges per resolution, features/head split, class conditioning, spectral norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator
from ganlab.nets.resnet import ResNetDiscriminator, ResNetGenerator


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
    assert [m.out_channels for m in d.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256, 512]
    assert d.feature_dim == 512 * 4 * 4 and d.out.linear.in_features == 512 * 4 * 4  # the paper's 4x4 conv
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


def test_dcgan_head_is_the_papers_last_conv():
    torch.manual_seed(0)
    d = DCGANDiscriminator(resolution=16, channels=1, width=8).eval()
    assert abs(d.out.linear.weight.std().item() - 0.02) < 0.003  # N(0, 0.02) like every DCGAN layer
    conv = nn.Conv2d(16, 1, 4)  # the old last layer: 4x4 valid conv on [N, 16, 4, 4] -> one logit
    with torch.no_grad():
        conv.weight.copy_(d.out.linear.weight.view(1, 16, 4, 4))
        conv.bias.copy_(d.out.linear.bias)
    x = torch.randn(4, 1, 16, 16)
    torch.testing.assert_close(d(x), conv(d.net(x)).flatten())


def _discriminators(**kw) -> list:
    """One small D of each family (MLP at 8x8, DCGAN and ResNet at 16x16), single channel."""
    return [MLPDiscriminator(resolution=8, channels=1, hidden=[16, 8], **kw),
            DCGANDiscriminator(resolution=16, channels=1, width=4, **kw),
            ResNetDiscriminator(resolution=16, channels=1, width=8, **kw)]


@pytest.mark.parametrize("family", [0, 1, 2], ids=["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_head_of_features_is_forward(family, spectral_norm):
    torch.manual_seed(0)
    d = _discriminators(spectral_norm=spectral_norm)[family].eval()
    res = 8 if family == 0 else 16
    x = torch.rand(5, 1, res, res) * 2 - 1
    h = d.features(x)
    assert h.shape == (5, d.feature_dim) and d.num_classes == 0
    assert torch.equal(d.head(h), d(x)) and d(x).shape == (5,)


@pytest.mark.parametrize("family", [0, 1, 2], ids=["mlp", "dcgan", "resnet"])
def test_projection_discriminator(family):
    """Miyato & Koyama 2018, Eq. 3: logit = w.h + b + <embed(y), h>."""
    torch.manual_seed(0)
    d = _discriminators(num_classes=4)[family].eval()
    res = 8 if family == 0 else 16
    x = torch.rand(6, 1, res, res) * 2 - 1
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    h = d.features(x, y)
    logits = d(x, y)
    unconditional = d.out.linear(h).squeeze(1)  # w.h + b
    torch.testing.assert_close(logits - unconditional, (d.out.embed.weight[y] * h).sum(1))
    assert (d(x, (y + 1) % 4) - logits).abs().min() > 0  # every sample's logit depends on its label
    with pytest.raises(ValueError, match="needs labels y"):
        d(x)


@pytest.mark.parametrize("family", [0, 1, 2], ids=["mlp", "dcgan", "resnet"])
def test_acgan_head_and_bad_conditioning(family):
    d = _discriminators(num_classes=7, conditioning="acgan")[family].eval()
    res = 8 if family == 0 else 16
    x = torch.rand(3, 1, res, res)
    h = d.features(x)
    assert d.classify(h).shape == (3, 7) and d.head(h).shape == (3,)
    with pytest.raises(ValueError, match="discriminator.conditioning='projetcion'; valid: projection, acgan"):
        _discriminators(num_classes=7, conditioning="projetcion")
    with pytest.raises(ValueError, match="classify"):
        _discriminators()[family].classify(h)


@pytest.mark.parametrize("make", [
    lambda **kw: MLPGenerator(z_dim=8, resolution=8, channels=1, hidden=[16], **kw),
    lambda **kw: DCGANGenerator(z_dim=8, resolution=16, channels=1, width=4, **kw),
], ids=["mlp", "dcgan"])
def test_label_embedding_generators(make):
    torch.manual_seed(0)
    g = make(num_classes=3, embed_dim=5).eval()
    first = next(m for m in g.net.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d)))
    assert first.weight.shape[1 if isinstance(first, nn.Linear) else 0] == 8 + 5  # [z, embed(y)]
    z = torch.randn(1, 8).repeat(2, 1)
    x = g(z, torch.tensor([0, 2]))
    assert (x[0] - x[1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="generator.num_classes=3"):
        g(z)
    # unconditional: y is ignored and the layers are the old ones
    plain = make()
    assert plain.num_classes == 0 and not any(isinstance(m, nn.Embedding) for m in plain.modules())
    torch.testing.assert_close(plain.eval()(z), plain(z, torch.tensor([0, 1])))


def _normalized_weights(module: nn.Module) -> list[torch.Tensor]:
    """Every spectrally normalized weight as the matrix SN normalizes: [out, in * k * k]."""
    out = []
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            w = m.weight.detach()
            out.append((w.transpose(0, 1) if isinstance(m, nn.ConvTranspose2d) else w).flatten(1))
    return out


@pytest.mark.parametrize(("make", "shape"), [
    (lambda: MLPDiscriminator(resolution=8, channels=1, hidden=[32, 16], num_classes=3, spectral_norm=True),
     (1, 8, 8)),
    (lambda: DCGANDiscriminator(resolution=16, channels=1, width=8, batchnorm=False, num_classes=3,
                                spectral_norm=True), (1, 16, 16)),
    (lambda: ResNetDiscriminator(resolution=16, channels=1, width=8, num_classes=3), (1, 16, 16)),  # SN by default
    (lambda: MLPGenerator(z_dim=8, resolution=8, channels=1, hidden=[32], num_classes=3, spectral_norm=True), (8,)),
    (lambda: DCGANGenerator(z_dim=8, resolution=16, channels=1, width=8, num_classes=3, spectral_norm=True), (8,)),
    (lambda: ResNetGenerator(z_dim=8, resolution=16, channels=1, width=8, num_classes=3, attention=[8],
                             spectral_norm=True), (8,)),
], ids=["mlp-d", "dcgan-d", "resnet-d", "mlp-g", "dcgan-g", "resnet-g"])
def test_spectral_norm_gives_unit_largest_singular_value(make, shape):
    torch.manual_seed(0)
    net = make().train()
    is_d = hasattr(net, "features")
    layers = sum(isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())
    embeddings = sum(isinstance(m, nn.Embedding) for m in net.modules())
    # D: every layer and the projection embedding; G: every layer but the label embedding (cBN tables are no layer)
    assert len(_normalized_weights(net)) == layers + (embeddings if is_d else 0)
    y = torch.tensor([0, 1, 2, 0])
    for _ in range(8):  # one power iteration per forward in train mode
        net(torch.rand(4, *shape) * 2 - 1, y)
    sigmas = torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in _normalized_weights(net.eval())])
    assert (sigmas - 1).abs().max() < 0.05, sigmas


def test_unconditional_discriminators_match_the_old_single_sequential():
    """Same seed, same weights, same logits as before the features/head split (a Sequential ending in 1 logit)."""
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    torch.manual_seed(0)
    mlp = MLPDiscriminator(resolution=16, channels=1, hidden=[32, 16])
    torch.manual_seed(0)
    old_mlp = nn.Sequential(nn.Flatten(), nn.Linear(256, 32), nn.LeakyReLU(0.2), nn.Linear(32, 16), nn.LeakyReLU(0.2),
                            nn.Linear(16, 1))
    torch.testing.assert_close(mlp(x), old_mlp(x).squeeze(1))
    torch.manual_seed(0)
    dcgan = DCGANDiscriminator(resolution=16, channels=1, width=4).eval()
    torch.manual_seed(0)
    old_dcgan = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1, bias=False),
                              nn.BatchNorm2d(8), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 1, 0))
    old_dcgan.apply(dcgan_init)
    torch.testing.assert_close(dcgan(x), old_dcgan.eval()(x).flatten())
