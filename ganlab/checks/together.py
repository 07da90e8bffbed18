"""Valid alone, wrong together: settings each fine on its own whose combination the literature warns about.

Each rule is one function returning the one-line message, or None; ``warn`` logs the warnings, an error
(``ConfigError``, ``CONFIG_ERRORS``) is raised where the combination makes the run's purpose void. The rules
are listed in docs/bad-input.md ("Valid alone, wrong together").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("ganlab.checks")


def evaluation_never_runs(cfg: DictConfig) -> str | None:
    """Evaluation every N steps in a run of fewer than N steps: val/* is never logged."""
    if not OmegaConf.select(cfg, "metrics.callbacks", default=None):
        return None
    every, steps = OmegaConf.select(cfg, "metrics.every_n_steps"), OmegaConf.select(cfg, "trainer.max_steps")
    if isinstance(every, int) and isinstance(steps, int) and every > steps:
        return (f"metrics.every_n_steps={every} > trainer.max_steps={steps}: no evaluation runs, so "
                f"{cfg.metrics.get('monitor') or 'val/*'} is never logged (nor best.ckpt written); valid: "
                f"metrics.every_n_steps <= {steps}, or metrics=none")
    return None


def evaluation_turned_off(cfg: DictConfig) -> str | None:
    """Metrics on, but Lightning told to run no evaluation batch: no metric is ever computed."""
    limit = OmegaConf.select(cfg, "metrics.limit_val_batches")
    if OmegaConf.select(cfg, "metrics.callbacks", default=None) and limit == 0 and not isinstance(limit, bool):
        return ("metrics.limit_val_batches=0 runs no evaluation batch, but metrics are on (metrics.callbacks); "
                "valid: a fraction in (0, 1] or a number of batches >= 1, or metrics=none")
    return None


def _has_batchnorm(net: Any) -> bool:
    from torch import nn

    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def _has_spectral_norm(net: Any) -> bool:
    from torch.nn.utils import parametrize

    return any(parametrize.is_parametrized(m) and any("SpectralNorm" in type(p).__name__
                                                      for plist in m.parametrizations.values() for p in plist)
               for m in net.modules())


def penalty_with_batchnorm(model: Any) -> str | None:
    """Gulrajani et al. 2017, Sec. 4: a penalty on per-sample input gradients is not valid with BatchNorm in D,
    which makes each sample's output depend on the whole batch."""
    named = [n for n, r in (getattr(model, "regularizers", None) or {}).items() if getattr(r, "input_gradients", False)]
    if named and _has_batchnorm(model.discriminator):
        return (f"regularizers.{named[0]} penalizes D's per-sample input gradients, but D has BatchNorm, which mixes "
                f"the samples of a batch (Gulrajani et al. 2017, Sec. 4); valid: a D without BatchNorm (e.g. "
                f"discriminator.batchnorm=false) or layer norm")
    return None


def critic_without_constraint(model: Any) -> str | None:
    """Arjovsky et al. 2017: a Wasserstein critic without a Lipschitz constraint estimates nothing bounded."""
    if not getattr(model.loss, "needs_lipschitz", False):
        return None
    regs = (getattr(model, "regularizers", None) or {}).values()
    if any(getattr(r, "lipschitz", False) for r in regs) or _has_spectral_norm(model.discriminator):
        return None
    return (f"loss {type(model.loss).__name__} needs a Lipschitz critic, but nothing constrains D (Arjovsky et al. "
            f"2017); valid: loss=wgan_gp, loss=wasserstein (weight clipping), +regularizers=gp or dragan, or "
            f"discriminator.spectral_norm=true")


def best_checkpoint_backwards(callbacks: Sequence[Any]) -> str | None:
    """best.ckpt chosen in the direction opposite to the monitored metric's: it would keep the worst model."""
    directions: dict[str, str] = {}
    for cb in callbacks:
        metrics = getattr(cb, "metrics", None)
        for metric in metrics.values() if isinstance(metrics, dict) else ():
            directions.update({f"val/{k}": v for k, v in dict(getattr(metric, "best", {}) or {}).items()})
    for cb in callbacks:
        monitor, mode = getattr(cb, "monitor", None), getattr(cb, "mode", None)
        if monitor in directions and mode in ("min", "max") and mode != directions[monitor]:
            better = "lower" if directions[monitor] == "min" else "higher"
            return (f"callbacks.model_checkpoint.mode={mode}, but {monitor} is better when {better}: best.ckpt would "
                    f"keep the worst model; valid: callbacks.model_checkpoint.mode={directions[monitor]}")
    return None


CONFIG_RULES: tuple[Callable[[DictConfig], str | None], ...] = (evaluation_never_runs,)
CONFIG_ERRORS: tuple[Callable[[DictConfig], str | None], ...] = (evaluation_turned_off,)
MODEL_RULES: tuple[Callable[[Any], str | None], ...] = (penalty_with_batchnorm, critic_without_constraint)
CALLBACK_RULES: tuple[Callable[[Sequence[Any]], str | None], ...] = (best_checkpoint_backwards,)


def warn(messages: Sequence[str | None]) -> list[str]:
    """Log each message as one warning line; returns those logged."""
    shown = [m for m in messages if m]
    for message in shown:
        log.warning("%s", message)
    return shown
