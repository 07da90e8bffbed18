"""Actions on an alert beyond a warning: stop the run (``HealthStop``) or roll back to the last healthy state."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ganlab.errors import UserError


class HealthStop(UserError, RuntimeError):
    """A health detector with ``action: stop`` fired; the message is the alert's (a sweep records it as the reason)."""


def _to_cpu(obj: Any) -> Any:
    """Deep copy with every tensor cloned to the CPU (a snapshot that later steps cannot change)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return copy.deepcopy(obj)


class Rollback:
    """The last healthy state of G, D (and G's EMA) and both optimizers, kept in host memory, and its restore.

    Restoring loads those states back and multiplies every optimizer's current learning rates by ``lr_factor``;
    at most ``max_rollbacks`` times per run. The step counter, the data order and the noise stream go on
    (nothing is replayed): the run continues from the healthy weights with the configured change.

    Args:
        max_rollbacks: rollbacks allowed in one run; after them a rollback action stops the run instead.
        lr_factor: learning-rate multiplier applied at each rollback (0.5 halves them).
    """

    def __init__(self, max_rollbacks: int = 3, lr_factor: float = 0.5) -> None:
        if not isinstance(max_rollbacks, int) or max_rollbacks < 0:
            raise ValueError(f"health.rollback.max_rollbacks={max_rollbacks}; valid: an integer >= 0")
        if not lr_factor > 0:
            raise ValueError(f"health.rollback.lr_factor={lr_factor}; valid: a number > 0")
        self.max_rollbacks, self.lr_factor = max_rollbacks, lr_factor
        self.done = 0
        self.snapshot: dict[str, Any] | None = None

    @property
    def available(self) -> bool:
        return self.snapshot is not None and self.done < self.max_rollbacks

    @staticmethod
    def _nets(module: nn.Module) -> dict[str, nn.Module]:
        nets = {"generator": module.generator, "discriminator": module.discriminator}
        if getattr(module, "generator_ema", None) is not None:
            nets["generator_ema"] = module.generator_ema
        return nets

    def save(self, module: nn.Module, optimizers: list[torch.optim.Optimizer], step: int) -> None:
        """Keep the current state as the last healthy one."""
        self.snapshot = {"step": int(step),
                         "nets": {k: _to_cpu(net.state_dict()) for k, net in self._nets(module).items()},
                         "optimizers": [_to_cpu(opt.state_dict()) for opt in optimizers]}

    def restore(self, module: nn.Module, optimizers: list[torch.optim.Optimizer]) -> int:
        """Load the snapshot into ``module`` and ``optimizers``, scale the learning rates; returns its step."""
        if self.snapshot is None:
            raise RuntimeError("no healthy state to roll back to")
        for key, net in self._nets(module).items():
            net.load_state_dict(self.snapshot["nets"][key])
        for opt, state in zip(optimizers, self.snapshot["optimizers"], strict=True):
            lrs = [group["lr"] for group in opt.param_groups]  # today's rates: earlier rollbacks compound
            opt.load_state_dict(state)  # moves the state to the parameters' device
            for group, lr in zip(opt.param_groups, lrs, strict=True):
                group["lr"] = lr * self.lr_factor
        self.done += 1
        return self.snapshot["step"]
