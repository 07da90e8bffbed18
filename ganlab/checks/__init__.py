"""Checks before any work: every value that can be checked from the config, then the built objects.

- ``check_config(cfg)`` (light: OmegaConf only, before torch is imported; called by ``ganlab.config.validate``):
  required values (``???``) set, every value in its documented domain (``domains.DOMAINS``), no unknown
  top-level key added with ``+`` (``keys``), and the combination rules that need only the config (``together``).
- ``before_fit(cfg, model, datamodule, callbacks)`` (after building, before ``Trainer.fit``): the optimizers
  built on the real parameters, the data against the batch, a forward pass for the shapes (``fit``), and the
  combination rules that need the built objects.

Every refusal is one ``ConfigError`` line naming the key and what would be valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.checks import together
from ganlab.checks.domains import MISSING, domain_of, is_interpolation, leaves, show
from ganlab.checks.keys import groups, refusal


def _overrides() -> list[str]:
    """The running Hydra job's command-line overrides ([] outside a Hydra job)."""
    from hydra.core.hydra_config import HydraConfig

    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else []


def config_problem(cfg: DictConfig, overrides: Sequence[str] | None = None) -> str | None:
    """The first problem of ``cfg`` as one line (a required value unset, a value outside its domain, an unknown
    added key), or None."""
    from ganlab.config.compose import CONFIG_DIR

    raw = OmegaConf.to_container(cfg, resolve=False)
    found = [(k, v) for k, v in leaves(raw) if not k.startswith("hydra.")]
    for key, value in found:
        if value == MISSING:
            domain = domain_of(key)
            return f"{key} is required (??? in the config); valid: {domain.valid if domain else 'a value'}"
    for key, value in found:
        if is_interpolation(value):
            continue  # checked where it points
        domain = domain_of(key)
        if domain is not None and not domain.ok(value):
            return f"{key}={show(value)}; valid: {domain.valid}"
    return refusal(raw, _overrides() if overrides is None else overrides, groups(CONFIG_DIR))


def check_config(cfg: DictConfig, overrides: Sequence[str] | None = None) -> None:
    """Raise ``ConfigError`` for the first problem ``config_problem`` finds; log the config-only warnings.

    Args:
        overrides: the command line's overrides (default: the running Hydra job's).
    """
    from ganlab.config.errors import ConfigError

    problem = config_problem(cfg, overrides) or next(filter(None, (r(cfg) for r in together.CONFIG_ERRORS)), None)
    if problem:
        raise ConfigError(problem)
    together.warn([rule(cfg) for rule in together.CONFIG_RULES])


def before_fit(cfg: DictConfig, model: Any, datamodule: Any, callbacks: Sequence[Any] = ()) -> None:
    """The checks that need the built module, data and callbacks; ``ConfigError`` or warnings, before step one."""
    from ganlab.checks import fit

    fit.check_optimizers(model)
    fit.check_data(cfg, datamodule)
    fit.check_shapes(cfg, model, datamodule)
    together.warn([rule(model) for rule in together.MODEL_RULES]
                  + [rule(callbacks) for rule in together.CALLBACK_RULES])
