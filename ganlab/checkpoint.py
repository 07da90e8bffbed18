"""Read ganlab checkpoints as data: the resolved config and the generator rebuilt from it.

All reading goes through ``ganlab.safe``: weights-only loading, a checked layout, and a
``_target_`` allowlist before anything named by the stored config is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganlab import safe

# state_dict prefixes: the trained generator, and its exponential moving average when kept
G_PREFIX, EMA_PREFIX = "generator.", "generator_ema."


WHAT = "a ganlab-train checkpoint"
# the layout every reader relies on; a stored config must hold a generator node to rebuild G from
LAYOUT = {"state_dict": safe.Tensors, "global_step?": int,
          "ganlab": {"config": {"generator": dict}, "terms?": dict, "augment?": dict}}


class CheckpointError(safe.BadFileError):
    """A file that is not a usable ganlab checkpoint."""


@dataclass
class LoadedGenerator:
    """A generator rebuilt from a checkpoint, with what is needed to describe it."""

    generator: nn.Module
    config: DictConfig
    path: Path
    global_step: int
    ema: bool  # the EMA weights were loaded

    @property
    def num_classes(self) -> int:
        return int(self.config.generator.get("num_classes", 0) or 0)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, loaded as data only (a crafted file cannot run code), its layout checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}; set ckpt=PATH to a .ckpt written by ganlab-train")
    ckpt = safe.load(path, LAYOUT, what=WHAT, error=CheckpointError)
    # components that moved since the file was written are named as they are today
    ckpt["ganlab"]["config"] = safe.current_targets(ckpt["ganlab"]["config"])
    return ckpt


def load_generator(path: str | Path, ema: bool = True, device: str | torch.device = "cpu",
                   member: int | None = None, allow: Sequence[str] = ()) -> LoadedGenerator:
    """Rebuild the generator from the checkpoint's own config and load its weights (EMA if present).

    Args:
        path: a ``.ckpt`` written by ganlab-train.
        ema: prefer the EMA generator when the checkpoint has one.
        device: where to put the generator (in eval mode).
        member: for a seed-ensemble checkpoint (``ensemble.size > 1``), which member k to load, as the
            generator of a separate run of its seed (the config returned has that seed and no ensemble).
        allow: the user's own packages whose components the stored config may name (``safe.allowed_packages``).
    """
    ckpt = read_checkpoint(path)
    config = OmegaConf.create(ckpt["ganlab"]["config"])
    state = ckpt["state_dict"]
    use_ema = ema and any(k.startswith(EMA_PREFIX) for k in state)
    prefix = EMA_PREFIX if use_ema else G_PREFIX
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    seeds = ((ckpt["ganlab"].get("ensemble") or {}).get("seeds")) or []
    if seeds or member is not None:
        weights, config = _member(weights, config, seeds, member, path)
    generator = safe.build_stored(config.generator, path=path, where="generator", error=CheckpointError, allow=allow)
    if not isinstance(generator, nn.Module) or not isinstance(getattr(generator, "z_dim", None), int):
        raise CheckpointError(f"{path}: its config's generator ({config.generator._target_}) builds a "
                              f"{type(generator).__name__} without an integer z_dim, not a ganlab generator")
    try:
        generator.load_state_dict(weights)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors
        # the first problem, after "Error(s) in loading state_dict for X:"
        detail = " ".join(str(e).split()).split(": ", 1)[-1].split(". ")[0][:200]
        raise CheckpointError(f"{path}: weights do not fit the generator in its own config "
                              f"({config.generator._target_}): {detail}") from e
    return LoadedGenerator(generator.to(device).eval(), config, Path(path), int(ckpt.get("global_step", 0)), use_ema)


def _member(weights: dict, config: DictConfig, seeds: list, member: int | None,
            path: str | Path) -> tuple[dict, DictConfig]:
    """Member ``member``'s generator weights of a seed-ensemble checkpoint and its separate run's config."""
    from ganlab.ensemble.nets import member_weights

    if not seeds:
        raise CheckpointError(f"member={member}: {path} is not a seed-ensemble checkpoint; valid: member=null")
    if not isinstance(member, int) or isinstance(member, bool) or not 0 <= member < len(seeds):
        raise CheckpointError(f"{path} holds a seed ensemble of {len(seeds)} members (seeds {seeds}); valid: "
                              f"member=0..{len(seeds) - 1}")
    config.seed, config.ensemble = seeds[member], {"size": 1, "seeds": None}
    return member_weights(weights, "", member), config


def stored(config: DictConfig, key: str, path: str | Path, fix: str = "") -> Any:
    """``config``'s node at ``key`` (a checkpoint's stored config), or a one-line error naming the key."""
    node = OmegaConf.select(config, key, default=None)
    if node is None:
        fix = fix or "valid: a checkpoint written by ganlab-train"
        raise CheckpointError(f"{path}: its config has no {key}; {fix}")
    return node


def check_resume(module: nn.Module, path: str | Path) -> None:
    """Refuse, before training, a ``ckpt_path`` whose weights or running state do not fit ``module``.

    Lightning would otherwise fail deep inside ``fit`` with a long traceback; this names the first
    differences and what would be valid (the config the checkpoint was trained with).
    """
    if not Path(path).is_file():
        raise CheckpointError(f"ckpt_path={path} is not a file; valid: a checkpoint written by ganlab-train "
                              f"(<run>/checkpoints/last.ckpt)")
    check_fits(module, read_checkpoint(path), path)  # through ganlab.safe: weights only, layout checked


def check_fits(module: nn.Module, ckpt: dict[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint (as ``read_checkpoint`` returned it) whose weights or running state do not fit ``module``."""
    theirs, mine = ckpt["state_dict"], module.state_dict()
    problems = [f"missing {k}" for k in mine if k not in theirs]
    problems += [f"unexpected {k}" for k in theirs if k not in mine]
    problems += [f"{k} has shape {tuple(theirs[k].shape)}, this run {tuple(mine[k].shape)}"
                 for k in mine if k in theirs and theirs[k].shape != mine[k].shape]
    enabled = {f"{kind}.{name}" for kind in ("regularizers", "g_terms") for name in getattr(module, kind, {})}
    problems += [f"state for {key}, which this run does not enable"
                 for key in ckpt["ganlab"].get("terms", {}) if key not in enabled]
    problems += [f"state for augment.{name}, which this run does not enable"
                 for name in ckpt["ganlab"].get("augment", {}) if name not in getattr(module, "augment_hooks", {})]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise CheckpointError(f"ckpt_path={path} does not fit this run ({shown}); valid: resume with the config "
                              f"it was trained with (its run's .hydra/config.yaml)")
