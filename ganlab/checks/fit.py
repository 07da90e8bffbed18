"""Checks on the built objects, before the first step: the optimizers on the real parameters, the data against
the batch, and one forward pass of G and D on a tiny batch (shapes).

What Lightning or torch would otherwise raise after "Training for N steps", inside a traceback, is raised
here as a one-line ``ConfigError`` naming the key. Nothing here changes the module's state or draws from
the global random stream: the training run stays bit for bit the same.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganlab.checks.domains import show
from ganlab.config.errors import ConfigError
from ganlab.errors import one_line


def world_size(cfg: DictConfig) -> int:
    """Processes of the run: trainer.devices (an integer or a list) times trainer.num_nodes (1 when unset)."""
    devices, nodes = OmegaConf.select(cfg, "trainer.devices"), OmegaConf.select(cfg, "trainer.num_nodes")
    ranks = devices if isinstance(devices, int) and devices > 0 else len(devices) if isinstance(devices, list) else 1
    return ranks * (nodes if isinstance(nodes, int) and nodes > 0 else 1)


def _culprit(factory: functools.partial, params: list) -> str | None:
    """The keyword of ``factory`` without which it builds (the argument the error is about), or None."""
    for name in factory.keywords:
        rest = {k: v for k, v in factory.keywords.items() if k != name}
        try:
            factory.func(params, *factory.args, **rest)
        except (ValueError, TypeError):
            continue
        return name
    return None


def check_optimizers(model: Any) -> None:
    """Build each optimizer (and LR scheduler) on the parameters it will own, as ``configure_optimizers`` will."""
    for who, net in (("g", model.generator), ("d", model.discriminator)):
        factory, key = getattr(model, f"{who}_optimizer"), f"optim.{who}"
        params = list(net.parameters())
        try:
            optimizer = factory(params)
        except (ValueError, TypeError) as e:
            name = _culprit(factory, params) if isinstance(factory, functools.partial) else None
            where = f"{key}.{name}={show(factory.keywords[name])}" if name else key
            raise ConfigError(f"{where}: {one_line(e)}; valid: the arguments of "
                              f"{getattr(factory, 'func', factory).__name__} (torch.optim)") from e
        scheduler = getattr(model, f"{who}_scheduler", None)
        if scheduler is not None:
            try:
                scheduler(optimizer)
            except (ValueError, TypeError, KeyError) as e:
                raise ConfigError(f"optim.{who}_scheduler: {one_line(e)}; valid: an LR scheduler partial whose "
                                  f"arguments torch.optim.lr_scheduler accepts") from e


def check_data(cfg: DictConfig, datamodule: Any) -> None:
    """At least one real batch per process and training step (batch_size x n_critic samples)."""
    data = getattr(datamodule, "train_data", None)
    per_step = getattr(datamodule, "batch_size", 0) * getattr(datamodule, "batches_per_step", 1)
    if data is None or not per_step:
        return
    world = world_size(cfg)
    per_rank = len(data) // world
    if per_rank < per_step:
        n_critic = "game.n_critic"  # datamodule.batches_per_step follows it
        over = f" over {world} processes ({per_rank} each)" if world > 1 else ""
        raise ConfigError(f"dataset.batch_size={datamodule.batch_size} x {n_critic}={datamodule.batches_per_step} = "
                          f"{per_step} real samples per step, but dataset {datamodule.name!r} has {len(data)} training "
                          f"samples{over}; valid: dataset.batch_size <= {per_rank // datamodule.batches_per_step}")


@contextmanager
def _evaluating(*nets: nn.Module) -> Iterator[None]:
    """Eval mode (BatchNorm's running statistics and spectral norm's vectors not updated), no graph, the global
    random stream untouched; every submodule's own mode restored afterwards."""
    modes = [(m, m.training) for net in nets for m in net.modules()]
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for net in nets:
                net.eval()
            yield
    finally:
        for m, training in modes:
            m.training = training


def check_shapes(cfg: DictConfig, model: Any, datamodule: Any) -> None:
    """G's samples have the data's shape and D gives one logit per sample (or pack): one pass on a tiny batch."""
    data = getattr(datamodule, "train_data", None)
    if data is None:
        return
    pack = OmegaConf.select(cfg, "pack", default=1) or 1
    n = 2 * pack * len(getattr(model, "seeds", None) or [0])  # seed ensembles: a member-major batch
    g, d = model.generator, model.discriminator
    z = torch.zeros(n, g.z_dim)
    y = torch.arange(n) % model.num_classes if getattr(model, "num_classes", 0) else None
    with _evaluating(g, d):
        try:
            x = g(z, y)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            raise ConfigError(f"generator: a forward pass on {n} latent vectors fails ({one_line(e)}); valid: "
                              f"generator.* settings that fit generator.z_dim and dataset.*") from e
        want = tuple(data.x.shape[1:])
        if tuple(x.shape[1:]) != want:
            raise ConfigError(f"generator makes samples of shape {list(x.shape[1:])}, the data {list(want)} "
                              f"(dataset.channels, dataset.resolution); valid: generator.* settings that give "
                              f"{list(want)}")
        try:
            logits = d(x, y)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            raise ConfigError(f"discriminator: a forward pass on {n} samples of shape {list(want)} fails "
                              f"({one_line(e)}); valid: discriminator.* settings that fit dataset.*") from e
    if tuple(logits.shape) != (n // pack,):
        raise ConfigError(f"discriminator gives logits of shape {list(logits.shape)} for {n} samples (pack={pack}); "
                          f"valid: one logit per sample or pack, [{n // pack}]")
