"""Generator-side terms: added to (or replacing) the adversarial G loss in each G step.

Each is a ``GeneratorTerm`` (see ganlab.losses.regularizers) called as
``term(discriminator, real, fake, generator=, y_real=, y_fake=, fake_features=) -> scalar``;
the module multiplies by ``weight``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.losses.regularizers import GeneratorTerm, ParameterAverage


def _features(discriminator: nn.Module, x: Tensor, y: Tensor | None, who: str) -> Tensor:
    """D's features [N, F] of x; a one-line error when D has no ``features``."""
    if not callable(getattr(discriminator, "features", None)):
        raise ValueError(f"{who} needs a discriminator with features(x, y) (a ganlab.nets.base.Discriminator); "
                         f"got {type(discriminator).__name__}")
    return discriminator.features(x, y)


class FeatureMatching(GeneratorTerm):
    """Salimans et al. 2016, Sec. 3.1: ||E_x f(x) - E_z f(G(z))||_2^2 with f = D's features [N, F].

    This is the paper's squared L2 norm (summed over features); the authors' released code
    (openai/improved-gan) uses mean(|m_real - m_fake|) over features instead. By default it
    replaces the adversarial G loss, as in the paper.
    """

    accumulates = False  # a squared distance of batch means: micro-batches would change it (ganlab.accumulate)

    def __init__(self, weight: float = 1.0, replaces_adversarial: bool = True) -> None:
        super().__init__(weight)
        self.replaces_adversarial = bool(replaces_adversarial)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, generator: nn.Module | None = None,
                 y_real: Tensor | None = None, y_fake: Tensor | None = None,
                 fake_features: Tensor | None = None) -> Tensor:
        if fake_features is None:
            fake_features = _features(discriminator, fake, y_fake, "g_terms.feature_matching")
        with torch.no_grad():  # the real branch is a fixed target: no graph through D on reals
            real_mean = _features(discriminator, real, y_real, "g_terms.feature_matching").mean(0)  # [F]
        return ((real_mean - fake_features.mean(0)) ** 2).sum()

    def __repr__(self) -> str:
        return f"FeatureMatching(weight={self.weight}, replaces_adversarial={self.replaces_adversarial})"


class HistoricalAveragingG(GeneratorTerm):
    """Salimans et al. 2016, Sec. 3.3, on G: ||theta_G - (1/t) sum_i theta_G[i]||^2, the running mean of
    G's parameters after each past G step (updated in ``after_g_step``); 0 before the first step."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.average = ParameterAverage()

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, generator: nn.Module | None = None,
                 y_real: Tensor | None = None, y_fake: Tensor | None = None,
                 fake_features: Tensor | None = None) -> Tensor:
        if generator is None:
            raise ValueError("g_terms.historical_averaging needs the generator: call it with generator=")
        return self.average.distance(generator)

    def after_g_step(self, generator: nn.Module) -> None:
        self.average.update(generator)

    def state_dict(self) -> dict:
        return self.average.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state)
