"""From a checked config to what ``ganlab-train`` fits: the data, the module, the callbacks and the logger.

A fine-tuning run (``init_from=CKPT``, ganlab.finetune) gets another run's G, D and EMA weights right after its
module is built (not on resume: the run's own checkpoint has every weight).

Everything is built with ``hydra.utils.instantiate`` from ``_target_`` paths: ``instantiate(cfg.model)`` alone
gives the module that is trained (the run config, betas and speed switches are its own arguments). A seed
ensemble (``ensemble.size > 1``, ganlab.ensemble) is assembled behind the same call: which one is chosen
once, here. Nothing here names an architecture, loss, game or dataset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import ConfigError, build
from ganlab.config.checks import member_seeds
from ganlab.ensemble.build import EnsembleParts
from ganlab.loggers import build_loggers

log = logging.getLogger("ganlab.assembly")


def build_module(cfg: DictConfig) -> Any:
    """The GANModule of ``cfg.model`` (fresh weights, the resolved config inside, ``cfg.perf`` applied)."""
    return build(cfg.model, "model")


def build_callbacks(cfg: DictConfig) -> list:
    """The health monitor (``health``), the callbacks of ``callbacks`` and the metric callbacks (``metrics.callbacks``).

    The health monitor comes first: its rollback of a diverged step must happen before the divergence guard
    looks at that step's losses.
    """
    nodes = {f"callbacks.{name}": node for name, node in
             {**(cfg.get("callbacks") or {}), **(cfg.metrics.get("callbacks") or {})}.items()}
    if cfg.get("health"):
        nodes = {"health": cfg.health, **nodes}
    # built without drawing from the global RNG (feature extractors initialise networks before loading
    # their weights): which metrics are on must not shift the training noise
    from ganlab.callbacks.hooks import skip_unused_hooks

    with torch.random.fork_rng(devices=[]):
        callbacks = [build(node, key) for key, node in nodes.items() if node is not None]
    skip_unused_hooks(callbacks)  # Lightning's per-step dispatch to empty hooks costs ~2.5 µs per callback and hook
    return callbacks


def run_dir(cfg: DictConfig) -> str | None:
    """``paths.output_dir``, or None where it cannot resolve (a config composed outside a Hydra job)."""
    from hydra.core.hydra_config import HydraConfig

    return OmegaConf.select(cfg, "paths.output_dir", default=None) if HydraConfig.initialized() else None


def init_weights(model: Any, cfg: DictConfig) -> None:
    """``init_from``: G, D and EMA weights of another run's checkpoint copied into the freshly built ``model``
    (``init_partial``: what fits); none on resume (``ckpt_path`` set). One-line ``ConfigError`` when they do not
    fit; what was copied and skipped goes to ``<run>/init_from.json``."""
    if not cfg.get("init_from"):
        return
    from ganlab.checkpoint import CheckpointError
    from ganlab.finetune import apply_init

    try:
        apply_init(model, cfg.init_from, bool(cfg.get("init_partial")), cfg.get("ckpt_path"), run_dir(cfg))
    except CheckpointError as e:
        raise ConfigError(str(e)) from e


class PlainParts:
    """One run: the datamodule, module and callbacks exactly as their config nodes build them."""

    def datamodule(self, cfg: DictConfig) -> Any:
        return build(cfg.datamodule, "datamodule")

    def module(self, cfg: DictConfig) -> Any:
        return build_module(cfg)

    def callbacks(self, cfg: DictConfig, built: list) -> list:
        return built


@dataclass
class Assembly:
    """What ``trainer.fit`` gets: the datamodule (its data loaded), the module, the callbacks and the logger."""

    datamodule: Any
    model: Any
    callbacks: list
    logger: Any

    @property
    def work(self) -> float:
        """G's + D's parameters times the batch: the size the thread policy reads (``threads.ThreadChoice``)."""
        params = sum(p.numel() for net in (self.model.generator, self.model.discriminator) for p in net.parameters())
        return float(params * self.datamodule.batch_size)


def _count(n: int) -> str:
    """1834240 -> '1.8 M' (Lightning's model summary style, in one short word)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def assemble(cfg: DictConfig) -> Assembly:
    """Data (loaded now: a missing folder fails before any training), module, callbacks and logger of ``cfg``;
    a seed ensemble's when ``ensemble.size > 1``. Logs one line for the data and one for the GAN."""
    seeds = member_seeds(cfg)
    parts = PlainParts() if len(seeds) == 1 else EnsembleParts(seeds)
    log.info("Dataset <%s> at %sx%s, %s channel(s)", cfg.dataset.name, cfg.dataset.resolution,
             cfg.dataset.resolution, cfg.dataset.channels)
    if len(seeds) > 1:
        log.info("Seed ensemble: %d members, seeds %s, batched in one process", len(seeds), seeds)
    datamodule = parts.datamodule(cfg)
    try:
        datamodule.setup("fit")
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from e
    model = parts.module(cfg)
    init_weights(model, cfg)  # fine-tuning: another run's weights (init_from), before anything reads them
    g, d = (sum(p.numel() for p in net.parameters()) for net in (model.generator, model.discriminator))
    log.info("GAN: G <%s> %s params, D <%s> %s params, loss <%s>", cfg.generator._target_, _count(g),
             cfg.discriminator._target_, _count(d), cfg.loss._target_)
    callbacks = parts.callbacks(cfg, build_callbacks(cfg))
    # logger=[tensorboard,csv,mlflow,wandb], any subset (ganlab/loggers)
    return Assembly(datamodule, model, callbacks, build_loggers(cfg.get("logger")) or False)
