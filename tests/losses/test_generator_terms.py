"""G-side terms against hand-computed values on discriminators with known linear features."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from ganlab.losses import FeatureMatching, HistoricalAveragingG
from ganlab.nets.base import Discriminator


class LinearFeatures(Discriminator):
    """f(x) = x W^T with W = diag(1, 2); head = sum of features."""

    feature_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))

    def features(self, x, y=None):
        return x @ self.w.T

    def head(self, h, y=None):
        return h.sum(1)


REAL = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # f: [1, 4], [3, 8] -> mean [2, 6]
FAKE = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # f: [0, 0], [2, 4] -> mean [1, 2]


def test_feature_matching_value_and_gradients():
    d = LinearFeatures()
    real = REAL.clone().requires_grad_(True)
    g = nn.Parameter(torch.tensor(1.0))  # a one-parameter "generator": fake = g * FAKE
    fake = g * FAKE
    term = FeatureMatching()
    loss = term(d, real, fake, fake_features=d.features(fake))
    assert loss.item() == pytest.approx((2 - 1) ** 2 + (6 - 2) ** 2)  # ||[1, 4]||^2 = 17
    loss.backward()
    # d/dg ||m_r - g m_f||^2 = -2 m_f.(m_r - g m_f) = -2 ([1, 2].[1, 4]) = -18
    assert g.grad.item() == pytest.approx(-18.0)
    assert real.grad is None  # the real branch is a constant target
    # D's weights get gradient only through the fake branch: dL/dW = -2 (m_r - m_f) mean(fake)^T
    assert d.w.grad.tolist() == [[-2.0, -2.0], [-8.0, -8.0]]
    assert term.replaces_adversarial


def test_feature_matching_computes_fake_features_when_not_given():
    d = LinearFeatures()
    assert FeatureMatching()(d, REAL, FAKE).item() == pytest.approx(17.0)
    with pytest.raises(ValueError, match="g_terms.feature_matching needs a discriminator with features"):
        FeatureMatching()(nn.Linear(2, 1), REAL, FAKE)


def test_historical_averaging_g():
    g = nn.Linear(1, 2)
    term = HistoricalAveragingG(weight=2.0)
    x = torch.zeros(1, 1)
    assert term(None, x, x, generator=g).item() == 0.0  # no history yet
    for w, b in [([1.0, -1.0], [0.0, 0.0]), ([3.0, 1.0], [2.0, 0.0])]:  # theta_1, theta_2
        with torch.no_grad():
            g.weight.copy_(torch.tensor(w).view(2, 1))
            g.bias.copy_(torch.tensor(b))
        term.after_g_step(g)
    with torch.no_grad():  # theta = 0; mean = weight [2, 0], bias [1, 0]
        g.weight.zero_()
        g.bias.zero_()
    assert term(None, x, x, generator=g).item() == pytest.approx(4.0 + 1.0)
    with pytest.raises(ValueError, match="g_terms.historical_averaging needs the generator"):
        term(None, x, x)


@pytest.mark.parametrize(("name", "cls"), [("feature_matching", FeatureMatching),
                                           ("historical_averaging", HistoricalAveragingG)])
def test_g_term_yaml_composes(compose_cfg, name, cls):
    term = instantiate(compose_cfg(f"+g_terms={name}").g_terms[name])
    assert type(term) is cls and term.weight == 1.0
    assert term.replaces_adversarial == (name == "feature_matching")
