"""How this run was launched, read from Hydra's runtime config by what launchers and sweepers do, not by their names.

- ``processes``: the processes of this launch that share this machine's cores (the thread policy divides the
  cores by it): DDP ranks of this run times the trials a launcher runs at once here. A launcher that starts
  trials as local processes says how many with ``n_jobs`` (joblib's; a non-positive count means one per core);
  launchers that run trials elsewhere (submitit's SLURM jobs) or one after another (the basic one) have none.
- ``run_trial``: one trial of a multirun, whose failure must not end the sweep. A sweeper that counts failed
  trials itself (it has a ``max_failure_rate``, as Optuna's has) gets the exception and marks the trial failed;
  any other (the basic sweeper stops at an exception) gets NaN. Either way ``failed.json`` records why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ganlab.sweep import record_failure, record_result
from ganlab.threads import available_cores

log = logging.getLogger("ganlab.launch")


def multirun() -> bool:
    """True inside a trial of ``ganlab-train -m`` (a sweep)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def ddp_ranks(devices: object) -> int:
    """Processes of one run on this machine: ``trainer.devices`` as a count, a list of indices, or "auto" (1)."""
    if isinstance(devices, int):
        return max(devices, 1)
    if isinstance(devices, str) or devices is None:  # "auto": one process on CPU
        return 1
    return max(len(devices), 1)


def parallel_trials() -> int:
    """Trials this launch runs at once on this machine: the launcher's ``n_jobs`` in a multirun, else 1."""
    if not multirun():
        return 1
    n_jobs = HydraConfig.get().launcher.get("n_jobs")
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool):
        return 1
    return n_jobs if n_jobs > 0 else available_cores()


def processes(cfg: DictConfig) -> int:
    """Processes of this launch that share this machine's cores: DDP ranks here times parallel trials."""
    return ddp_ranks(cfg.trainer.get("devices")) * parallel_trials()


def sweeper_counts_failures() -> bool:
    """True when the sweeper records a trial's exception as a failed trial and goes on (``max_failure_rate``)."""
    return "max_failure_rate" in HydraConfig.get().sweeper


def run_trial(train: Callable[[DictConfig], float | None], cfg: DictConfig) -> float | None:
    """``train(cfg)`` as one trial of a sweep: its value, or its failure recorded (``failed.json``) and handed to
    the sweeper as it can take it (the exception, or NaN)."""
    run_dir = HydraConfig.get().runtime.output_dir
    try:
        value = train(cfg)
    except Exception as e:
        log.error("trial failed: %s: %s", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        record_failure(run_dir, e)
        if sweeper_counts_failures():
            raise
        return float("nan")
    record_result(run_dir, cfg.optimized_metric, value)
    return value
