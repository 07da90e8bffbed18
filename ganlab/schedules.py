"""Hyperparameter schedules: a numeric hyperparameter of the run follows a function of the training step.

A ``Schedule`` is a pure function of the step (or of the real images seen, batch_size x processes x steps):
constant, linear or cosine from ``start`` to ``end`` over ``length``, optionally after a linear warm-up. A
resumed run therefore sets the same values as an uninterrupted one without keeping any state of its own.

Targets are named by their path in the built run, from a fixed list (``Schedules.valid_targets``):

    optim.g.lr, optim.d.lr            learning rates, through a torch ``LambdaLR`` per optimizer
    optim.g.beta1, optim.d.beta2, ... Adam's betas and any other number in the optimizer's param group
    regularizers.NAME.ATTR            a float attribute of a regularizer (R1's ``gamma``, any ``weight``)
    g_terms.NAME.ATTR, augment.NAME.ATTR, loss.ATTR, ema.ATTR   likewise (ADA's ``p``, ``ema.half_life_images``)

"A float attribute" is a public attribute (or a property with a setter) whose value is a Python float when
the module is built, so a new component's hyperparameters can be scheduled without changes here; counts
(ints such as ``every``) are not. A component's ``adapted`` dict names the attributes it moves by itself, which a
schedule may not also set, and the setting that stops that (ADA: ``{"p": "target=null"}`` while it has a target).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

SHAPES = ("constant", "linear", "cosine")
UNITS = ("steps", "images")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Schedule:
    """One hyperparameter's value as a function of training progress x (steps, or images seen).

    value(x) =
        warmup_from + (start - warmup_from) * x / warmup        for x < warmup (linear warm-up)
        start                                                    shape=constant (end and length unused)
        start + (end - start) * t                                shape=linear
        start + (end - start) * (1 - cos(pi * t)) / 2            shape=cosine
        end                                                      for x >= length
    with t = (x - warmup) / (length - warmup): ``length`` counts from 0 and includes the warm-up, so a
    schedule of ``length: ${trainer.max_steps}`` reaches ``end`` when training ends, warm-up or not (the
    convention of R3GAN's ``cosine_decay_with_warmup``, whose ``total_nimg`` includes ``warmup_nimg``).

    Args:
        target: the hyperparameter's path (module docstring), or a list of paths that all get this value.
        start, end: the values at the end of the warm-up and at ``length``.
        shape: constant, linear or cosine.
        length: where ``end`` is reached, in ``unit``s (required for linear and cosine).
        warmup: units of linear warm-up from ``warmup_from`` to ``start`` (0: none).
        warmup_from: the value at x = 0 when there is a warm-up.
        unit: steps (training steps completed) or images (real images seen: steps x batch_size x processes,
            StyleGAN's and R3GAN's kimg count).
        name: the schedule's name in ``schedules:``, for messages and the ``sched/NAME`` log tag.
    """

    def __init__(self, target: str | Sequence[str], start: float, end: float | None = None, shape: str = "constant",
                 length: float | None = None, warmup: float = 0, warmup_from: float = 0.0, unit: str = "steps",
                 name: str = "schedule") -> None:
        key = f"schedules.{name}"
        targets = [target] if isinstance(target, str) else list(target)
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise ValueError(f"{key}.target={target!r}; valid: a hyperparameter path such as optim.d.lr, or a list")
        if shape not in SHAPES:
            raise ValueError(f"{key}.shape={shape!r}; valid: {', '.join(SHAPES)}")
        if unit not in UNITS:
            raise ValueError(f"{key}.unit={unit!r}; valid: {', '.join(UNITS)}")
        for field, value in (("start", start), ("warmup_from", warmup_from)):
            if not _number(value):
                raise ValueError(f"{key}.{field}={value!r}; valid: a number")
        if not _number(warmup) or warmup < 0:
            raise ValueError(f"{key}.warmup={warmup!r}; valid: a number of {unit} >= 0 (0: no warm-up)")
        if shape != "constant":
            if not _number(end):
                raise ValueError(f"{key}.end={end!r}; valid: a number (shape={shape} goes from start to end)")
            if not _number(length) or length <= warmup:
                raise ValueError(f"{key}.length={length!r}; valid: a number of {unit} > warmup={warmup} "
                                 f"(where shape={shape} reaches end, e.g. ${{trainer.max_steps}})")
        self.name, self.targets, self.shape, self.unit = name, targets, shape, unit
        self.start, self.warmup, self.warmup_from = float(start), float(warmup), float(warmup_from)
        self.end = float(end) if _number(end) else None
        self.length = float(length) if _number(length) else None

    def value(self, step: int, images: int) -> float:
        """The value for the training step that starts after ``step`` steps and ``images`` real images."""
        x = step if self.unit == "steps" else images
        if x < self.warmup:
            return self.warmup_from + (self.start - self.warmup_from) * x / self.warmup
        if self.shape == "constant":
            return self.start
        if x >= self.length:
            return self.end
        t = (x - self.warmup) / (self.length - self.warmup)
        if self.shape == "linear":
            return self.start + (self.end - self.start) * t
        return self.start + (self.end - self.start) * (1 - math.cos(math.pi * t)) / 2

    def __repr__(self) -> str:
        return (f"Schedule({self.name}: {self.shape} {self.start} -> {self.end} over {self.length} {self.unit}, "
                f"warmup {self.warmup} from {self.warmup_from}, targets {self.targets})")


@dataclass(frozen=True)
class Target:
    """A settable hyperparameter: ``key`` of player ``player``'s optimizer param group, or attribute ``key``
    of the component ``owner``."""

    path: str
    key: str
    player: str | None = None  # "g" / "d" for optimizer hyperparameters
    owner: Any = None


def float_attributes(obj: Any) -> list[str]:
    """Public attributes of ``obj`` (instance attributes, or properties with a setter) that hold a float now."""
    names = [k for k, v in vars(obj).items() if not k.startswith("_") and isinstance(v, float)]
    props = [k for k, p in inspect.getmembers(type(obj), lambda m: isinstance(m, property) and m.fset is not None)
             if not k.startswith("_") and isinstance(getattr(obj, k), float)]
    return sorted(set(names + props))


def _optimizer_keys(factory: Any) -> list[str]:
    """The numeric hyperparameters of a partial optimizer's param group (betas as beta1, beta2).

    Read from a throw-away optimizer over one scalar, so an unknown key is refused before training.
    """
    group = factory([torch.zeros(1, requires_grad=True)]).param_groups[0]
    keys = []
    for k, v in group.items():
        if k == "betas":
            keys += ["beta1", "beta2"]
        elif k != "params" and _number(v):
            keys.append(k)
    return keys


def _lr_factor(schedule: Schedule, optimizer: torch.optim.Optimizer, images_per_step: int, step: int) -> float:
    """LambdaLR's multiplier of its base rate after ``step`` scheduler steps (= training steps).

    The base rate is read when called: a resumed run gets LambdaLR's base rates and the optimizer's
    ``initial_lr`` from the checkpoint together, so lr = value even if ``optim.X.lr`` changed meanwhile.
    """
    return schedule.value(step, step * images_per_step) / optimizer.param_groups[0]["initial_lr"]


class Schedules:
    """The run's schedules (``schedules:`` in the config): checked against the built module, applied per step.

    Learning rates go through torch's ``LambdaLR`` (one per scheduled optimizer, stepped with the module's
    other LR schedulers, its state in Lightning's checkpoints). Everything else is set by hand before each
    training step: torch has schedulers for learning rates only, not for Adam's betas or for attributes of
    arbitrary objects (a regularizer's gamma, the EMA half-life, an augmentation probability).

    Args:
        entries: name -> keyword arguments of ``Schedule`` (target, shape, start, end, length, warmup,
            warmup_from, unit).
        batch_size: real images per training step and process (``dataset.batch_size``), for unit=images.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None, batch_size: int = 1) -> None:
        valid = [p for p in inspect.signature(Schedule).parameters if p != "name"]
        self.schedules: dict[str, Schedule] = {}
        for name, entry in (entries or {}).items():
            if not isinstance(entry, Mapping):
                raise ValueError(f"schedules.{name}={entry!r}; valid: a mapping with keys {', '.join(valid)}")
            unknown = [k for k in entry if k not in valid]
            if unknown or "target" not in entry or "start" not in entry:
                what = f"unknown key {unknown[0]!r}" if unknown else "needs target and start"
                raise ValueError(f"schedules.{name}: {what}; valid keys: {', '.join(valid)}")
            self.schedules[name] = Schedule(**dict(entry), name=name)
        self.batch_size = int(batch_size)
        self.bound: dict[str, list[Target]] = {}

    def __len__(self) -> int:
        return len(self.schedules)

    # ------------------------------------------------------------- checking targets
    @staticmethod
    def valid_targets(module: Any) -> dict[str, Target]:
        """path -> Target for every hyperparameter of ``module`` (a GANModule) that a schedule may set."""
        found: dict[str, Target] = {}
        for player, factory in (("g", module.g_optimizer), ("d", module.d_optimizer)):
            for key in _optimizer_keys(factory):
                found[f"optim.{player}.{key}"] = Target(f"optim.{player}.{key}", key, player=player)
        named = {"regularizers": module.regularizers, "g_terms": module.g_terms, "augment": module.augment_hooks}
        owners = {f"{group}.{name}": obj for group, objs in named.items() for name, obj in objs.items()}
        owners["loss"] = module.loss
        if module.ema is not None:
            owners["ema"] = module.ema
        for prefix, obj in owners.items():
            for attr in float_attributes(obj):
                found[f"{prefix}.{attr}"] = Target(f"{prefix}.{attr}", attr, owner=obj)
        return found

    def bind(self, module: Any) -> None:
        """Resolve every target on ``module``; a ValueError (one line) for a target that is not in the list,
        is moved by its component itself, is set twice, or is a learning rate that an LR scheduler owns."""
        valid = self.valid_targets(module)
        seen: dict[tuple, str] = {}
        for name, schedule in self.schedules.items():
            targets = []
            for path in schedule.targets:
                target = valid.get(path)
                if target is None:
                    hint = ("; EMA is off (set ema.decay or ema.half_life_images)" if path.startswith("ema.")
                            and module.ema is None else "")
                    raise ValueError(f"schedules.{name}.target={path!r} is not a schedulable hyperparameter of this "
                                     f"run{hint}; valid: {', '.join(sorted(valid))}")
                adapted = getattr(target.owner, "adapted", {})
                if target.key in adapted:
                    owner = path.rsplit(".", 1)[0]
                    raise ValueError(f"schedules.{name}.target={path!r}: {owner} adapts {target.key} itself; valid: "
                                     f"{owner}.{adapted[target.key]}, so that only the schedule moves it")
                ident = (target.player, target.key) if target.player else (id(target.owner), target.key)
                if ident in seen:
                    raise ValueError(f"schedules.{name}.target={path!r} is also set by schedules.{seen[ident]}; "
                                     f"valid: one schedule per hyperparameter")
                seen[ident] = name
                if target.key == "lr" and target.player:
                    self._check_lr(module, name, target)
                targets.append(target)
            self.bound[name] = targets

    @staticmethod
    def _check_lr(module: Any, name: str, target: Target) -> None:
        if getattr(module, f"{target.player}_scheduler") is not None:
            raise ValueError(f"schedules.{name}.target={target.path!r}: optim.{target.player}_scheduler already "
                             f"schedules that learning rate; valid: one of the two "
                             f"(optim.{target.player}_scheduler=null)")
        factory = getattr(module, f"{target.player}_optimizer")
        if factory([torch.zeros(1, requires_grad=True)]).param_groups[0]["lr"] == 0:
            raise ValueError(f"schedules.{name}.target={target.path!r}: optim.{target.player}.lr=0 cannot be "
                             f"scheduled (LambdaLR scales it); valid: any nonzero optim.{target.player}.lr")

    # ------------------------------------------------------------- applying
    def lr_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer],
                      world_size: int = 1) -> list[torch.optim.lr_scheduler.LambdaLR]:
        """A ``LambdaLR`` for each optimizer (``{"g": opt_g, "d": opt_d}``) with a scheduled learning rate.

        Its factor is value / base rate, so lr = value (to rounding) at every step, also after a resume.
        ``functools.partial`` rather than a lambda: LambdaLR saves the ``__dict__`` of a callable object
        (empty for a partial) and skips plain functions, so checkpoints stay plain data.
        """
        images_per_step = self.batch_size * world_size
        schedulers = []
        for name, targets in self.bound.items():
            for target in targets:
                if target.key == "lr" and target.player:
                    opt = optimizers[target.player]
                    factor = functools.partial(_lr_factor, self.schedules[name], opt, images_per_step)
                    schedulers.append(torch.optim.lr_scheduler.LambdaLR(opt, factor))
        return schedulers

    def apply(self, step: int, optimizers: Mapping[str, torch.optim.Optimizer],
              world_size: int = 1) -> dict[str, float]:
        """Set every non-learning-rate target to its value for the step after ``step`` completed steps.

        Returns:
            name -> the value the run now uses at the schedule's first target (read back, so a learning rate
            shows what its LambdaLR set), for the ``sched/NAME`` log tags.
        """
        images = step * self.batch_size * world_size
        values = {}
        for name, targets in self.bound.items():
            value = self.schedules[name].value(step, images)
            for target in targets:
                if target.player is None:
                    setattr(target.owner, target.key, value)
                elif target.key != "lr":  # learning rates: LambdaLR
                    _set_group(optimizers[target.player], target.key, value)
            values[name] = _get(targets[0], optimizers)
        return values


def _set_group(optimizer: torch.optim.Optimizer, key: str, value: float) -> None:
    for group in optimizer.param_groups:
        if key in ("beta1", "beta2"):
            b1, b2 = group["betas"]
            group["betas"] = (value, b2) if key == "beta1" else (b1, value)
        else:
            group[key] = value


def _get(target: Target, optimizers: Mapping[str, torch.optim.Optimizer]) -> float:
    if target.player is None:
        return float(getattr(target.owner, target.key))
    group = optimizers[target.player].param_groups[0]
    if target.key in ("beta1", "beta2"):
        return float(group["betas"][target.key == "beta2"])
    return float(group[target.key])
