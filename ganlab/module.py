"""GANModule: the two-player game as a LightningModule with manual optimization.

The module names no architecture, loss, dataset or schedule: Hydra builds it from the ``model``
node (conf/model/gan.yaml) with a generator, a discriminator, an adversarial loss, optimizer
factories, regularizers, G terms, augmentations, an EMA rule and a game strategy (ganlab.game),
which decides the order of the D and G updates that this module provides. The module hands each
training step to the game and never calls back into it; it imports nothing from ganlab.game (the
game's needs are ``ganlab.game.Players``, this module's of the game ``Schedule``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any, Protocol

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from ganlab import accumulate as accumulation
from ganlab.augment import Augmentation as AugmentationBase
from ganlab.ema import EMA
from ganlab.losses.adversarial import AdversarialLoss
from ganlab.losses.regularizers import DiscriminatorOutputs, GeneratorTerm, Regularizer
from ganlab.metrics.noise import eval_noise
from ganlab.nets.freeze import frozen
from ganlab.nets.wrappers import Wrapper, wrapped
from ganlab.perf import apply_perf
from ganlab.schedules import Schedules
from ganlab.steps import one_step

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]
Augmentation = Callable[[Tensor, int], Tensor]
# what G's loss is taken on, when the game replaces D (an unrolled look-ahead, ganlab.game.Judge):
# (fake [N, ...], y_fake, real [N, ...], y_real) -> (logits [N], features [N, F] or None[, a scalar added to G's loss])
Judge = Callable[[Tensor, Tensor | None, Tensor, Tensor | None],
                 tuple[Tensor, Tensor | None] | tuple[Tensor, Tensor | None, Tensor]]
# attributes set on every training step that are never a parameter, buffer or submodule: set without
# nn.Module.__setattr__'s checks (Lightning sets _current_fx_name before and after every hook it dispatches, about
# 30 times per step)
PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "last_d_outputs", "_d_steps", "_logged", "_scheduled", "_step_opts"})
# LightningModule's hooks that Lightning dispatches on every training step (the backward and optimizer ones once per
# optimizer step), each an empty method there that returns nothing
PER_STEP_MODULE_HOOKS = ("on_train_batch_start", "on_before_backward", "on_after_backward", "on_before_zero_grad",
                         "on_before_optimizer_step", "on_train_batch_end")


class Schedule(Protocol):
    """What the module needs from its game (``ganlab.game.Game``): a check when built, and one training step."""

    def check(self, loss: Any, d_optimizer: OptimizerFactory) -> None:
        """Raise a one-line ValueError for a loss or D optimizer this schedule cannot play."""

    def step(self, players: Any, real: Tensor, labels: Tensor | None, log_now: bool) -> dict[str, Tensor]:
        """One training step on the step's reals [n_critic * N, ...]: calls ``d_step`` / ``g_step``."""


def float_betas(factory: OptimizerFactory) -> OptimizerFactory:
    """A partial optimizer whose betas were given as integers on the command line (0 for 0.0) gets floats."""
    if isinstance(factory, functools.partial) and "betas" in factory.keywords:
        factory.keywords["betas"] = tuple(float(b) for b in factory.keywords["betas"])
    return factory


def skip_unused_module_hooks(module: pl.LightningModule) -> None:
    """Set to None, on ``module``, the per-step hooks its class does not implement (still ``LightningModule``'s empty
    method): Lightning's dispatcher passes a hook that is not callable by, where each call would cost a profiler
    context and two settings of ``_current_fx_name`` (eight calls per step of an alternating game). A hook a class
    implements stays; one assigned to the instance later (a function) replaces the None and is called."""
    for hook in PER_STEP_MODULE_HOOKS:
        if getattr(type(module), hook, None) is getattr(pl.LightningModule, hook):
            object.__setattr__(module, hook, None)


