"""From a composed config to objects: consistency checks, resolvers, then the module and callbacks.

Everything is built with ``hydra.utils.instantiate`` from ``_target_`` paths (the GANModule from
the ``model`` node); nothing here names an architecture, loss, game or dataset.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ganlab.threads import parse_setting

# the config tree lives beside the package in the repository (installed with `pip install -e`)
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


class ConfigError(ValueError):
    """An inconsistent or invalid configuration, reported before any work starts."""


# keys that must agree with the dataset (they interpolate from it by default)
_MUST_MATCH = [
    ("generator.resolution", "dataset.resolution"),
    ("generator.channels", "dataset.channels"),
    ("discriminator.resolution", "dataset.resolution"),
    ("discriminator.num_classes", "generator.num_classes"),
    ("discriminator.z_dim", "generator.z_dim"),
    ("datamodule.batches_per_step", "game.n_critic"),
]

# keys that moved: old spelling -> today's (refused in one line naming the new key, on the command line and in
# composed configs)
RENAMED = {"optim.n_critic": "game.n_critic", "optim.n_gen": "game.n_gen"}

_MISSING = object()


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=True)
    except Exception as e:  # an interpolation that cannot resolve
        raise ConfigError(f"{key}: {e}".splitlines()[0]) from e


def renamed(key: str, value: Any = "N") -> ConfigError:
    """The one-line refusal of a key that moved (``RENAMED``)."""
    return ConfigError(f"{key} is now {RENAMED[key]} (the game owns its schedule, conf/game/); "
                       f"use {RENAMED[key]}={value}")


def check_overrides(overrides: list[str]) -> None:
    """Refuse command-line overrides of moved keys (``optim.n_critic=5``) before Hydra composes them."""
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if key in RENAMED:
            raise renamed(key, value if sep else "N")


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` (one line, naming the keys) when G, D, data and optim disagree."""
    for key in RENAMED:
        if _get(cfg, key) is not _MISSING:  # a preset or a user's yaml still sets the old key
            raise renamed(key, _get(cfg, key))
    for key, ref in _MUST_MATCH:
        a, b = _get(cfg, key), _get(cfg, ref)
        if a is not _MISSING and b is not _MISSING and a != b:
            raise ConfigError(f"{key}={a} does not match {ref}={b}; set them to the same value "
                              f"(by default {key} follows ${{{ref}}})")
    for key in ("generator.num_classes", "discriminator.num_classes"):
        k, n = _get(cfg, key), _get(cfg, "dataset.num_classes")
        if k not in (_MISSING, 0, None) and k != n:
            raise ConfigError(f"{key}={k} does not match dataset.num_classes={n}; valid: 0 (unconditional) or "
                              f"{n} (conditional=projection / conditional=acgan set it)")
    seed = _get(cfg, "seed")
    if seed is not _MISSING and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ConfigError(f"seed={seed}; valid: an integer >= 0")
    pack = _get(cfg, "pack")
    if pack is not _MISSING and (not isinstance(pack, int) or pack < 1):
        raise ConfigError(f"pack={pack}; valid: an integer >= 1 (1 = no packing, m > 1 = PacGAN m)")
    d_channels, channels = _get(cfg, "discriminator.channels"), _get(cfg, "dataset.channels")
    if _MISSING not in (d_channels, channels, pack) and d_channels != channels * pack:
        raise ConfigError(f"discriminator.channels={d_channels} does not match dataset.channels={channels} "
                          f"x pack={pack}; set discriminator.channels to {channels * pack} (by default it "
                          f"follows ${{ganlab.times:${{dataset.channels}},${{pack}}}})")
    for key in ("dataset.batch_size", "trainer.max_steps"):
        value = _get(cfg, key)
        if value is not _MISSING and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{key}={value}; valid: an integer >= 1")
    every = _get(cfg, "metrics.every_n_steps")
    if isinstance(every, int) and every < 1:
        raise ConfigError(f"metrics.every_n_steps={every}; valid: an integer >= 1")
    _check_evaluation(cfg)
    _check_console(cfg)
    for name, node in (_get(cfg, "metrics.callbacks") or {}).items():
        for metric in (node.get("metrics") or {}) if isinstance(node, DictConfig) else {}:
            key = f"metrics.callbacks.{name}.metrics.{metric}"
            if "feature" in node.metrics[metric] and _get(cfg, f"{key}.feature") is None:
                raise ConfigError(f"dataset {cfg.dataset.name!r} has no feature extractor (dataset.feature=null) "
                                  f"for {key}; use metrics=none (or metrics=modes for 2-D toy sets)")
    if pack is not _MISSING:
        batch = _get(cfg, "dataset.batch_size")
        if isinstance(batch, int) and batch % pack:
            raise ConfigError(f"dataset.batch_size={batch} does not split into packs of pack={pack}; "
                              f"valid: a multiple of {pack}")
    if _get(cfg, "generator.z_dim") is _MISSING:
        raise ConfigError("generator.z_dim is missing; every generator config must set its latent size")


