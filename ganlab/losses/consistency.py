"""Consistency regularization of D: its logits should not change under a semantics-preserving augmentation."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from ganlab.augment import DiffAugment
from ganlab.losses.regularizers import DiscriminatorOutputs, Regularizer


class BalancedConsistency(Regularizer):
    """Zhao et al. 2021 (Improved Consistency Regularization for GANs), bCR: consistency on real and fake.

    penalty = lambda_real * mean_n (D(x) - D(T(x)))^2 + lambda_fake * mean_n (D(G(z)) - D(T(G(z))))^2

    T defaults to the paper's CIFAR-10 choice: a random left-right flip and a random translation of up to
    1/8 of the size (4 px at 32x32), zero fill. Fakes are detached: bCR trains D only. T is called as
    ``T(x)`` (step 0), so any ``ganlab.augment`` object fits, e.g. ``InstanceNoise`` for flat data.
    """

    accumulates = False  # its own augmentation draws per call: micro-batches would change it (ganlab.accumulate)

    def __init__(self, lambda_real: float = 10.0, lambda_fake: float = 10.0,
                 augment: Callable[..., Tensor] | None = None, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight, every)
        for key, value in (("lambda_real", lambda_real), ("lambda_fake", lambda_fake)):
            if value < 0:
                raise ValueError(f"regularizers.bcr.{key}={value}; valid: a number >= 0")
        self.lambda_real, self.lambda_fake = float(lambda_real), float(lambda_fake)
        self.augment = augment if augment is not None else DiffAugment("flip,translation", translation_ratio=0.125)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        """The bCR penalty (scalar). real, fake [N, ...] are D's inputs of this step; out their logits [N]."""
        real_logits, fake_logits = (None, None) if out is None else (out.real_logits, out.fake_logits)
        penalty = real.new_zeros(())
        if self.lambda_real:
            penalty = penalty + self.lambda_real * self._term(discriminator, real, y_real, real_logits)
        if self.lambda_fake:
            # detach: bCR trains D only, the penalty must not reach G
            penalty = penalty + self.lambda_fake * self._term(discriminator, fake.detach(), y_fake, fake_logits)
        return penalty

    def _term(self, discriminator: nn.Module, x: Tensor, y: Tensor | None, logits: Tensor | None) -> Tensor:
        """mean_n (D(x) - D(T(x)))^2; logits [N] = D(x) when the D step already computed it."""
        if logits is None:
            logits = discriminator(x, y)
        # a conditional D sees each sample's own label on the augmented copy too
        return (logits - discriminator(self.augment(x), y)).pow(2).mean()

    def __repr__(self) -> str:
        return (f"BalancedConsistency(lambda_real={self.lambda_real}, lambda_fake={self.lambda_fake}, "
                f"augment={self.augment!r}, weight={self.weight}, every={self.every})")
