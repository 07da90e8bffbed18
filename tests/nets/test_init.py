"""Selectable weight initialisation (generator.init / discriminator.init) on the MLP networks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlab.nets.base import init_weights
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("gain", [1.0, 1.4])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain_and_biases_zero(gain):
    torch.manual_seed(0)
    g = MLPGenerator(z_dim=256, resolution=None, channels=2, hidden=[128, 128], activation="tanh",
                     out_activation="none", init="orthogonal", init_gain=gain)
    d = MLPDiscriminator(resolution=None, channels=2, hidden=[128, 128], activation="tanh",
                         init="orthogonal", init_gain=gain)
    layers = _linears(g) + _linears(d)
    assert len(layers) == 6  # G: 256->128->128->2; D: 2->128->128, head 128->1
    for layer in layers:
        w = layer.weight.detach()
        small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w  # the smaller Gram matrix is gain^2 I
        torch.testing.assert_close(small, gain**2 * torch.eye(small.shape[0]), atol=1e-5, rtol=0)
        assert torch.count_nonzero(layer.bias) == 0


def test_xavier_and_normal_have_their_scales():
    torch.manual_seed(0)
    layer = nn.Linear(400, 300)
    init_weights(layer, "xavier", gain=2.0)
    bound = 2.0 * math.sqrt(6 / (400 + 300))
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.95 * bound
    init_weights(layer, "normal", gain=1.0)
    assert abs(layer.weight.std().item() - 0.02) < 0.001 and torch.count_nonzero(layer.bias) == 0


def test_default_keeps_torchs_initialisation():
    torch.manual_seed(5)
    a = MLPDiscriminator(resolution=None, channels=2, hidden=[16])
    torch.manual_seed(5)
    b = MLPDiscriminator(resolution=None, channels=2, hidden=[16], init="default")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert torch.count_nonzero(a.net[1].bias) > 0  # torch's biases are uniform, not 0


def test_unknown_scheme_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"^generator.init='he'; valid: default, orthogonal, xavier, normal$"):
        MLPGenerator(resolution=None, channels=2, hidden=[8], init="he")