def grad_norm(module: nn.Module) -> Tensor:
    """L2 norm of all gradients of ``module`` (0 when none exist)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class GANModule(pl.LightningModule):
    """The two-player game: per training step, the ``game`` strategy calls ``d_step`` / ``g_step``.

    Args:
        generator: maps z [N, z_dim] (and labels y [N]) to samples; must expose ``z_dim``.
        discriminator: maps samples (and labels) to logits [N], as its config builds it.
        d_wrappers: name -> D wrapper (a partial completed with the D it wraps), applied in order before
            anything else: PacGAN packing, minibatch layers (``ganlab.nets.wrappers``); null entries skipped.
        loss: an adversarial loss with ``d_loss`` and ``g_loss``.
        g_optimizer, d_optimizer: partial optimizers, completed with each network's parameters.
        g_scheduler, d_scheduler: optional partial LR schedulers, stepped once per training step.
        game: the step schedule (``Alternating(n_critic, n_gen)``, ``Simultaneous()``, optionally with an
            ``Unroll`` transform of G's objective): it plays each training step through ``d_step``/``g_step``.
        regularizers: name -> D regularizer (penalty and/or constraint), e.g. {"gp": GradientPenalty()}.
        g_terms: name -> term of G's objective (feature matching, ACGAN's classifier loss, ...).
        augment: name -> augmentation ``aug(x, step)`` applied in order to every D input, real and
            fake, in the D and the G step (DiffAugment, instance noise, ADA). Those built on
            ``ganlab.augment.Augmentation`` also observe D's real logits of each D step, log their
            ``stats()`` and keep their state in checkpoints (ADA's p).
        ema: the averaging rule of G's weights (``EMA(decay, start)``); samples and evaluation then use
            the average (Yazıcı et al. 2019). None or ``decay=None``: off.
        schedules: hyperparameters that follow a function of the step (``ganlab.schedules.Schedules``):
            learning rates through LambdaLR schedulers, the rest set before each training step; their
            values logged as ``sched/NAME``. Targets are checked here, before training.
        num_sample_images: size of the fixed noise batch used for sample grids.
        sample_seed: seed of that fixed noise batch (the same z for a whole run and across runs).
        num_classes: number of classes for conditional models (0: unconditional).
        perf: speed switches for G and D (``ganlab.perf.apply_perf``: tf32, channels_last, compile).
        config: the resolved run config (a mapping, or its JSON text: ``${ganlab.run_config:}``), stored in
            checkpoints to rebuild the networks.
        accumulate: K >= 1: every D and G update sums the gradients of K micro-batches of its batch
            (``ganlab.accumulate``); 1: the whole batch at once.

    What callbacks read, besides G, D, ``loss``, ``g_terms``, ``config`` and the sampling methods:
        last_d_outputs: D's logits (real [N], fake [N]), detached, of the latest D update (None before the
            first); the health monitor's view of D.
        health_rollback_step: the step whose diverged losses the health monitor rolled back (None: none); set by
            the monitor, read by the divergence guard, which then lets that step pass.
        sync_gradients: False in the backwards of an accumulated update's micro-batches before the last (the DDP
            strategy then all-reduces nothing, ``ganlab.ddp``).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: AdversarialLoss,
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        g_scheduler: SchedulerFactory | None = None,
        d_scheduler: SchedulerFactory | None = None,
        *,
        game: Schedule,
        regularizers: Mapping[str, Regularizer] | None = None,
        g_terms: Mapping[str, GeneratorTerm] | None = None,
        augment: Mapping[str, Augmentation] | None = None,
        ema: EMA | None = None,
        schedules: Schedules | None = None,
        num_sample_images: int = 64,
        sample_seed: int = 0,
        num_classes: int = 0,
        d_wrappers: Mapping[str, Wrapper | None] | None = None,
        perf: Mapping[str, bool] | None = None,
        config: Mapping | str | None = None,
        accumulate: int = 1,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        # first: the wrappers' layers draw their initial weights before anything else here draws
        discriminator = wrapped(discriminator, d_wrappers)
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        self.g_optimizer, self.d_optimizer = float_betas(g_optimizer), float_betas(d_optimizer)
        self.g_scheduler, self.d_scheduler = g_scheduler, d_scheduler
        self.game = game
        self.regularizers = {k: v for k, v in (regularizers or {}).items() if v is not None}
        self.g_terms = {k: v for k, v in (g_terms or {}).items() if v is not None}
        augment = {k: v for k, v in (augment or {}).items() if v is not None}
        self.augment = list(augment.values())
        # the ones with hooks (observe D's real logits, stats, checkpoint state); plain callables have none
        self.augment_hooks = {k: v for k, v in augment.items() if isinstance(v, AugmentationBase)}
        self.ema = ema if ema is not None and ema.enabled else None
        # the average is a submodule (saved as generator_ema.* in checkpoints) that no optimizer sees
        self.generator_ema = self.ema.average_of(generator) if self.ema is not None else None
        self.num_classes = num_classes
        self.config = json.loads(config) if isinstance(config, str) else config
        self.z_dim: int = generator.z_dim
        game.check(loss, self.d_optimizer)  # e.g. an unrolled look-ahead refuses an optimizer it cannot replay
        accumulation.check(self, accumulate)  # what micro-batches cannot split exactly is refused here
        self.accumulate = accumulate
        self.sync_gradients = True  # False in the backwards of micro-batches before the last (ganlab.ddp: no_sync)
        g = torch.Generator().manual_seed(sample_seed)
        # conditional grids: one row per class, the same number of images in each
        self.sample_nrow = max(num_sample_images // num_classes, 1) if num_classes else None
        n = self.sample_nrow * num_classes if num_classes else num_sample_images
        # fixed noise (and labels) for sample grids: a buffer, so checkpoints and resumes keep it
        self.register_buffer("sample_z", torch.randn(n, self.z_dim, generator=g))
        labels = torch.arange(num_classes).repeat_interleave(self.sample_nrow) if num_classes else torch.zeros(0)
        self.register_buffer("sample_y", labels.long())
        self._d_steps = 0  # D updates so far, for lazy regularization
        self.last_d_outputs: tuple[Tensor, Tensor] | None = None  # (real [N], fake [N]) logits of the last D step
        self.health_rollback_step: int | None = None
        self.schedules = schedules if schedules else None
        if self.schedules is not None:
            self.schedules.bind(self)  # an unknown target fails here, before any training
        self._scheduled: dict[str, float] = {}  # this step's scheduled values, logged with its scalars
        self._logged = False  # a logging step's values are in Lightning's results (reset at the next step)
        # the step's [G, D] LightningOptimizers, read once per training step (None outside one)
        self._step_opts: list | None = None
        # last, as it was applied to the built module before: the EMA copy of G keeps the default format
        self.memory_format = apply_perf(self.generator, self.discriminator, **(perf or {}))
        skip_unused_module_hooks(self)  # LightningModule's empty per-step hooks are not dispatched

    def __setattr__(self, name: str, value: Any) -> None:
        if name in PLAIN_ATTRIBUTES:  # what nn.Module.__setattr__ ends with for them, without its checks
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # ----------------------------------------------------------------- sampling
    def noise(self, n: int) -> Tensor:
        """z [n, z_dim] from the training noise stream (the global RNG of this device)."""
        return torch.randn(n, self.z_dim, device=self.device)

    def random_labels(self, n: int) -> Tensor | None:
        """Uniform class labels [n] for a conditional G's fakes; None when unconditional."""
        return torch.randint(0, self.num_classes, (n,), device=self.device) if self.num_classes else None

    @property
    def eval_generator(self) -> nn.Module:
        """The generator used for samples and metrics: the EMA when kept, else G itself."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def generate(self, z: Tensor, y: Tensor | None = None, generator: nn.Module | None = None) -> Tensor:
        """Samples for evaluation: ``generator`` (default: G or its EMA, ``eval_generator``) in eval mode, no
        graph; train mode restored afterwards."""
        generator = self.eval_generator if generator is None else generator
        was_training = generator.training
        generator.eval()
        out = generator(z, y)
        generator.train(was_training)
        return out

    def augmented(self, x: Tensor) -> Tensor:
        """x after every augmentation in order (the same pipeline for real and fake)."""
        for aug in self.augment:
            x = aug(x, self.global_step)
        return x

    def discriminate(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """D's logits [N] and features [N, F] (None when D has no ``features``/``head`` split)."""
        d = self.discriminator
        if hasattr(d, "features") and hasattr(d, "head"):
            h = d.features(x, y)
            return d.head(h, y), h
        return d(x, y), None

    def sample_grid_images(self) -> Tensor:
        """Samples from the fixed noise batch [num_sample_images, C, H, W]."""
        return self.generate(self.sample_z, self.sample_y if self.num_classes else None)

    # ----------------------------------------------------------------- training
    def configure_optimizers(self):
        opt_g = self.g_optimizer(self.generator.parameters())
        opt_d = self.d_optimizer(self.discriminator.parameters())
        schedulers = [s(o) for s, o in ((self.g_scheduler, opt_g), (self.d_scheduler, opt_d)) if s is not None]
        if self.schedules is not None:  # scheduled learning rates: one LambdaLR per optimizer, after the others
            schedulers += self.schedules.lr_schedulers({"g": opt_g, "d": opt_d}, self.trainer.world_size)
        return [opt_g, opt_d], schedulers

    def training_step(self, batch: Tensor | tuple[Tensor, Tensor | None], batch_idx: int) -> None:
        # [n_critic * N, ...]: one fresh real batch per D update, split by the game; a bare tensor when the module
        # reads no labels (ganlab.data.base.InMemoryBatches(labels=False): Lightning walks a tensor, not a tuple)
        real, labels = (batch, None) if isinstance(batch, Tensor) else batch
        if self.memory_format is not torch.contiguous_format:
            real = real.contiguous(memory_format=self.memory_format)
        done = self.global_step  # training steps completed before this one (read once: a chain of properties)
        log_now = (done + 1) % self.trainer.log_every_n_steps == 0
        labels = labels if labels is not None and self.num_classes else None  # unconditional: labels unused
        if self.schedules is not None:  # this step's values: a function of the steps completed (global_step)
            opt_g, opt_d = self.optimizers(use_pl_optimizer=False)
            self._scheduled = self.schedules.apply(done, {"g": opt_g, "d": opt_d}, self.trainer.world_size)
        self._step_opts = self.optimizers()
        try:
            with one_step(self._step_opts):  # one game iteration = one training step (global_step + 1)
                stats = self.game.step(self, real, labels, log_now)
        finally:
            self._step_opts = None
        self._after_step(log_now, stats, done + 1)  # leaving one_step counted exactly this step

    def _after_step(self, log_now: bool, stats: dict, step: int) -> None:
        """EMA, schedulers and logging, once per training step (``step``: global_step after it), whatever the
        game's schedule."""
        if self.ema is not None:  # before callbacks (sample grids, checkpoints) see this step
            self.ema.update(self.generator_ema, self.generator, step)
        for config in self.trainer.lr_scheduler_configs:  # what lr_schedulers() returns, without its list juggling
            config.scheduler.step()
        if self._logged and not log_now:
            # Lightning recomputes every value logged this epoch at each later batch end, converting the progress-bar
            # ones with .item() (a host sync per step); they reached the loggers and callback_metrics at the end of
            # the logging step, so its results are reset until the next one (reset ones are skipped; the last values
            # stay in callback_metrics, logged_metrics and progress_bar_metrics)
            self.trainer._results.reset()
            self._logged = False
        if log_now:
            self._logged = True
            stats = dict(stats)
            self.log("train/d_loss", stats.pop("train/d_loss"), prog_bar=True)
            self.log("train/g_loss", stats.pop("train/g_loss"), prog_bar=True)
            self.log_dict(stats)
            if self._scheduled:
                self.log_dict({f"sched/{name}": value for name, value in self._scheduled.items()})
            # x-axis = training steps completed, as checkpoints count them (one_step has advanced
            # global_step), not Lightning's batch counter, which lags one behind
            if self.loggers:
                self.log("step", float(self.global_step), logger=True, prog_bar=False)

    def d_step(self, real: Tensor, y: Tensor | None, fake: Tensor, y_fake: Tensor | None, log_now: bool) -> dict:
        """One D update on real [N, ...] (labels y) against fake [N, ...] (labels y_fake, no graph to G)."""
        if self.accumulate > 1:
            return accumulation.d_update(self, real, y, fake, y_fake, log_now, self.accumulate)
        opt = self._optimizer(1)
        real, fake = self.augmented(real), self.augmented(fake)
        real_logits, real_h = self.discriminate(real, y)
        fake_logits, fake_h = self.discriminate(fake, y_fake)
        self.last_d_outputs = (real_logits.detach(), fake_logits.detach())
        out = DiscriminatorOutputs(real_logits, fake_logits, real_h, fake_h)
        loss = self.loss.d_loss(real_logits, fake_logits)
        stats = {}
        for name, reg in self.regularizers.items():
            if self._d_steps % reg.every == 0:
                penalty = reg(self.discriminator, real, fake, y_real=y, y_fake=y_fake, out=out)
                if penalty is not None:
                    # lazy regularization (Karras et al. 2020): every k-th step, weight scaled by k
                    loss = loss + reg.weight * reg.every * penalty
                    stats[f"train/{name}"] = penalty.detach()
        opt.zero_grad(set_to_none=True)  # also drops D grads left by the previous G step
        # G frozen under DDP (it has no graph here anyway): the DDP strategy syncs only the networks not frozen; one
        # process syncs nothing, and freezing walks G's parameters twice per D update
        with frozen(self.generator) if self._distributed() else nullcontext():
            self.backward_loss(loss)
        if log_now:
            stats["train/grad_norm_d"] = self.grad_norm(self.discriminator)
        opt.step()
        for reg in self.regularizers.values():
            reg.after_d_step(self.discriminator)
        self._d_steps += 1
        for aug in self.augment_hooks.values():  # ADA: r_t from D's view of the (augmented) reals
            aug.observe(real_logits.detach())
            if log_now:
                stats.update(aug.stats())
        if log_now:  # D's loss and mean logits are read on logging steps only: no op for them on the others
            stats["train/d_loss"] = loss.detach()
            stats["train/d_real"], stats["train/d_fake"] = real_logits.detach().mean(), fake_logits.detach().mean()
        return stats

    def _optimizer(self, index: int):
        """G's (0) or D's (1) LightningOptimizer: the step's, read once in ``training_step``, else Lightning's."""
        opts = self._step_opts
        return opts[index] if opts is not None else self.optimizers()[index]

    def _distributed(self) -> bool:
        return self._trainer is not None and self._trainer.world_size > 1

    def g_step(self, real: Tensor, y_real: Tensor | None, z: Tensor, y_fake: Tensor | None, log_now: bool,
               judge: Judge | None = None) -> dict:
        """One G update from noise z [N, z_dim] (labels y_fake); real [N, ...] feeds G terms, the game's judge and
        losses that pair each fake with a real (``loss.pairs_real``: D's logits of it go to ``g_loss``).
        ``judge`` (from the game, e.g. an unrolled look-ahead D) gives the logits G's loss is taken on; None: D."""
        if self.accumulate > 1:
            return accumulation.g_update(self, real, y_real, z, y_fake, log_now, self.accumulate, judge)
        opt = self._optimizer(0)
        fake = self.augmented(self.generator(z, y_fake))
        pairs_real = getattr(self.loss, "pairs_real", False)  # RpGAN: G's loss compares each fake with a real
        real_in = self.augmented(real) if self.g_terms or judge is not None or pairs_real else real
        stats = {}
        with frozen(self.discriminator):  # gradients flow through D to G; D's weights get none
            judged = judge(fake, y_fake, real_in, y_real) if judge is not None else self.discriminate(fake, y_fake)
            fake_logits, fake_h, *added = judged  # added: [the judge's term of G's loss] (unrolled saddle objective)
            replaced = any(t.replaces_adversarial for t in self.g_terms.values())
            real_logits = self.paired_real_logits(real_in, y_real) if pairs_real and not replaced else None
            loss = fake_logits.new_zeros(()) if replaced else self.loss.g_loss(fake_logits, real_logits)
            if added and not replaced:
                loss = loss + added[0]
            for name, term in self.g_terms.items():
                value = term(self.discriminator, real_in, fake, generator=self.generator, y_real=y_real,
                             y_fake=y_fake, fake_features=fake_h)
                loss = loss + term.weight * value
                stats[f"train/{name}"] = value.detach()
            opt.zero_grad(set_to_none=True)
            self.backward_loss(loss)  # D still frozen: the DDP strategy all-reduces G's gradients only
        if log_now:  # G's loss is read on logging steps only
            stats["train/g_loss"] = loss.detach()
            stats["train/grad_norm_g"] = self.grad_norm(self.generator)
        opt.step()
        for term in self.g_terms.values():
            term.after_g_step(self.generator)
        return stats

    def backward_loss(self, loss: Tensor) -> None:
        """Backward of a step's loss (seed ensembles: of the sum over members, ganlab.ensemble.module)."""
        self.manual_backward(loss)

    def grad_norm(self, net: nn.Module) -> Tensor:
        """The logged gradient norm of ``net`` (seed ensembles: the members' mean)."""
        return grad_norm(net)

    @torch.no_grad()  # the reals do not depend on G: their logits are constants of G's loss
    def paired_real_logits(self, real: Tensor, y: Tensor | None) -> Tensor:
        """D's logits [N] of the (augmented) real batch [N, ...] that G's fakes are paired with (RpGAN)."""
        return self.discriminate(real, y)[0]

    # ----------------------------------------------------------------- evaluation
    def validation_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """Generate the samples for one evaluation batch; metric callbacks consume them.

        ``batch`` holds sample indices [B]; the noise is seeded by the first index, so every
        evaluation (and every number of processes) uses the same z for the same samples.
        """
        z = eval_noise(int(batch[0]), batch.shape[0], self.z_dim).to(self.device)
        y = (batch % self.num_classes).to(self.device) if self.num_classes else None
        return self.generate(z, y)

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1:
            # every rank starts from the same seed (same initial weights); offset its noise stream
            # so the ranks draw different z, as a bigger single-process batch would
            torch.manual_seed(torch.initial_seed() + 1_000_003 * self.trainer.global_rank)

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        # running state of regularizers and G terms (historical averaging's means); stateless ones save nothing
        terms = {f"{kind}.{name}": state for kind, named in (("regularizers", self.regularizers),
                                                            ("g_terms", self.g_terms))
                 for name, term in named.items() if (state := term.state_dict())}
        # running state of augmentations (ADA's p and r_t accumulator)
        augment = {name: state for name, aug in self.augment_hooks.items() if (state := aug.state_dict())}
        checkpoint["ganlab"] = {"config": self.config, "d_steps": self._d_steps, "rng": rng, "terms": terms,
                                "augment": augment}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("ganlab", {})
        self._d_steps = int(state.get("d_steps", 0))
        for key, term_state in state.get("terms", {}).items():
            kind, name = key.split(".", 1)
            term = getattr(self, kind).get(name)
            if term is not None:  # ganlab-train refuses a checkpoint whose terms this run lacks (check_resume)
                term.load_state_dict(term_state)
        for name, aug_state in state.get("augment", {}).items():
            if name in self.augment_hooks:  # ganlab-train refuses a checkpoint whose augment state this run lacks
                self.augment_hooks[name].load_state_dict(aug_state)
        rng = state.get("rng")
        # the noise stream continues where it stopped, so a resumed run matches an uninterrupted one
        if rng is not None and (self._trainer is None or self.trainer.world_size == 1):
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(rng["cuda"])
