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
    """Base class: a penalty on D, with weight and interval (the module applies both).

    ``accumulates``: the penalty is a mean of per-sample terms (or does not depend on the batch), so gradient
    accumulation (``optim.accumulate``) can split it into micro-batches exactly. A penalty that draws random
    numbers also has ``draw(real, fake) -> Tensor [N, ...]`` and takes them back as ``drawn=`` (one chunk per
    micro-batch), so they are drawn once for the whole batch.
    """

    accumulates: bool = True

    # capabilities read by ganlab.checks' combination rules (docs/bad-input.md)
    input_gradients: bool = False  # penalizes per-sample gradients of D w.r.t. its inputs (BatchNorm mixes them)
    lipschitz: bool = False  # keeps D (near) 1-Lipschitz, as a Wasserstein critic needs

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

    def state_dict(self) -> dict:
        """State that must survive a resume (e.g. historical averaging's running mean); {} if none."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight}, every={self.every})"


class GradientPenalty(Regularizer):
    """Gulrajani et al. 2017 (WGAN-GP), Eq. 3: E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = e x + (1 - e) G(z)."""

    input_gradients = lipschitz = True

    def __init__(self, weight: float = 10.0, every: int = 1, target: float = 1.0) -> None:
        super().__init__(weight, every)
        self.target = target

    def draw(self, real: Tensor, fake: Tensor) -> Tensor:
        """The interpolation weights e [N, 1, 1, 1], one per sample."""
        return torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None,
                 drawn: Tensor | None = None) -> Tensor:
        eps = self.draw(real, fake) if drawn is None else drawn  # [N, 1, 1, 1]
        x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        # conditional critics see the real labels at the interpolates
        (grad,) = torch.autograd.grad(discriminator(x_hat, y_real).sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - self.target) ** 2).mean()


class WeightClip(Regularizer):
    """Arjovsky et al. 2017 (WGAN), Algorithm 1: clip every D parameter to [-c, c] after each D step."""

    batches_members = True  # elementwise on the weights (ganlab.ensemble.checks)
    lipschitz = True

    def __init__(self, clip: float = 0.01) -> None:
        super().__init__(weight=0.0, every=1)
        self.clip = clip

    def after_d_step(self, discriminator: nn.Module) -> None:
        with torch.no_grad():
            for p in discriminator.parameters():
                p.clamp_(-self.clip, self.clip)

    def __repr__(self) -> str:
        return f"WeightClip(clip={self.clip})"


def _input_grads(discriminator: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """grad_x D(x, y) per sample, flattened [N, D], kept differentiable (create_graph) for D's update."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x, y).sum(), x, create_graph=True)
    return grad.flatten(1)


class DRAGAN(Regularizer):
    """Kodali et al. 2017 (DRAGAN), Sec. 4: E[(||grad_x D(x_hat)||_2 - 1)^2] at points x_hat near the reals.

    The perturbation follows the authors' released code (kodalinaveen3/DRAGAN), not the paper's
    N(0, cI): x_p = x + c * std(x) * u with u ~ U[0, 1) per element and std(x) one scalar over the
    whole batch (population std); then x_hat = x + a (x_p - x) with a ~ U[0, 1) per sample. So
    0 <= x_hat - x < c * std(x) elementwise. Defaults c = 0.5, lambda = 10 as in that code.
    """

    input_gradients = lipschitz = True

    def __init__(self, weight: float = 10.0, every: int = 1, scale: float = 0.5, target: float = 1.0) -> None:
        super().__init__(weight, every)
        if scale <= 0:
            raise ValueError(f"regularizers.dragan.scale={scale}; valid: a float > 0")
        self.scale, self.target = float(scale), float(target)

    def perturb(self, real: Tensor) -> Tensor:
        """x_hat [N, ...]: a random point between x and x + c * std(x) * U[0, 1)."""
        x = real.detach()
        x_p = x + self.scale * x.std(correction=0) * torch.rand_like(x)
        a = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)  # [N, 1, 1, 1]
        return x + a * (x_p - x)

    def draw(self, real: Tensor, fake: Tensor) -> Tensor:
        """The perturbed points x_hat [N, ...] (std(x) taken over the whole batch)."""
        return self.perturb(real)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None,
                 drawn: Tensor | None = None) -> Tensor:
        grad = _input_grads(discriminator, self.perturb(real) if drawn is None else drawn, y_real)  # [N, D]
        return ((grad.norm(2, dim=1) - self.target) ** 2).mean()

    def __repr__(self) -> str:
        return f"DRAGAN(weight={self.weight}, every={self.every}, scale={self.scale})"


