"""Game strategies: the schedule of D and G updates inside one training step, and the moves it is made of.

A game owns its moves: it splits the step's real batch into ``n_critic`` D batches, draws the noise and the
fakes' labels, decides who steps when and on which fakes (``n_critic`` / ``n_gen``, simultaneous or
alternating), and what G's loss is taken against (D itself, or D after an ``Unroll`` look-ahead). It calls the
module's two update primitives, ``d_step`` and ``g_step``, and hands them what a step needs; the module never
calls back into the game. What a game needs from a module is the small protocol ``Players`` below, so this
file imports no module.

A new scheme (extragradient, consensus optimization, lookahead, ...) is one class here (or in
any importable module) plus one yaml in ``conf/game/``: ``_target_`` names it, ``game=NAME`` picks it.

    step(players, real: Tensor[n_critic * N, ...], labels: Tensor[n_critic * N] | None, log_now) -> stats dict
    play(players, reals: list[Tensor[N, ...]], labels: list[Tensor[N] | None], log_now) -> stats dict
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ganlab.losses.adversarial import Minimax
from ganlab.unrolled import check_optimizer, unrolled_parameters

Stats = dict[str, Tensor]
# what G's loss is taken on: (fake [N, ...], y_fake, real [N, ...], y_real) -> (D's logits [N], features or None)
# and, optionally third, a scalar added to G's loss (the unrolled saddle objective's reals' term)
Judge = Callable[[Tensor, Tensor | None, Tensor, Tensor | None],
                 tuple[Tensor, Tensor | None] | tuple[Tensor, Tensor | None, Tensor]]


class Players(Protocol):
    """What a game needs from the module it plays (``ganlab.module.GANModule`` provides it)."""

    generator: nn.Module
    discriminator: nn.Module
    loss: Any  # an adversarial loss: d_loss(real_logits, fake_logits), g_loss(fake_logits, real_logits)

    def noise(self, n: int) -> Tensor:
        """z [n, z_dim] from the training noise stream."""

    def random_labels(self, n: int) -> Tensor | None:
        """Uniform class labels [n] (None when unconditional)."""

    def optimizers(self) -> list:
        """[G's optimizer, D's optimizer]."""

    def d_step(self, real: Tensor, y: Tensor | None, fake: Tensor, y_fake: Tensor | None, log_now: bool) -> Stats:
        """One D update on real [N, ...] against fake [N, ...] (no graph to G)."""

    def g_step(self, real: Tensor, y_real: Tensor | None, z: Tensor, y_fake: Tensor | None, log_now: bool,
               judge: Judge | None = None) -> Stats:
        """One G update from z [N, z_dim]; ``judge`` replaces D's logits of the fakes (None: D itself)."""


