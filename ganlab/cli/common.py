"""What the entry points share (not an entry point itself): the eval/sample config folder, the ``ckpt=`` argument,
the device and the thread count of the tools that read a checkpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from ganlab import threads
from ganlab.config import CONFIG_DIR, ConfigError

if TYPE_CHECKING:
    import torch

EVAL_CONFIG_DIR = f"{CONFIG_DIR}/eval"

log = logging.getLogger("ganlab.cli")


def pick_device(name: str) -> torch.device:
    """``device=``: auto (the GPU when there is one) or a torch device name."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def checkpoint_arg(cfg: DictConfig, tool: str) -> str:
    """The ``ckpt=`` argument, or a one-line error naming it (Hydra's own is a traceback)."""
    if OmegaConf.is_missing(cfg, "ckpt") or cfg.ckpt in (None, ""):
        raise ConfigError(f"ckpt=PATH is required: the checkpoint to read, e.g. "
                          f"{tool} ckpt=outputs/DATE/TIME/checkpoints/best.ckpt")
    return str(cfg.ckpt)


def allowed_packages(cfg: DictConfig) -> tuple[str, ...]:
    """``safe.allow`` (and ``GANLAB_SAFE_ALLOW``): the user's own packages a checkpoint's config may name."""
    from ganlab import safe

    try:
        return safe.allowed_packages(OmegaConf.select(cfg, "safe.allow", default=None))
    except ValueError as e:
        raise ConfigError(str(e)) from e


def set_threads(cfg: DictConfig) -> None:
    """``threads`` of the eval/sample configs (auto, an integer; ganlab/threads.py), before torch is imported."""
    try:
        choice = threads.choose(cfg.get("threads", "auto"))
    except ValueError as e:
        raise ConfigError(str(e)) from e
    threads.apply(choice.threads)
    log.debug("CPU threads: %d (%s)", choice.threads, choice.reason)


# user errors of ganlab-eval / ganlab-sample besides ganlab's own: a weights file that is not there, settings the
# metric code refuses
USER_ERRORS = (FileNotFoundError, ValueError)
