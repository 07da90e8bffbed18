"""What a seed ensemble can express, checked on the composed config before torch is imported.

Every refusal is one line naming the key and what is valid with ``ensemble.size > 1``.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config import ConfigError

NETS = {"generator": "ganlab.nets.mlp.MLPGenerator", "discriminator": "ganlab.nets.mlp.MLPDiscriminator"}
# losses that are means of per-sample terms: on a member-major batch of K members their value is the mean of the
# members' losses, so K times it is their sum and each member's weights get exactly their own gradient
LOSSES = ("Minimax", "NonSaturating", "LeastSquares", "Hinge", "Wasserstein", "RpGAN")
# penalties that are means of per-sample terms and draw no random numbers (GP, DRAGAN would draw from the global
# RNG, not the member's), and an elementwise constraint
REGULARIZERS = ("R1", "R2", "WeightClip")
# elementwise optimizers: one over the stacked weights [K, ...] keeps every member's state apart
OPTIMIZERS = ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.RMSprop", "torch.optim.SGD")
GAMES = ("ganlab.game.Alternating", "ganlab.game.Simultaneous")


def _select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)


def member_seeds(cfg: DictConfig) -> list[int]:
    """The members' seeds: ``ensemble.seeds`` when given, else ``seed, seed+1, ..., seed+size-1``; [seed] when off."""
    node = cfg.get("ensemble") or {}
    size, seeds = node.get("size", 1), node.get("seeds")
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) \
                or len(set(seeds)) != len(seeds):
            raise ConfigError(f"ensemble.seeds={seeds}; valid: null or a list of distinct integers >= 0")
        if size not in (1, len(seeds)):
            raise ConfigError(f"ensemble.size={size} with {len(seeds)} ensemble.seeds; valid: size 1 or "
                              f"{len(seeds)} (the seeds' number)")
        return seeds
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"ensemble.size={size}; valid: an integer >= 1 (1: no ensemble)")
    return [cfg.seed + i for i in range(size)]


def enabled(cfg: DictConfig) -> bool:
    return len(member_seeds(cfg)) > 1


def check(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` (one line) for anything an ensemble of ``member_seeds(cfg)`` cannot train."""
    if not enabled(cfg):
        return
    why = "with ensemble.size > 1"
    for who, target in NETS.items():
        if _select(cfg, f"{who}._target_") != target:
            raise ConfigError(f"{who}={_select(cfg, f'{who}._target_')} {why}; valid: {who}=mlp ({target}); "
                              f"other families are not batched over members yet")
    flags = [("generator.batchnorm", False), ("generator.spectral_norm", False), ("discriminator.spectral_norm", False),
             ("generator.num_classes", 0), ("discriminator.num_classes", 0), ("pack", 1),
             ("datamodule.holdout", 0), ("trainer.devices", 1), ("trainer.num_nodes", 1), ("freeze.d_blocks", 0),
             ("init_from", None), ("optim.accumulate", 1)]
    hints = {"generator.num_classes": "conditional=null", "discriminator.num_classes": "conditional=null",
             "trainer.devices": "trainer.devices=1 (no DDP)"}
    for key, valid in flags:
        value = _select(cfg, key, default=valid)
        if value != valid:
            raise ConfigError(f"{key}={value} {why}; valid: {hints.get(key, f'{key}={valid}')}")
    if _select(cfg, "health"):
        raise ConfigError(f"health: the health monitor does not watch ensemble members {why}; valid: health=none")
    if _select(cfg, "minibatch"):
        raise ConfigError(f"minibatch={_select(cfg, 'minibatch._target_')} {why}; valid: minibatch=null")
    for key in ("augment", "g_terms", "schedules"):
        if _select(cfg, key):
            raise ConfigError(f"{key}={{{', '.join(_select(cfg, key))}}} {why}; valid: {key}={{}} (not per member yet)")
    if _select(cfg, "ema.half_life_images") is not None:
        raise ConfigError(f"ema.half_life_images {why}; valid: ema.decay (the same average, given per step)")
    loss = str(_select(cfg, "loss._target_", "")).rsplit(".", 1)[-1]
    if loss not in LOSSES:
        raise ConfigError(f"loss={_select(cfg, 'loss._target_')} {why}; valid: per-sample losses "
                          f"({', '.join(LOSSES)})")
    for name, node in (_select(cfg, "regularizers") or {}).items():
        kind = str((node or {}).get("_target_", "")).rsplit(".", 1)[-1]
        if node is not None and kind not in REGULARIZERS:
            raise ConfigError(f"regularizers.{name}={kind} {why}; valid: {', '.join(REGULARIZERS)}")
    for who in ("g", "d"):
        target = _select(cfg, f"optim.{who}._target_")
        if target not in OPTIMIZERS:
            raise ConfigError(f"optim.{who}._target_={target} {why}; valid: {', '.join(OPTIMIZERS)} (elementwise)")
    game = _select(cfg, "game._target_")
    if game not in GAMES or _select(cfg, "game.unroll") is not None:
        raise ConfigError(f"game={game}{' with unroll' if _select(cfg, 'game.unroll') else ''} {why}; valid: "
                          f"game=alternating or game=simultaneous without unroll")