class Unroll:
    """Unrolled GAN (Metz et al. 2017): G's loss is taken against D after ``steps`` look-ahead updates.

    A transform of G's objective, usable with any schedule: its ``judge`` replaces D's logits of the
    fakes in the G step. As in Metz et al.'s code, every look-ahead step descends D's loss on this
    step's real batch and these same fakes, so G's gradient reaches the fakes through each update.

    Args:
        steps: look-ahead D updates (>= 1).
        second_order: differentiate through the look-ahead updates (false: first-order approximation).
        objective: "fake": G's loss is ``loss.g_loss`` of the look-ahead D's logits of the fakes; "saddle":
            G minimizes the saddle objective at the look-ahead D, f(theta_G, theta_D^K(theta_G)) = -D's loss
            on the reals and the fakes (Metz et al. 2017, Eq. 4-5, and their toy notebook, whose G minimizes
            minus the unrolled loss). The reals' term depends on G only through the look-ahead weights, so it
            changes G's gradient only with second_order; it needs loss=minimax (G's loss is then -D's loss).
    """

    OBJECTIVES = ("fake", "saddle")

    def __init__(self, steps: int = 5, second_order: bool = True, objective: str = "fake") -> None:
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"game.unroll.steps={steps}; valid: an integer >= 1 (game=alternating for no unrolling)")
        if objective not in self.OBJECTIVES:
            raise ValueError(f"game.unroll.objective={objective!r}; valid: {', '.join(self.OBJECTIVES)}")
        self.steps, self.second_order, self.objective = steps, second_order, objective

    def check(self, d_optimizer: Callable[..., torch.optim.Optimizer]) -> None:
        """One-line error before training when the look-ahead cannot replay D's optimizer."""
        check_optimizer(d_optimizer([nn.Parameter(torch.zeros(1))]))  # a probe on one dummy weight

    def judge(self, players: Players) -> Judge:
        """G's judge: D's logits [N] of the fakes after the look-ahead (D itself is not changed), no features,
        and with objective=saddle the reals' term of G's loss at the look-ahead D (a scalar added to it)."""

        def after_lookahead(fake: Tensor, y_fake: Tensor | None, real: Tensor,
                            y_real: Tensor | None) -> tuple[Tensor, None] | tuple[Tensor, None, Tensor]:
            lookahead_fake = fake if self.second_order else fake.detach()
            batches = [(real, y_real, lookahead_fake, y_fake)] * self.steps
            loss = players.loss
            d = unrolled_parameters(players.discriminator, loss, players.optimizers()[1], batches,
                                    create_graph=self.second_order)
            fake_logits = d(fake, y_fake)
            if self.objective == "fake":
                return fake_logits, None
            # -D's loss = G's minimax loss of the fakes + the reals' term: the term is what the sum adds to g_loss
            real_term = -loss.d_loss(d(real, y_real), fake_logits) - loss.g_loss(fake_logits)
            return fake_logits, None, real_term

        return after_lookahead


