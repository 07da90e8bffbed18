"""Fine-tuning: start a new run from the G, D (and EMA) weights of another run's checkpoint.

``init_from=CKPT`` is not a resume (``ckpt_path``): the run starts at step 0 with fresh optimizers, its own
data and config; only the networks' tensors are copied. A checkpoint whose tensors do not fit this run's
networks is refused in one line naming the first mismatch, before any training; ``init_partial=true`` copies
the tensors that fit and names every one it skipped (StyleGAN2-ADA's ``--resume`` does the same with
``copy_params_and_buffers``, which copies what matches by name and skips the rest silently).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ganlab.checkpoint import EMA_PREFIX, G_PREFIX, CheckpointError, read_checkpoint

log = logging.getLogger("ganlab.finetune")

D_PREFIX = "discriminator."
NETWORKS = (G_PREFIX, D_PREFIX, EMA_PREFIX)  # the state_dict prefixes init_from copies; nothing else
FIX = "valid: a checkpoint of the same networks at the same resolution, or init_partial=true to copy what fits"


@dataclass
class InitReport:
    """What ``init_from`` copied into the new run, and what it skipped (with the reason)."""

    path: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> reason
    ema_from_generator: bool = False  # the run keeps an EMA, the checkpoint had none: the EMA starts as G

    def to_dict(self) -> dict:
        return {"init_from": self.path, "loaded": len(self.loaded), "skipped": self.skipped,
                "ema_from_generator": self.ema_from_generator}


def _source_key(key: str, theirs: dict[str, torch.Tensor]) -> str:
    """The checkpoint key that fills ``key`` of this run: itself, or G's weights for an EMA the checkpoint lacks."""
    if key.startswith(EMA_PREFIX) and not any(k.startswith(EMA_PREFIX) for k in theirs):
        return G_PREFIX + key[len(EMA_PREFIX):]
    return key


def mismatches(mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> dict[str, str]:
    """key -> why it does not fit, for the network tensors of this run (``mine``) and of a checkpoint (``theirs``).

    An EMA kept by the checkpoint but not by this run is not a mismatch (it is simply not used); an EMA this
    run keeps and the checkpoint lacks starts from the checkpoint's G.
    """
    problems: dict[str, str] = {}
    for key, value in mine.items():
        source = _source_key(key, theirs)
        if source not in theirs:
            problems[key] = "missing in the checkpoint"
        elif theirs[source].shape != value.shape:
            problems[key] = (f"has shape {tuple(theirs[source].shape)} in the checkpoint, "
                             f"{tuple(value.shape)} in this run")
    ema_used = any(k.startswith(EMA_PREFIX) for k in mine)
    for key in theirs:
        if key not in mine and (ema_used or not key.startswith(EMA_PREFIX)):
            problems[key] = "in the checkpoint, not in this run"
    return problems


def network_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors ``init_from`` may fill: G's, D's and the EMA's parameters and buffers."""
    return {k: v for k, v in module.state_dict().items() if k.startswith(NETWORKS)}


def load_init(module: nn.Module, path: str | Path, partial: bool = False) -> InitReport:
    """Copy the G, D and EMA tensors of the checkpoint at ``path`` into ``module`` (a GANModule).

    Args:
        module: the new run's module, built from its own config (fresh weights).
        path: a checkpoint written by ganlab-train (read through ganlab.safe: weights only).
        partial: copy the tensors that fit (same key and shape) and skip the rest; False: refuse any mismatch.

    Returns:
        What was copied and skipped. Raises ``CheckpointError`` (one line) when the networks do not fit, or
        when a partial load would copy nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"init_from={path} is not a file; valid: a checkpoint written by ganlab-train "
                              f"(<run>/checkpoints/last.ckpt or best.ckpt)")
    ckpt = read_checkpoint(path)
    theirs = {k: v for k, v in ckpt["state_dict"].items() if k.startswith(NETWORKS)}
    if ckpt["ganlab"].get("ensemble"):
        raise CheckpointError(f"init_from={path} holds a seed ensemble (batched members); valid: a checkpoint of "
                              f"one run (ganlab-train with ensemble.size=1)")
    mine = network_state(module)
    problems = mismatches(mine, theirs)
    if problems and not partial:
        key, why = next(iter(problems.items()))
        more = f" (first of {len(problems)} mismatches)" if len(problems) > 1 else ""
        raise CheckpointError(f"init_from={path} does not fit this run: {key} {why}{more}; {FIX}")
    report = InitReport(str(path))
    fitting = {}
    for key in mine:
        if key in problems:
            continue
        fitting[key] = theirs[_source_key(key, theirs)]
        report.ema_from_generator |= _source_key(key, theirs) != key
    if not fitting:
        raise CheckpointError(f"init_from={path}: no tensor of the checkpoint fits this run "
                              f"({len(problems)} mismatches); valid: a checkpoint of related networks")
    module.load_state_dict(fitting, strict=False)  # only network keys: the sample noise and running state stay new
    report.loaded = sorted(fitting)
    report.skipped = {k: problems[k] for k in sorted(problems)}
    return report


def apply_init(module: nn.Module, init_from: str | None, partial: bool, ckpt_path: str | None,
               run_dir: str | Path | None = None) -> InitReport | None:
    """``init_from`` for ganlab-train: load, log what was skipped, record it in ``<run dir>/init_from.json``.

    A resumed run (``ckpt_path`` set, e.g. by ``resume=auto``) takes every weight from its own checkpoint, so
    ``init_from`` is not read again.
    """
    if not init_from:
        return None
    if ckpt_path:
        log.info("init_from=%s: not read, the run resumes from ckpt_path=%s", init_from, ckpt_path)
        return None
    report = load_init(module, init_from, partial)
    log.info("Initialised %d tensors of G, D%s from %s%s", len(report.loaded),
             " and the EMA" if any(k.startswith(EMA_PREFIX) for k in report.loaded) else "", init_from,
             " (the EMA from its G)" if report.ema_from_generator else "")
    for key, why in report.skipped.items():  # init_partial=true: every key left at its fresh value, by name
        log.warning("init_partial: skipped %s (%s)", key, why)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / "init_from.json").write_text(json.dumps(report.to_dict(), indent=2))
    return report
