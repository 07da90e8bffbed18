"""A quiet console: the lines of Lightning, Optuna and DDP that say nothing about this run stay hidden.

``verbose=false`` (the default of ``ganlab-train``) hides, by logger and message (never all warnings):

- Lightning's notices: GPU/TPU/HPU availability, the ``litlogger`` tip, the ``limit_val_batches`` notice,
  the DDP set-up banner and one "Initializing distributed" line per rank, "Restoring states from the
  checkpoint" (ganlab's "Training for N more steps" line names it), "`Trainer.fit` stopped: `max_steps=N`
  reached" (ganlab logs its own end line), and "Seed set to N" (``seed_everything(verbose=False)``);
- warnings that ganlab's use of Lightning makes irrelevant: ModelCheckpoint's "dirpath has changed" on a resume
  into a new run directory (ganlab's checkpoint policy writes to the run's own folder on purpose),
  ``sync_dist`` on evaluation metrics (they are computed from all ranks' gathered samples already),
  "smaller than the logging interval" (GAN runs are counted in steps across many short epochs) and a
  pytree deprecation inside Lightning (``isinstance(treespec, LeafSpec)``);
- under DDP, ganlab's own INFO lines on every rank but the first (they were printed once per process).

``verbose=true`` shows all of it (and Lightning's model summary).
"""

from __future__ import annotations

import logging
import os
import re
import warnings

# logger -> messages hidden unless verbose (Lightning logs its notices through rank_zero_info)
NOISE_LOGS: dict[str, tuple[str, ...]] = {
    **{name: (r"^(GPU|TPU|HPU) available", r"Tip: For seamless cloud logging", r"was configured so .* will be used",
              r"^`Trainer\.fit` stopped: `max_steps=", r"^-+\ndistributed_backend=",
              r"^Restor(ing|ed all) states from the checkpoint")
       for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")},
    # one line per DDP rank as it joins (ganlab's "CPU threads" line names the number of processes)
    "lightning_fabric.utilities.distributed": (r"^Initializing distributed: ",),
}
NOISE_WARNINGS: tuple[str, ...] = (
    r".*The dirpath has changed from",
    r".*It is recommended to use `self\.log\(.*sync_dist=True\)`",
    r".*smaller than the logging interval",
    r".*isinstance\(treespec, LeafSpec\)",
)


class _Hide(logging.Filter):
    """Drops records whose message matches one of ``patterns``."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


_FILTERS = {name: _Hide(patterns) for name, patterns in NOISE_LOGS.items()}


def rank() -> int:
    """This process's global rank as launchers announce it (0 when not distributed)."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    return 0


def configure(verbose: bool) -> None:
    """Install (``verbose=False``) or remove (``True``) the filters; idempotent. Call before Lightning runs."""
    for name, hide in _FILTERS.items():
        logger = logging.getLogger(name)
        if verbose:
            logger.removeFilter(hide)
        elif hide not in logger.filters:
            logger.addFilter(hide)
    for pattern in NOISE_WARNINGS:  # first in the list (ahead of filters added since), each once
        entry = ("ignore", re.compile(pattern, re.I), Warning, None)
        warnings.filters[:] = [f for f in warnings.filters if f[:4] != entry]
        if not verbose:
            warnings.filterwarnings("ignore", message=pattern)
    # DDP: every rank runs the same script; the INFO lines of the others repeat rank 0's
    if not verbose and rank() > 0:
        logging.getLogger("ganlab").setLevel(logging.WARNING)


def plain_optuna_logging() -> None:
    """Optuna's lines through the root logger (Hydra's format, its log file), not its colour handler.

    Optuna's own handler writes ANSI colour codes even when stderr is a file.
    """
    import optuna  # only sweeps with the Optuna sweeper call this (it imports optuna anyway)

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