class Game:
    """Base of the step schedules.

    Args:
        n_critic: D updates per training step, each on a fresh real batch (the data layer serves this many real
            batches per step: ``datamodule.batches_per_step`` follows ``game.n_critic``).
        n_gen: G updates per training step.
        unroll: an ``Unroll`` transform of G's objective, or None.
        fake_labels: labels of a conditional G's fakes: "random" (uniform classes, drawn per update) or
            "real" (the labels of the real batch the fakes meet: each fake has its paired real's class,
            as in R3GAN's conditional training, Huang et al. 2024). Unconditional runs ignore it.
    """

    FAKE_LABELS = ("random", "real")

    def __init__(self, n_critic: int = 1, n_gen: int = 1, unroll: Unroll | None = None,
                 fake_labels: str = "random") -> None:
        for key, value in (("game.n_critic", n_critic), ("game.n_gen", n_gen)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key}={value}; valid: an integer >= 1")
        if fake_labels not in self.FAKE_LABELS:
            raise ValueError(f"game.fake_labels={fake_labels!r}; valid: {', '.join(self.FAKE_LABELS)}")
        self.n_critic, self.n_gen, self.unroll, self.fake_labels = n_critic, n_gen, unroll, fake_labels

    # capability asked by seed ensembles (ganlab.ensemble.checks): played on K members' batches stacked along the
    # batch dimension, every member moves as its own run would; a schedule says so itself
    batches_members = False

    def check(self, loss: Any, d_optimizer: Callable[..., torch.optim.Optimizer]) -> None:
        """Refuse, when the module is built, a loss or D optimizer (a partial) this schedule cannot play."""
        if self.unroll is not None:
            self.unroll.check(d_optimizer)
            if self.unroll.objective == "saddle" and type(loss) is not Minimax:
                raise ValueError(f"game.unroll.objective=saddle with {type(loss).__name__}: G's loss is then -D's "
                                 "loss, the minimax game; use loss=minimax (or game.unroll.objective=fake)")
            if getattr(loss, "pairs_real", False):
                raise ValueError(f"game.unroll with {type(loss).__name__}: G's loss pairs each fake with "
                                 "D's logit of a real, which the look-ahead D does not compute; use "
                                 "game=alternating or game=simultaneous")

    def step(self, players: Players, real: Tensor, labels: Tensor | None, log_now: bool) -> Stats:
        """One training step: the step's reals [n_critic * N, ...] (labels [n_critic * N] or None) split into
        ``n_critic`` fresh batches, then ``play``."""
        reals = list(real.chunk(self.n_critic))
        split = list(labels.chunk(self.n_critic)) if labels is not None else [None] * self.n_critic
        return self.play(players, reals, split, log_now)

    def play(self, players: Players, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        """The moves of one step on ``n_critic`` real batches [N, ...] (and labels [N] or None)."""
        raise NotImplementedError

    def fake_y(self, players: Players, n: int, y_real: Tensor | None) -> Tensor | None:
        """Labels [n] of the next n fakes (None when unconditional): random, or the paired reals' labels."""
        if self.fake_labels == "real" and y_real is not None:
            return y_real
        return players.random_labels(n)

    def d_fakes(self, players: Players, n: int, y_real: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """n fakes (and their labels) for a D update against reals labelled y_real, without a graph to G."""
        y_fake = self.fake_y(players, n, y_real)  # labels before z: the draw order of every recorded run
        with torch.no_grad():  # no graph: the D step must not reach G
            return players.generator(players.noise(n), y_fake), y_fake

    def judge(self, players: Players) -> Judge | None:
        """What G's loss is taken on: D after the look-ahead when unrolled, else None (D itself)."""
        return self.unroll.judge(players) if self.unroll is not None else None


class Alternating(Game):
    """Alternating updates: ``n_critic`` D steps (each on a fresh real batch), then ``n_gen`` G steps
    against the updated D (Goodfellow et al. 2014, Algorithm 1)."""

    @property
    def batches_members(self) -> bool:
        return self.unroll is None  # the look-ahead would replay D's optimizer on the whole stacked batch

    def play(self, players: Players, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        for real, y in zip(reals, labels, strict=True):
            d_stats = players.d_step(real, y, *self.d_fakes(players, real.shape[0], y), log_now)
        n, judge = reals[-1].shape[0], self.judge(players)
        for _ in range(self.n_gen):
            z = players.noise(n)
            g_stats = players.g_step(reals[-1], labels[-1], z, self.fake_y(players, n, labels[-1]), log_now, judge)
        return {**d_stats, **g_stats}


class Simultaneous(Game):
    """Simultaneous gradient descent: both players' gradients at the same point (as in Metz et al.'s and
    VEEGAN's toy code). G steps against the current D; D then steps on G's pre-update fakes, same z."""

    def __init__(self, n_critic: int = 1, n_gen: int = 1, unroll: Unroll | None = None,
                 fake_labels: str = "random") -> None:
        if (n_critic, n_gen) != (1, 1):
            raise ValueError(f"game=simultaneous with game.n_critic={n_critic}, game.n_gen={n_gen}; "
                             f"valid: n_critic=1 and n_gen=1 (one update of each player per step)")
        super().__init__(1, 1, unroll, fake_labels)

    @property
    def batches_members(self) -> bool:
        return self.unroll is None  # the look-ahead would replay D's optimizer on the whole stacked batch

    def play(self, players: Players, reals: list[Tensor], labels: list[Tensor | None], log_now: bool) -> Stats:
        n = reals[0].shape[0]
        z, y_fake = players.noise(n), self.fake_y(players, n, labels[0])
        with torch.no_grad():
            fake_before = players.generator(z, y_fake)
        g_stats = players.g_step(reals[0], labels[0], z, y_fake, log_now, self.judge(players))
        d_stats = players.d_step(reals[0], labels[0], fake_before, y_fake, log_now)
        return {**d_stats, **g_stats}
