"""Cross-key checks of a composed config, before torch is imported: one-line errors naming the keys.

``validate`` checks what single components cannot (G, D and data agree; evaluation settings fit the
processes; moved keys are named by their new spelling); each component checks its own arguments when it
is built. ``check_overrides`` refuses moved keys on the command line, before Hydra composes.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config.errors import ConfigError
from ganlab.threads import parse_setting

# keys that must agree with the dataset (they interpolate from it by default)
_MUST_MATCH = [
    ("generator.resolution", "dataset.resolution"),
    ("generator.channels", "dataset.channels"),
    ("discriminator.resolution", "dataset.resolution"),
    ("discriminator.num_classes", "generator.num_classes"),
    ("discriminator.z_dim", "generator.z_dim"),
    ("datamodule.batches_per_step", "game.n_critic"),
]

# keys that moved: old spelling (a key or a prefix) -> (today's, why); refused in one line naming the new key,
# on the command line and in composed configs (a preset or a user's yaml that still sets the old one)
RENAMED = {
    "optim.n_critic": ("game.n_critic", "the game owns its schedule, conf/game/"),
    "optim.n_gen": ("game.n_gen", "the game owns its schedule, conf/game/"),
    "model.discriminator.wrappers": ("model.d_wrappers", "model.discriminator is the discriminator node itself"),
}

_MISSING = object()


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=True)
    except Exception as e:  # an interpolation that cannot resolve
        raise ConfigError(f"{key}: {e}".splitlines()[0]) from e


def _moved(key: str) -> tuple[str, str, str] | None:
    """(old, new, why) when ``key`` is, or lies under, a moved key."""
    for old, (new, why) in RENAMED.items():
        if key == old or key.startswith(old + "."):
            return old, new + key[len(old):], why
    return None


def renamed(key: str, value: Any = "...") -> ConfigError:
    """The one-line refusal of a key that moved (``RENAMED``)."""
    old, new, why = _moved(key)
    return ConfigError(f"{key} is now {new} ({why}); use {new}={value}")


def check_overrides(overrides: list[str]) -> None:
    """Refuse command-line overrides of moved keys (``optim.n_critic=5``) before Hydra composes them."""
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if _moved(key) is not None:
            raise renamed(key, value if sep else "...")


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` (one line, naming the keys) when G, D, data and optim disagree."""
    for key in RENAMED:
        value = _get(cfg, key)
        if value is not _MISSING:  # a preset or a user's yaml still sets the old key
            raise renamed(key, value if not isinstance(value, (dict, DictConfig)) else "...")
    from ganlab.checks import check_config  # every value in its domain, +keys, combinations (imports this module)

    check_config(cfg)
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
    member_seeds(cfg)  # ensemble.size / ensemble.seeds (a seed ensemble's components are checked when built)
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
    _check_accumulate(cfg, pack)
    if _get(cfg, "generator.z_dim") is _MISSING:
        raise ConfigError("generator.z_dim is missing; every generator config must set its latent size")


def _check_accumulate(cfg: DictConfig, pack: Any) -> None:
    """``optim.accumulate=K``: an integer >= 1 (its domain) that divides the batch into micro-batches of whole
    packs, without an unrolled game (its look-ahead D updates need the whole batch)."""
    k, batch = _get(cfg, "optim.accumulate"), _get(cfg, "dataset.batch_size")
    if k is _MISSING:
        return
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"optim.accumulate={k}; valid: an integer >= 1 (1: no accumulation) that divides "
                          f"dataset.batch_size={batch}")
    if isinstance(batch, int) and batch % k:
        raise ConfigError(f"optim.accumulate={k} does not divide dataset.batch_size={batch}; valid: a divisor of "
                          f"it (micro-batches of dataset.batch_size / optim.accumulate samples)")
    if k > 1 and _get(cfg, "game.unroll") not in (_MISSING, None):
        raise ConfigError(f"optim.accumulate={k} with game.unroll: the look-ahead D updates need the whole batch; "
                          f"valid: optim.accumulate=1 or game=alternating")
    if isinstance(batch, int) and isinstance(pack, int) and pack > 1 and (batch // k) % pack:
        raise ConfigError(f"optim.accumulate={k}: micro-batches of {batch // k} samples do not split into packs of "
                          f"pack={pack}; valid: dataset.batch_size / optim.accumulate a multiple of {pack}")


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
    if n < world:  # every process generates at least one sample (ganlab.data.datamodule.IndexBatches)
        raise ConfigError(f"metrics.num_samples={n} for {world} processes; valid: num_samples >= {world}")


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