class R1(Regularizer):
    """Mescheder et al. 2018, Eq. 9: R1 = (gamma / 2) E_x[||grad_x D(x)||^2] on real data.

    Returns E||grad_x D(x)||^2; ``weight`` is gamma / 2, so the module adds exactly R1. (The
    authors' code, LMescheder/GAN_stability, multiplies E||grad||^2 by ``reg_param`` directly, so
    its reg_param is gamma / 2 here.) Lazy regularization as in StyleGAN2 (Karras et al. 2020,
    Sec. 3.1): ``every=16`` applies it every 16th D step with the weight scaled by 16.
    """

    batches_members = True  # a mean of per-sample terms, no random draws (ganlab.ensemble.checks)
    input_gradients = True

    def __init__(self, gamma: float = 10.0, every: int = 1) -> None:
        super().__init__(weight=gamma / 2, every=every)
        self.gamma = float(gamma)

    # derived from gamma when the module reads it, so a schedule of gamma (ganlab.schedules) moves the weight
    @property
    def weight(self) -> float:
        return self.gamma / 2

    @weight.setter
    def weight(self, value: float) -> None:
        self.gamma = 2 * float(value)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        return _input_grads(discriminator, real, y_real).pow(2).sum(1).mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gamma={self.gamma}, every={self.every})"


class R2(R1):
    """Mescheder et al. 2018, Eq. 10: R2 = (gamma / 2) E_z[||grad_x D(G(z))||^2] on generated data."""

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        return _input_grads(discriminator, fake, y_fake).pow(2).sum(1).mean()


class ParameterAverage:
    """Running mean (1/t) sum_i theta_i of a module's parameters after each of t steps, kept on their device."""

    def __init__(self) -> None:
        self.steps = 0
        self.mean: dict[str, Tensor] = {}

    def update(self, module: nn.Module) -> None:
        self.steps += 1
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name not in self.mean:
                    self.mean[name] = p.detach().clone()
                else:
                    m = self.mean[name] = self.mean[name].to(p.device)
                    m.add_(p.detach() - m, alpha=1 / self.steps)  # incremental mean

    def state_dict(self) -> dict:
        return {"steps": self.steps, "mean": dict(self.mean)}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.mean = int(state["steps"]), dict(state["mean"])

    def distance(self, module: nn.Module) -> Tensor:
        """||theta - mean||^2 summed over all parameters (with graph to theta); 0 before the first update."""
        total: Tensor | float = 0.0
        for name, p in module.named_parameters():
            ref = self.mean[name].to(p.device) if self.steps else p.detach()  # no history yet: 0, still a graph
            total = total + ((p - ref) ** 2).sum()
        return torch.as_tensor(total)


class HistoricalAveraging(Regularizer):
    """Salimans et al. 2016, Sec. 3.3: ||theta_D - (1/t) sum_i theta_D[i]||^2, the running mean of D's
    parameters after each past D step (updated in ``after_d_step``); 0 before the first step."""

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight, every)
        self.average = ParameterAverage()

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, y_real: Tensor | None = None,
                 y_fake: Tensor | None = None, out: DiscriminatorOutputs | None = None) -> Tensor:
        return self.average.distance(discriminator)

    def after_d_step(self, discriminator: nn.Module) -> None:
        self.average.update(discriminator)

    def state_dict(self) -> dict:
        return self.average.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state)


class GeneratorTerm:
    """Base class: a term of G's objective computed in each G step, with a weight (``accumulates``: as for
    ``Regularizer``, a mean of per-sample terms or independent of the batch).

    Called as ``term(discriminator, real, fake, generator=, y_real=, y_fake=, fake_features=)``:
    ``fake`` [N, ...] carries G's graph, ``real`` is the step's (augmented) real batch,
    ``fake_features`` D's features of ``fake`` (with graph) when D has them. ``replaces_adversarial=True`` drops
    the adversarial G loss (feature matching as in Salimans et al. 2016).
    """

    replaces_adversarial: bool = False
    accumulates: bool = True

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, *, generator: nn.Module | None = None,
                 y_real: Tensor | None = None, y_fake: Tensor | None = None,
                 fake_features: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def after_g_step(self, generator: nn.Module) -> None:
        """Hook called after each G optimizer step (e.g. historical averaging's running mean)."""

    def state_dict(self) -> dict:
        """State that must survive a resume; {} if none."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"