def build(node: Any, key: str, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)`` with errors reduced to one line that names the config key."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        # Hydra names the nested node that failed (e.g. model.generator) on a "full_key:" line
        where = [line.split(":", 1)[1].strip() for line in str(e).splitlines() if line.startswith("full_key:")]
        raise ConfigError(f"{where[0] if where and where[0] else key}: {cause}".splitlines()[0]) from e


def _check_evaluation(cfg: DictConfig) -> None:
    """Evaluation settings that would otherwise fail only at the first evaluation, after training started."""
    if not _get(cfg, "metrics.callbacks"):
        return
    n, batch = _get(cfg, "metrics.num_samples"), _get(cfg, "metrics.batch_size")
    if not isinstance(n, int) or n < 2:
        raise ConfigError(f"metrics.num_samples={n}; valid: an integer >= 2 (FID needs a covariance; "
                          f"2,000 is the default) or metrics=none")
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"metrics.batch_size={batch}; valid: an integer >= 1")
    devices, nodes = _get(cfg, "trainer.devices"), _get(cfg, "trainer.num_nodes")
    world = (devices if isinstance(devices, int) and devices > 0 else len(devices) if isinstance(devices, list)
             else 1) * (nodes if isinstance(nodes, int) and nodes > 0 else 1)
    batches = -(-n // batch)  # evaluation batches, dealt round-robin to the ranks
    if world > 1 and batches < world:
        raise ConfigError(f"metrics.num_samples={n} in batches of metrics.batch_size={batch} gives {batches} "
                          f"evaluation batch(es) for {world} processes; valid: num_samples >= {world * batch} "
                          f"or a metrics.batch_size <= {n // world}")


def _check_console(cfg: DictConfig) -> None:
    """``threads`` and ``verbose``: checked with the rest, before torch is imported."""
    value = _get(cfg, "threads")
    if value is not _MISSING:
        try:
            parse_setting(value)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    verbose = _get(cfg, "verbose")
    if verbose is not _MISSING and not isinstance(verbose, bool):
        raise ConfigError(f"verbose={verbose}; valid: true or false")


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


def task_overrides() -> list[str]:
    """The running Hydra job's command-line overrides (``hydra.overrides.task``); [] outside a Hydra job
    (configs composed by ``compose`` for scripts and tests)."""
    from hydra.core.hydra_config import HydraConfig

    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else []


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "train") -> DictConfig:
    """The root config composed as ``ganlab-train OVERRIDES`` would compose it (for scripts and tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))


def build_module(cfg: DictConfig) -> Any:
    """The GANModule of ``cfg.model`` (fresh weights, the resolved config inside, ``cfg.perf`` applied)."""
    try:
        module = build(cfg.model, "model")
    except ConfigError:
        raise
    except ValueError as e:  # the components' own checks (ema.decay, game.unroll.steps, game.n_critic, ...)
        raise ConfigError(str(e).splitlines()[0]) from e
    module.config = OmegaConf.to_container(cfg, resolve=True)  # stored in checkpoints (not instantiate's `config`)
    module.g_optimizer, module.d_optimizer = _float_betas(module.g_optimizer), _float_betas(module.d_optimizer)
    from ganlab.perf import apply_perf  # torch: imported when the first module is built, not with the config

    perf = cfg.get("perf") or {}
    module.memory_format = apply_perf(module.generator, module.discriminator, **perf)
    return module


def build_discriminator(cfg: DictConfig) -> Any:
    """D with its wrappers (``model.discriminator``: PacGAN packing, minibatch layers) as the module gets it."""
    return build(cfg.model.discriminator, "model.discriminator")


def _float_betas(factory: Any) -> Any:
    """A partial optimizer whose betas were given as integers on the command line (0 for 0.0) gets floats."""
    if isinstance(factory, functools.partial) and "betas" in factory.keywords:
        factory.keywords["betas"] = tuple(float(b) for b in factory.keywords["betas"])
    return factory


def build_callbacks(cfg: DictConfig) -> list:
    """The health monitor (``health``), the callbacks of ``callbacks`` and the metric callbacks (``metrics.callbacks``).

    The health monitor comes first: its rollback of a diverged step must happen before the divergence guard
    looks at that step's losses.
    """
    import torch

    nodes = {f"callbacks.{name}": node for name, node in
             {**(cfg.get("callbacks") or {}), **(cfg.metrics.get("callbacks") or {})}.items()}
    if cfg.get("health"):
        nodes = {"health": cfg.health, **nodes}
    from ganlab.callbacks.hooks import skip_unused_hooks

    # built without drawing from the global RNG (feature extractors initialise networks before loading
    # their weights): which metrics are on must not shift the training noise
    with torch.random.fork_rng(devices=[]):
        callbacks = [build(node, key) for key, node in nodes.items() if node is not None]
    skip_unused_hooks(callbacks)  # Lightning's per-step dispatch to empty hooks costs ~2.5 µs per callback and hook
    return callbacks
