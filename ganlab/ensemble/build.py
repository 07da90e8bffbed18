"""ganlab-train's ensemble parts: K members built exactly as K separate runs would build them, then stacked."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import build
from ganlab.config.resolvers import run_config
from ganlab.ensemble.checks import check_members
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


class EnsembleParts:
    """The parts of a seed ensemble of ``seeds`` (``ganlab.assembly.assemble`` picks them for ensemble.size > 1).

    Args:
        seeds: the members' seeds (``ganlab.ensemble.checks.member_seeds``).
    """

    def __init__(self, seeds: list[int]) -> None:
        self.seeds = list(seeds)

    def datamodule(self, cfg: DictConfig) -> EnsembleDataModule:
        """The run's datamodule, serving every member's own data order (``EnsembleBatches``)."""
        return build(cfg.datamodule, "datamodule", _target_="ganlab.ensemble.data.EnsembleDataModule",
                     seeds=self.seeds)

    def module(self, cfg: DictConfig) -> EnsembleGANModule:
        """The K members, each built after ``seed_everything(S)`` as ``ganlab-train seed=S`` builds its module,
        stacked; the first member's components are checked for what a batched ensemble needs, before the rest.

        Member k's noise generator starts from the global RNG state its separate run has after building its module,
        which is where that run's training noise starts (callbacks are built without drawing, ganlab.assembly).
        """
        modules, states = [], []
        for seed in self.seeds:
            pl.seed_everything(seed, workers=True, verbose=False)
            modules.append(build(member_config(cfg, seed).model, "model"))
            if len(modules) == 1:
                check_members(cfg, modules[0])
            states.append(torch.get_rng_state())
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        first = modules[0]
        return EnsembleGANModule(
            seeds=self.seeds, rng_states=states, sample_z=torch.stack([m.sample_z for m in modules]),
            generator=Stacked([m.generator for m in modules]),
            discriminator=Stacked([m.discriminator for m in modules]),
            loss=first.loss, g_optimizer=first.g_optimizer, d_optimizer=first.d_optimizer,
            g_scheduler=first.g_scheduler, d_scheduler=first.d_scheduler, game=first.game,
            regularizers=first.regularizers, ema=first.ema, num_sample_images=first.sample_z.shape[0],
            sample_seed=cfg.seed, config=run_config(_root_=cfg))  # stored in checkpoints; ensemble.* included

    def callbacks(self, cfg: DictConfig, built: list) -> list:
        """The run's callbacks with each ``Evaluation`` replaced by its per-member form (``EnsembleEvaluation``):
        per-member metrics, their mean and SE, appended to checkpoints/metrics.json."""
        from ganlab.callbacks.evaluation import Evaluation

        out = f"{cfg.paths.output_dir}/checkpoints/metrics.json"
        return [EnsembleEvaluation(c.metrics, len(self.seeds), out) if type(c) is Evaluation else c for c in built]
