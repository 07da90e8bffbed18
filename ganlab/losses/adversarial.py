"""Adversarial losses on discriminator logits.

Each class has ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits, real_logits=None)``,
both returning a scalar mean over the batch. Log-probabilities go through softplus on logits
(log sigmoid(t) = -softplus(-t)), never sigmoid followed by log. A loss whose G half compares each
fake with a real sample sets ``pairs_real = True``: the module then passes D's logits of the G step's
real batch (the last D step's reals, augmented like the fakes) as ``real_logits``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


class AdversarialLoss:
    """Base class: the two halves of a GAN objective on logits [N] -> scalar."""

    # True: g_loss needs D's logits of a real batch paired with the fakes (the module computes them)
    pairs_real: bool = False
    # True: both halves are means of per-sample terms, so on K seed-ensemble members' stacked batches each
    # member's weights get exactly their own gradient (ganlab.ensemble.checks)
    batches_members: bool = False
    # True: the critic's values are meaningful only when D is kept Lipschitz (clipping, a gradient penalty or
    # spectral norm); ganlab.checks warns when nothing does
    needs_lipschitz: bool = False

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(AdversarialLoss):
    """Goodfellow et al. 2014, Eq. 1: D maximizes log D(x) + log(1 - D(G(z))); G minimizes log(1 - D(G(z))).

    Args:
        real_target: D's target for reals. Below 1 it is one-sided label smoothing (Salimans et al.
            2016, Sec. 3.4): the real term becomes BCE with target a, a softplus(-t) + (1 - a) softplus(t);
            fakes keep target 0 and G's loss is unchanged.
    """

    batches_members = True  # a mean of per-sample terms

    def __init__(self, real_target: float = 1.0) -> None:
        if not 0 < real_target <= 1:
            raise ValueError(f"loss.real_target={real_target}; valid: 0 < real_target <= 1 (e.g. 0.9)")
        self.real_target = float(real_target)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        a = self.real_target  # BCE of reals with target a: -a log D(x) - (1 - a) log(1 - D(x))
        real = a * F.softplus(-real_logits) + (1 - a) * F.softplus(real_logits)
        return real.mean() + F.softplus(fake_logits).mean()  # fakes: -log(1 - D(G(z))), target 0

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -F.softplus(fake_logits).mean()  # log(1 - D(G(z))): saturates when D rejects fakes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(real_target={self.real_target})"


class NonSaturating(Minimax):
    """Goodfellow et al. 2014, Sec. 3: G maximizes log D(G(z)) instead, for strong early gradients."""

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return F.softplus(-fake_logits).mean()  # -log D(G(z))


class LeastSquares(AdversarialLoss):
    """Mao et al. 2017 (LSGAN), Eq. 9 with a=0, b=1, c=1: squared distances of D's raw outputs to targets."""

    batches_members = True  # a mean of per-sample terms

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return 0.5 * ((fake_logits - 1) ** 2).mean()


class Hinge(AdversarialLoss):
    """Lim & Ye 2017; Miyato et al. 2018: D gets max(0, 1 - D(x)) + max(0, 1 + D(G(z))), G gets -D(G(z))."""

    batches_members = True  # a mean of per-sample terms

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.mean()


class Wasserstein(AdversarialLoss):
    """Arjovsky et al. 2017: the critic estimates E[f(x)] - E[f(G(z))]; needs a Lipschitz constraint
    (weight clipping or a gradient penalty, see ganlab.losses.regularizers)."""

    batches_members = True  # a mean of per-sample terms
    needs_lipschitz = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.mean()


class RpGAN(AdversarialLoss):
    """Relativistic pairing GAN (Jolicoeur-Martineau 2019), the loss of R3GAN (Huang et al. 2024, Eq. 2):
    D minimizes softplus(-(D(x) - D(G(z)))), G minimizes softplus(-(D(G(z)) - D(x))), both on pairs.

    The i-th real is paired with the i-th fake (logits [N] each, the same N): D's loss is
    -log sigmoid(D(x_i) - D(G(z_i))) averaged over i, G's the same with the roles swapped. G's loss
    needs D's logits of a real batch: the module computes them in the G step (``pairs_real``), without
    a gradient (the reals do not depend on G). R3GAN adds R1 and R2 to D's loss: ``loss=r3gan``.
    """

    batches_members = True  # a mean of per-sample terms

    pairs_real = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        _check_pairs(real_logits, fake_logits)
        return F.softplus(fake_logits - real_logits).mean()  # softplus(-(D(x) - D(G(z))))

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("loss=rpgan: G's loss needs D's logits of a real batch paired with the fakes "
                             "(real_logits); the GANModule passes them, a caller of g_loss must too")
        _check_pairs(real_logits, fake_logits)
        return F.softplus(real_logits - fake_logits).mean()  # softplus(-(D(G(z)) - D(x)))


def _check_pairs(real_logits: Tensor, fake_logits: Tensor) -> None:
    """One-line error when real and fake logits cannot be paired elementwise."""
    if real_logits.shape != fake_logits.shape:
        raise ValueError(f"loss=rpgan pairs each real with one fake: real logits {tuple(real_logits.shape)} "
                         f"and fake logits {tuple(fake_logits.shape)} must have the same shape")
