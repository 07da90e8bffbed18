"""From a composed config to objects: consistency checks, then the module and its pieces.

Everything is built with ``hydra.utils.instantiate`` from ``_target_`` paths; nothing here
names an architecture, loss or dataset.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ganlab.module import GANModule
from ganlab.nets.pacgan import PacDiscriminator
from ganlab.perf import apply_perf

# the config tree lives beside the package in the repository (installed with `pip install -e`)
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


class ConfigError(ValueError):
    """An inconsistent or invalid configuration, reported before any work starts."""


# keys that must agree with the dataset (they interpolate from it by default)
_MUST_MATCH = [
    ("generator.resolution", "dataset.resolution"),
    ("generator.channels", "dataset.channels"),
    ("discriminator.resolution", "dataset.resolution"),
    ("discriminator.channels", "dataset.channels"),
    ("discriminator.num_classes", "generator.num_classes"),
    ("discriminator.z_dim", "generator.z_dim"),
    ("dataset.datamodule.batches_per_step", "optim.n_critic"),
]

_MISSING = object()


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=True)
    except Exception as e:  # an interpolation that cannot resolve
        raise ConfigError(f"{key}: {e}".splitlines()[0]) from e


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` (one line, naming the keys) when G, D, data and optim disagree."""
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
    for key in ("optim.n_critic", "optim.n_gen", "dataset.batch_size", "trainer.max_steps"):
        value = _get(cfg, key)
        if value is not _MISSING and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{key}={value}; valid: an integer >= 1")
    every = _get(cfg, "metrics.every_n_steps")
    if isinstance(every, int) and every < 1:
        raise ConfigError(f"metrics.every_n_steps={every}; valid: an integer >= 1")
    for name in _get(cfg, "metrics.callbacks") or {}:
        if "feature" in cfg.metrics.callbacks[name] and _get(cfg, f"metrics.callbacks.{name}.feature") is None:
            raise ConfigError(f"dataset {cfg.dataset.name!r} has no feature extractor (dataset.feature=null) for "
                              f"metrics.callbacks.{name}; use metrics=none (or metrics=modes for 2-D toy sets)")
    pack = _get(cfg, "pack")
    if pack is not _MISSING:
        if not isinstance(pack, int) or pack < 1:
            raise ConfigError(f"pack={pack}; valid: an integer >= 1 (1 = no packing, m > 1 = PacGAN m)")
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
        raise ConfigError(f"{key}: {cause}".splitlines()[0]) from e


def build_module(cfg: DictConfig) -> GANModule:
    """The GANModule described by ``cfg`` (fresh weights, speed switches of ``cfg.perf`` applied)."""
    try:
        module = _module(cfg)
    except ConfigError:
        raise
    except ValueError as e:  # the module's own checks (ema.decay, unroll.steps, optim.n_critic, ...)
        raise ConfigError(str(e).splitlines()[0]) from e
    perf = cfg.get("perf") or {}
    module.memory_format = apply_perf(module.generator, module.discriminator, **perf)
    return module


def _named(cfg: DictConfig, key: str) -> dict[str, Any]:
    """name -> object for a dict of ``_target_`` nodes (regularizers, g_terms, augment); null entries skipped."""
    return {name: build(node, f"{key}.{name}") for name, node in (cfg.get(key) or {}).items() if node is not None}


def build_discriminator(cfg: DictConfig) -> Any:
    """D from ``discriminator``, packed (``pack`` > 1, PacGAN) and wrapped by ``minibatch`` when set."""
    pack = cfg.get("pack", 1) or 1
    if pack > 1:  # the inner D sees m samples stacked along channels
        inner = build(cfg.discriminator, "discriminator", channels=cfg.discriminator.channels * pack)
        discriminator = PacDiscriminator(inner, pack)
    else:
        discriminator = build(cfg.discriminator, "discriminator")
    if cfg.get("minibatch"):
        discriminator = build(cfg.minibatch, "minibatch")(discriminator=discriminator)
    return discriminator


def _module(cfg: DictConfig) -> GANModule:
    ema, unroll = cfg.get("ema") or {}, cfg.get("unroll") or {}
    return GANModule(
        generator=build(cfg.generator, "generator"),
        discriminator=build_discriminator(cfg),
        loss=build(cfg.loss, "loss"),
        g_optimizer=_optimizer(cfg.optim.g, "optim.g"),
        d_optimizer=_optimizer(cfg.optim.d, "optim.d"),
        g_scheduler=build(cfg.optim.g_scheduler, "optim.g_scheduler") if cfg.optim.get("g_scheduler") else None,
        d_scheduler=build(cfg.optim.d_scheduler, "optim.d_scheduler") if cfg.optim.get("d_scheduler") else None,
        n_critic=cfg.optim.n_critic,
        n_gen=cfg.optim.n_gen,
        simultaneous=bool(cfg.optim.get("simultaneous", False)),
        regularizers=_named(cfg, "regularizers"),
        g_terms=_named(cfg, "g_terms"),
        augment=_named(cfg, "augment"),
        ema_decay=ema.get("decay"),
        ema_start=ema.get("start", 0),
        unroll_steps=unroll.get("steps", 0),
        unroll_second_order=unroll.get("second_order", True),
        sample_seed=cfg.seed,
        num_classes=cfg.generator.get("num_classes", 0) or 0,
        config=OmegaConf.to_container(cfg, resolve=True),
    )


def _optimizer(node: Any, key: str) -> Any:
    """A partial optimizer; betas given as integers on the command line (0 for 0.0) become floats."""
    factory = build(node, key)
    if isinstance(factory, functools.partial) and "betas" in factory.keywords:
        factory.keywords["betas"] = tuple(float(b) for b in factory.keywords["betas"])
    return factory


def build_callbacks(cfg: DictConfig) -> list:
    """Callbacks from ``callbacks`` and the metric callbacks from ``metrics.callbacks``."""
    nodes = {**(cfg.get("callbacks") or {}), **(cfg.metrics.get("callbacks") or {})}
    return [build(node, f"callbacks.{name}") for name, node in nodes.items() if node is not None]
