"""Discriminator regularizers: penalties added to the D loss, and constraints applied after a D step.

A penalty is called as ``reg(discriminator, real, fake, y_real=, y_fake=, out=) -> scalar`` and
carries ``weight`` and ``every`` (lazy regularization: applied every k-th D step, scaled by k as
in StyleGAN2); the module multiplies by the weight and logs it as ``train/<name>``. ``real`` and
``fake`` are D's inputs of this step (after augmentation), ``out`` holds the logits and features
D produced from them. A constraint instead has ``after_d_step(discriminator)``, called after each
D optimizer step.

Generator-side terms (feature matching, ACGAN's classifier loss on fakes, ...) are
``GeneratorTerm``s, called in each G step and added to (or replacing) the adversarial G loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class DiscriminatorOutputs:
    """What one D step computed: logits [N] and features [N, F] (None for D without ``features``)."""

    real_logits: Tensor
    fake_logits: Tensor
    real_features: Tensor | None = None
    fake_features: Tensor | None = None


class Regularizer:
    """Base class: a penalty on D, with weight and interval (the module applies both)."""

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"regularizer every={every}; valid: an integer >= 1")
        self.weight, self.every = float(weight), int(every)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor | None:
        """The penalty (scalar), or None for pure constraints. y_*: labels [N] of conditional models."""
        return None

    def after_d_step(self, discriminator: nn.Module) -> None:
        """Hook for constraints (e.g. weight clipping); penalties leave it empty."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight}, every={self.every})"


class GradientPenalty(Regularizer):
    """Gulrajani et al. 2017 (WGAN-GP), Eq. 3: E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = e x + (1 - e) G(z)."""

    def __init__(self, weight: float = 10.0, every: int = 1, target: float = 1.0) -> None:
        super().__init__(weight, every)
        self.target = target

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)  # [N, 1, 1, 1]
        x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        # conditional critics see the real labels at the interpolates
        (grad,) = torch.autograd.grad(discriminator(x_hat, y_real).sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - self.target) ** 2).mean()


class WeightClip(Regularizer):
    """Arjovsky et al. 2017 (WGAN), Algorithm 1: clip every D parameter to [-c, c] after each D step."""

    def __init__(self, clip: float = 0.01) -> None:
        super().__init__(weight=0.0, every=1)
        self.clip = clip

    def after_d_step(self, discriminator: nn.Module) -> None:
        with torch.no_grad():
            for p in discriminator.parameters():
                p.clamp_(-self.clip, self.clip)

    def __repr__(self) -> str:
        return f"WeightClip(clip={self.clip})"


class GeneratorTerm:
    """Base class: a term of G's objective computed in each G step, with a weight.

    Called as ``term(discriminator, real, fake, generator=, y_real=, y_fake=, fake_features=)``:
    ``fake`` [N, ...] carries G's graph, ``real`` is the step's (augmented) real batch,
    ``fake_features`` D's features of ``fake`` (with graph) when D has them. ``replaces_adversarial=True`` drops
    the adversarial G loss (feature matching as in Salimans et al. 2016).
    """

    replaces_adversarial: bool = False

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, generator: nn.Module | None = None,
                 y_real: Tensor | None = None, y_fake: Tensor | None = None,
                 fake_features: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def after_g_step(self, generator: nn.Module) -> None:
        """Hook called after each G optimizer step (e.g. historical averaging's running mean)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"
