"""ganlab-train's ensemble path: K members built exactly as K separate runs would build them, then stacked."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import build, build_module
from ganlab.ensemble.checks import member_seeds
from ganlab.ensemble.data import EnsembleDataModule
from ganlab.ensemble.evaluation import EnsembleEvaluation
from ganlab.ensemble.module import EnsembleGANModule
from ganlab.ensemble.nets import Stacked


def member_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of member ``seed``'s separate run: ``cfg`` with ``seed`` set and no ensemble."""
    member = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    member.seed = seed
    member.ensemble = {"size": 1, "seeds": None}
    return member


def build_datamodule(cfg: DictConfig) -> EnsembleDataModule:
    """The run's datamodule, serving every member's own data order (``EnsembleBatches``)."""
    return build(cfg.datamodule, "datamodule", _target_="ganlab.ensemble.data.EnsembleDataModule",
                 seeds=member_seeds(cfg))


def build_ensemble(cfg: DictConfig) -> EnsembleGANModule:
    """The K members, each built after ``seed_everything(S)`` as ``ganlab-train seed=S`` builds its module, stacked.

    Member k's noise generator starts from the global RNG state its separate run has after building its module,
    which is where that run's training noise starts (callbacks are built without drawing, ganlab.config).
    """
    seeds = member_seeds(cfg)
    modules, states = [], []
    for seed in seeds:
        pl.seed_everything(seed, workers=True, verbose=False)
        modules.append(build_module(member_config(cfg, seed)))
        states.append(torch.get_rng_state())
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    first = modules[0]
    ema = first.ema
    module = EnsembleGANModule(
        seeds=seeds, rng_states=states, sample_z=torch.stack([m.sample_z for m in modules]),
        generator=Stacked([m.generator for m in modules]), discriminator=Stacked([m.discriminator for m in modules]),
        loss=first.loss, g_optimizer=first.g_optimizer, d_optimizer=first.d_optimizer,
        g_scheduler=first.g_scheduler, d_scheduler=first.d_scheduler, game=first.game,
        regularizers=first.regularizers, ema=ema, num_sample_images=first.sample_z.shape[0], sample_seed=cfg.seed)
    module.config = OmegaConf.to_container(cfg, resolve=True)  # stored in checkpoints; ensemble.* included
    return module


def ensemble_callbacks(callbacks: list, size: int, out: str | None) -> list:
    """The callbacks with each ``Evaluation`` replaced by its per-member form (``EnsembleEvaluation``)."""
    from ganlab.callbacks.evaluation import Evaluation

    return [EnsembleEvaluation(c.metrics, size, out) if type(c) is Evaluation else c for c in callbacks]
