"""Discriminator regularizers: penalties added to the D loss, and constraints applied after a D step.

A penalty is called as ``reg(discriminator, real, fake) -> scalar`` and carries ``weight`` and
``every`` (lazy regularization: applied every k-th D step, scaled by k as in StyleGAN2);
the module multiplies by the weight and logs it as ``train/<name>``. A constraint instead has
``after_d_step(discriminator)``, called after each D optimizer step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Regularizer:
    """Base class: a penalty on D, with weight and interval (the module applies both)."""

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"regularizer every={every}; valid: an integer >= 1")
        self.weight, self.every = float(weight), int(every)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
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

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)  # [N, 1, 1, 1]
        x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x_hat).sum(), x_hat, create_graph=True)
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
