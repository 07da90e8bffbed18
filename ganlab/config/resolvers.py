"""ganlab's OmegaConf resolvers (``${ganlab.NAME:...}``), registered by the entry points before Hydra composes."""

from __future__ import annotations

import json

from omegaconf import DictConfig, OmegaConf


def every(interval: int, max_steps: int, points: int = 10) -> int:
    """``${ganlab.every:INTERVAL,${trainer.max_steps}}``: ``interval``, or a shorter one that gives a run of
    ``max_steps`` about ``points`` values (at least every step): 50 for 15,000 steps, 2 for 20 steps."""
    if not isinstance(max_steps, int) or max_steps < 1:
        return interval
    return max(1, min(interval, max_steps // points))


def register_resolvers() -> None:
    """ganlab's config resolvers (idempotent); entry points call this before Hydra composes."""
    from ganlab.sweep import run_name

    if not OmegaConf.has_resolver("ganlab.times"):  # D's input channels under PacGAN packing
        OmegaConf.register_new_resolver("ganlab.times", lambda a, b: a * b)
    if not OmegaConf.has_resolver("ganlab.every"):  # an interval that gives short runs a few points
        OmegaConf.register_new_resolver("ganlab.every", every)
    if not OmegaConf.has_resolver("ganlab.run_name"):  # sweep run folders
        OmegaConf.register_new_resolver("ganlab.run_name", lambda num, overrides: run_name(num, list(overrides)))
    if not OmegaConf.has_resolver("ganlab.task_overrides"):  # the HParams tab's overrides (callbacks.run_info)
        OmegaConf.register_new_resolver("ganlab.task_overrides", task_overrides)
    if not OmegaConf.has_resolver("ganlab.run_config"):  # the config a checkpoint carries (model.config)
        OmegaConf.register_new_resolver("ganlab.run_config", run_config)


def task_overrides() -> list[str]:
    """The running Hydra job's command-line overrides (``hydra.overrides.task``); [] outside a Hydra job
    (configs composed by ``compose`` for scripts and tests)."""
    from hydra.core.hydra_config import HydraConfig

    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else []


def run_config(*, _root_: DictConfig) -> str:
    """``${ganlab.run_config:}``: the whole run config, resolved, as JSON text (the module stores it in checkpoints).

    Text, so that ``instantiate`` builds none of the components the config names; the key that holds this
    interpolation (``model.config``) is left out of it.
    """
    tree = OmegaConf.to_container(_root_, resolve=False)
    model = tree.get("model")
    if isinstance(model, dict):
        model.pop("config", None)
    return json.dumps(OmegaConf.to_container(OmegaConf.create(tree), resolve=True))
