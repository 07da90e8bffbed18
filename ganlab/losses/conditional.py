"""ACGAN (Odena et al. 2017): an auxiliary classifier on D's features, trained on real and fake labels.

The paper's objective has two parts: L_S (real vs fake, the adversarial loss) and
L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]. D maximizes L_S + L_C, G maximizes
L_C - L_S: D's penalty here is -L_C (cross-entropy on reals and fakes), G's term is the
cross-entropy of its own samples' labels. Both need a discriminator with ``classify(h) -> [N, K]``
(``discriminator.conditioning=acgan``) and labels from a conditional dataset.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.losses.regularizers import DiscriminatorOutputs, GeneratorTerm, Regularizer


def _class_logits(discriminator: nn.Module, h: Tensor | None, x: Tensor, y: Tensor | None, who: str) -> Tensor:
    """classify(features) [N, K], computing D's features of x when the step did not pass them."""
    if y is None:
        raise ValueError(f"{who} needs class labels: a conditional dataset and discriminator.num_classes > 0")
    if not callable(getattr(discriminator, "classify", None)):
        raise ValueError(f"{who} needs a discriminator with classify(h) (discriminator.conditioning=acgan); "
                         f"got {type(discriminator).__name__}")
    return discriminator.classify(discriminator.features(x, y) if h is None else h)


class AuxiliaryClassifierD(Regularizer):
    """Odena et al. 2017 (ACGAN), Sec. 3: D's -L_C = CE(classify(f(x)), y_real) + CE(classify(f(G(z))), y_fake)."""

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        h_real, h_fake = (out.real_features, out.fake_features) if out is not None else (None, None)
        real_logits = _class_logits(discriminator, h_real, real, y_real, "regularizers.acgan")  # [N, K]
        fake_logits = _class_logits(discriminator, h_fake, fake.detach(), y_fake, "regularizers.acgan")
        return F.cross_entropy(real_logits, y_real) + F.cross_entropy(fake_logits, y_fake)


class AuxiliaryClassifierG(GeneratorTerm):
    """Odena et al. 2017 (ACGAN), Sec. 3: G's part of -L_C, CE(classify(f(G(z))), y_fake)."""

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, generator: nn.Module | None = None,
                 y_real: Tensor | None = None, y_fake: Tensor | None = None,
                 fake_features: Tensor | None = None) -> Tensor:
        return F.cross_entropy(_class_logits(discriminator, fake_features, fake, y_fake, "g_terms.acgan"), y_fake)
