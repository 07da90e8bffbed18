"""Game strategies: the schedule of D and G updates inside one training step.

A strategy receives the module (G, D, the loss, the optimizers and the two update primitives
``GANModule.d_step`` / ``g_step``) and the step's real batches, and decides who steps when and on
which fakes. One training step is one game iteration whatever the schedule (see ganlab.steps).

A new scheme (extragradient, consensus optimization, lookahead, ...) is one class here (or in
any importable module) plus one yaml in ``conf/game/``: ``_target_`` names it, ``game=NAME`` picks it.

    play(module, reals: list[Tensor[N, ...]], labels: list[Tensor[N] | None], log_now) -> stats dict
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ganlab.unrolled import check_optimizer, unrolled_parameters

if TYPE_CHECKING:
    from ganlab.module import GANModule

Stats = dict[str, Tensor]


class Unroll:
    """Unrolled GAN (Metz et al. 2017): G's loss is taken against D after ``steps`` look-ahead updates.

    A transform of G's objective, usable with any schedule: ``g_logits`` replaces D's logits of the
    fakes in the G step. As in Metz et al.'s code, every look-ahead step descends D's loss on this
    step's real batch and these same fakes, so G's gradient reaches the fakes through each update.

    Args:
        steps: look-ahead D updates (>= 1).
        second_order: differentiate through the look-ahead updates (false: first-order approximation).
    """

    def __init__(self, steps: int = 5, second_order: bool = True) -> None:
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"game.unroll.steps={steps}; valid: an integer >= 1 (game=alternating for no unrolling)")
        self.steps, self.second_order = steps, second_order

    def check(self, d_optimizer) -> None:
        """One-line error before training when the look-ahead cannot replay D's optimizer."""
        check_optimizer(d_optimizer([nn.Parameter(torch.zeros(1))]))  # a probe on one dummy weight

    def __call__(self, module: GANModule, fake: Tensor, y_fake: Tensor | None, real: Tensor,
                 y_real: Tensor | None) -> Tensor:
        """D's logits [N] of ``fake`` after the look-ahead (D itself is not changed)."""
        lookahead_fake = fake if self.second_order else fake.detach()
        batches = [(real, y_real, lookahead_fake, y_fake)] * self.steps
        return unrolled_parameters(module.discriminator, module.loss, module.optimizers()[1], batches,
                                   create_graph=self.second_order)(fake, y_fake)


class Game:
    """Base of the step schedules.

    Args:
        n_critic: D updates per training step; the data layer serves this many real batches per step.
        n_gen: G updates per training step.
        unroll: an ``Unroll`` transform of G's objective, or None.
        fake_labels: labels of a conditional G's fakes: "random" (uniform classes, drawn per update) or
            "real" (the labels of the real batch the fakes meet: each fake has its paired real's class,
            as in R3GAN's conditional training, Huang et al. 2024). Unconditional runs ignore it.
    """

    FAKE_LABELS = ("random", "real")

    def __init__(self, n_critic: int = 1, n_gen: int = 1, unroll: Unroll | None = None,
                 fake_labels: str = "random") -> None:
        for key, value in (("optim.n_critic", n_critic), ("optim.n_gen", n_gen)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value}; valid: an integer >= 1")
        if fake_labels not in self.FAKE_LABELS:
            raise ValueError(f"game.fake_labels={fake_labels!r}; valid: {', '.join(self.FAKE_LABELS)}")
        self.n_critic, self.n_gen, self.unroll, self.fake_labels = n_critic, n_gen, unroll, fake_labels

    def check(self, module: GANModule) -> None:
        """Refuse, when the module is built, a combination this schedule cannot play."""
        if self.unroll is not None:
            self.unroll.check(module.d_optimizer)
            if getattr(module.loss, "pairs_real", False):
                raise ValueError(f"game.unroll with {type(module.loss).__name__}: G's loss pairs each fake with "
                                 "D's logit of a real, which the look-ahead D does not compute; use "
                                 "game=alternating or game=simultaneous")

    def fake_y(self, module: GANModule, n: int, y_real: Tensor | None) -> Tensor | None:
        """Labels [n] of the next n fakes (None when unconditional): random, or the paired reals' labels."""
        if self.fake_labels == "real" and y_real is not None:
            return y_real
        return module.random_labels(n)

    def play(self, module: GANModule, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        raise NotImplementedError

    def g_logits(self, module: GANModule, fake: Tensor, y_fake: Tensor | None, real: Tensor,
                 y_real: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """D's logits [N] (and features, None when unrolled) that G's loss is taken on."""
        if self.unroll is not None:
            return self.unroll(module, fake, y_fake, real, y_real), None
        return module.discriminate(fake, y_fake)

    @staticmethod
    def d_fakes(module: GANModule, n: int, y_real: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """n fakes (and their labels) for a D update against reals labelled y_real, without a graph to G."""
        y_fake = module.game.fake_y(module, n, y_real)  # labels before z: the draw order of every recorded run
        with torch.no_grad():  # no graph: the D step must not reach G
            return module.generator(module.noise(n), y_fake), y_fake


class Alternating(Game):
    """Alternating updates: ``n_critic`` D steps (each on a fresh real batch), then ``n_gen`` G steps
    against the updated D (Goodfellow et al. 2014, Algorithm 1)."""

    def play(self, module: GANModule, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        for real, y in zip(reals, labels, strict=True):
            d_stats = module.d_step(real, y, *self.d_fakes(module, real.shape[0], y), log_now)
        n = reals[-1].shape[0]
        for _ in range(self.n_gen):
            z = module.noise(n)
            g_stats = module.g_step(reals[-1], labels[-1], z, self.fake_y(module, n, labels[-1]), log_now)
        return {**d_stats, **g_stats}


class Simultaneous(Game):
    """Simultaneous gradient descent: both players' gradients at the same point (as in Metz et al.'s and
    VEEGAN's toy code). G steps against the current D; D then steps on G's pre-update fakes, same z."""

    def __init__(self, n_critic: int = 1, n_gen: int = 1, unroll: Unroll | None = None,
                 fake_labels: str = "random") -> None:
        if (n_critic, n_gen) != (1, 1):
            raise ValueError(f"game=simultaneous with optim.n_critic={n_critic}, optim.n_gen={n_gen}; "
                             f"valid: n_critic=1 and n_gen=1 (one update of each player per step)")
        super().__init__(1, 1, unroll, fake_labels)

    def play(self, module: GANModule, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        n = reals[0].shape[0]
        z, y_fake = module.noise(n), self.fake_y(module, n, labels[0])
        with torch.no_grad():
            fake_before = module.generator(z, y_fake)
        g_stats = module.g_step(reals[0], labels[0], z, y_fake, log_now)
        d_stats = module.d_step(reals[0], labels[0], fake_before, y_fake, log_now)
        return {**d_stats, **g_stats}
