"""LeCam regularization (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under Limited Data").

D's logits are pulled towards moving averages of its own past verdicts on the other kind of sample:
real logits towards the average fake logit, fake logits towards the average real logit. The paper
shows this bounds the LeCam divergence the GAN then minimizes and keeps D from over-fitting a small
training set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.losses.regularizers import DiscriminatorOutputs, Regularizer


class LeCam(Regularizer):
    """Tseng et al. 2021, Eq. 3: R_LC = E_x[(D(x) - alpha_F)^2] + E_z[(D(G(z)) - alpha_R)^2].

    alpha_R and alpha_F are exponential moving averages (``decay`` 0.99) of D's mean logit on the reals
    and on the fakes of each D step. Each call first folds this step's two means into the averages, then
    returns the penalty with the averages held constant (no gradient through them), as the authors'
    code does. The averages are bias-corrected like Adam's moments (the authors' StyleGAN2 code: a
    zero-initialised average with ``zero_debias``): after t updates alpha = s_t / (1 - decay^t) with
    s_t = decay s_{t-1} + (1 - decay) mean_t, so the first update sets alpha to that step's mean.

    The averages are checkpoint state (``state_dict``): a resumed run continues them.

    Args:
        weight: lambda (0.3 in the authors' BigGAN CIFAR scripts; the scale of D's logits decides it).
        every: apply every k-th D step (the averages then move only on those steps).
        decay: of the moving averages, in [0, 1).
        one_sided: False: the paper's Eq. 3. True: the form of the authors' released code,
            relu(D(x) - alpha_F)^2 + relu(alpha_R - D(G(z)))^2 (only real logits above the fake average
            and fake logits below the real average are penalised).
    """

    accumulates = False  # running means of D's outputs, updated per call: micro-batches would change them

    def __init__(self, weight: float = 0.3, every: int = 1, decay: float = 0.99, one_sided: bool = False) -> None:
        super().__init__(weight, every)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"regularizers.lecam.decay={decay}; valid: a number in [0, 1) (0.99 in the paper)")
        self.decay, self.one_sided = float(decay), bool(one_sided)
        self.updates = 0  # moving-average updates so far
        # biased sums s_t of the real and fake mean logits, 0-dim tensors on D's device (no sync per step)
        self._sum_real: Tensor | None = None
        self._sum_fake: Tensor | None = None

    @property
    def alpha_real(self) -> Tensor | None:
        """alpha_R: the bias-corrected moving average of D's mean logit on reals (None before any update)."""
        return None if self._sum_real is None else self._sum_real / (1 - self.decay**self.updates)

    @property
    def alpha_fake(self) -> Tensor | None:
        """alpha_F: the bias-corrected moving average of D's mean logit on fakes (None before any update)."""
        return None if self._sum_fake is None else self._sum_fake / (1 - self.decay**self.updates)

    def update(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """Fold one step's mean real and fake logits (detached) into the averages."""
        real_mean, fake_mean = real_logits.detach().float().mean(), fake_logits.detach().float().mean()
        if self._sum_real is None or self._sum_fake is None:
            self._sum_real, self._sum_fake = torch.zeros_like(real_mean), torch.zeros_like(fake_mean)
        d = self.decay
        self._sum_real = d * self._sum_real.to(real_mean.device) + (1 - d) * real_mean
        self._sum_fake = d * self._sum_fake.to(fake_mean.device) + (1 - d) * fake_mean
        self.updates += 1

    def penalty(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """R_LC for logits [N] (with graph to D) against the current averages (constants)."""
        alpha_real, alpha_fake = self.alpha_real, self.alpha_fake
        if alpha_real is None or alpha_fake is None:
            raise ValueError("regularizers.lecam: no moving average yet; call update() first")
        real_gap, fake_gap = real_logits - alpha_fake, alpha_real - fake_logits  # [N] each
        if self.one_sided:
            real_gap, fake_gap = F.relu(real_gap), F.relu(fake_gap)
        return real_gap.pow(2).mean() + fake_gap.pow(2).mean()

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        """The penalty (scalar) on this D step's logits; ``out`` carries them (else D is run on real, fake)."""
        if out is not None:
            real_logits, fake_logits = out.real_logits, out.fake_logits
        else:
            real_logits, fake_logits = discriminator(real, y_real), discriminator(fake.detach(), y_fake)
        self.update(real_logits, fake_logits)
        return self.penalty(real_logits, fake_logits)

    def state_dict(self) -> dict:
        if self._sum_real is None or self._sum_fake is None:
            return {}
        return {"updates": self.updates, "sum_real": self._sum_real.detach().cpu(),
                "sum_fake": self._sum_fake.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self._sum_real = torch.as_tensor(state["sum_real"], dtype=torch.float32)
        self._sum_fake = torch.as_tensor(state["sum_fake"], dtype=torch.float32)

    def __repr__(self) -> str:
        return (f"LeCam(weight={self.weight}, every={self.every}, decay={self.decay}, "
                f"one_sided={self.one_sided})")
