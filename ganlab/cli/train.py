"""ganlab-train: compose a GAN from config, train it with Lightning, return the optimized metric.

Only Hydra and OmegaConf are imported up front: ``--help``, ``--cfg job`` and configuration errors answer
in a second or two. torch, Lightning and the components are imported once the config has been checked,
after the CPU thread count is settled (``threads``, ganlab/threads.py).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ganlab import console, threads
from ganlab.cli.help import print_help, wants_help
from ganlab.config import CONFIG_DIR, ConfigError, build, check_overrides, register_resolvers, validate
from ganlab.ensemble import checks as ensemble
from ganlab.sweep import record_failure, record_result

if TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger("ganlab.cli.train")


def launch_processes(cfg: DictConfig) -> int:
    """Processes of this launch that share this machine's cores: DDP ranks here times parallel Hydra trials."""
    devices = cfg.trainer.get("devices")
    if isinstance(devices, int):
        ranks = max(devices, 1)
    elif isinstance(devices, str) or devices is None:  # "auto": one process on CPU
        ranks = 1
    else:  # a list of device indices
        ranks = max(len(devices), 1)
    jobs = 1
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        launcher = HydraConfig.get().launcher
        n_jobs = launcher.get("n_jobs")
        if "joblib" in str(launcher.get("_target_", "")).lower() and isinstance(n_jobs, int):
            jobs = n_jobs if n_jobs > 0 else threads.available_cores()
    return ranks * jobs


def _count(n: int) -> str:
    """1834240 -> '1.8 M' (Lightning's model summary style, in one short word)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def train(cfg: DictConfig) -> float | None:
    """Validate -> threads -> instantiate -> fit; returns ``cfg.optimized_metric`` (None when not logged)."""
    register_resolvers()  # idempotent; for callers that composed the config elsewhere (launcher workers)
    validate(cfg)
    ensemble.check(cfg)  # ensemble.size > 1: what the batched members cannot express, refused now
    seeds = ensemble.member_seeds(cfg)
    verbose = bool(cfg.get("verbose", False))
    console.configure(verbose)
    choice = threads.choose(cfg.get("threads", "auto"), launch_processes(cfg))
    threads.export(choice.threads)  # before torch starts its thread pools (and for DDP ranks it launches)

    import pytorch_lightning as pl  # the heavy imports, after the checks and the thread count

    from ganlab.callbacks.health import raise_if_stopped
    from ganlab.checkpoint import CheckpointError, check_resume
    from ganlab.config import build_callbacks, build_module
    from ganlab.rundir import checkpoint_step

    pl.seed_everything(cfg.seed, workers=True, verbose=verbose)

    log.info("Dataset <%s> at %sx%s, %s channel(s)", cfg.dataset.name, cfg.dataset.resolution,
             cfg.dataset.resolution, cfg.dataset.channels)
    if len(seeds) > 1:
        from ganlab.ensemble.build import build_datamodule, build_ensemble, ensemble_callbacks

        log.info("Seed ensemble: %d members, seeds %s, batched in one process", len(seeds), seeds)
    datamodule = build(cfg.datamodule, "datamodule") if len(seeds) == 1 else build_datamodule(cfg)
    try:
        datamodule.setup("fit")  # load the data now: a missing folder fails before any training
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from e

    model = build_module(cfg) if len(seeds) == 1 else build_ensemble(cfg)
    g_params = sum(p.numel() for p in model.generator.parameters())
    d_params = sum(p.numel() for p in model.discriminator.parameters())
    log.info("GAN: G <%s> %s params, D <%s> %s params, loss <%s>", cfg.generator._target_, _count(g_params),
             cfg.discriminator._target_, _count(d_params), cfg.loss._target_)
    choice = choice.for_work((g_params + d_params) * cfg.dataset.batch_size)
    threads.apply(choice.threads)
    log.info("CPU threads: %d per process (%s)", choice.threads, choice.reason)

    callbacks = build_callbacks(cfg)
    if len(seeds) > 1:  # per-member metrics, their mean and SE, appended to checkpoints/metrics.json
        callbacks = ensemble_callbacks(callbacks, len(seeds), f"{cfg.paths.output_dir}/checkpoints/metrics.json")
    logger = build(cfg.logger, "logger") if cfg.get("logger") else False
    trainer: pl.Trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=logger)

    start = 0
    if cfg.get("ckpt_path"):
        try:
            check_resume(model, cfg.ckpt_path)
        except CheckpointError as e:
            raise ConfigError(str(e)) from e
        start = checkpoint_step(cfg.ckpt_path)
    total = cfg.trainer.max_steps
    if start:
        log.info("Training for %s more steps (resuming at step %s of %s from %s)", f"{total - start:,}",
                 f"{start:,}", f"{total:,}", cfg.ckpt_path)
    else:
        log.info("Training for %s steps", f"{total:,}")
    began = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    raise_if_stopped(callbacks)  # a health detector with action=stop ended the run: HealthStop(its alert)

    metric = trainer.callback_metrics.get(cfg.optimized_metric) if cfg.optimized_metric else None
    value = None if metric is None else float(metric)
    result = "" if value is None else f"; {cfg.optimized_metric} = {value:.4f}"
    log.info("%s at step %s of %s after %.1f s%s", "Finished" if trainer.global_step >= total else "Stopped",
             f"{trainer.global_step:,}", f"{total:,}", time.perf_counter() - began, result)
    return value


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float | None:
    run_dir = HydraConfig.get().runtime.output_dir
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        # one failed trial must not end the sweep: record why (failed.json, summary); the basic
        # sweeper gets NaN (it would stop after the batch on an exception), the Optuna sweeper the
        # exception (it marks the trial FAIL and goes on; sweep presets set max_failure_rate: 1)
        try:
            value = train(cfg)
        except Exception as e:
            log.error("trial failed: %s: %s", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            record_failure(run_dir, e)
            if "optuna" in str(HydraConfig.get().sweeper.get("_target_", "")).lower():
                raise
            return float("nan")
        record_result(run_dir, cfg.optimized_metric, value)
        return value
    try:
        return train(cfg)
    except ConfigError as e:
        # one line, before any training; nothing written by earlier runs is touched
        log.error("%s", e)
        sys.exit(f"ganlab-train: error: {e}")
    except Exception as e:
        # an error while training: failed.json tells ganlab-compare (and a later reader) why the run ended
        record_failure(run_dir, e)
        from ganlab.health.actions import HealthStop  # torch is loaded by now

        if isinstance(e, HealthStop):
            # a clean stop: last.ckpt and health.json are written; the status says the run did not succeed
            log.error("stopped by the health monitor: %s", e)
            sys.exit(f"ganlab-train: stopped by the health monitor: {e}")
        raise


EXAMPLES = (
    "ganlab-train debug=fast                      # 20 steps: check a setup in seconds",
    "ganlab-train                                 # the default run: MLP GAN on mnist5k, 10,000 steps",
    "ganlab-train loss=hinge generator=dcgan discriminator=dcgan trainer.max_steps=5000",
    "ganlab-train -m seed=0,1,2                   # one run per seed (a sweep)",
    "ganlab-train resume=auto                     # continue the newest unfinished run of this config",
)


def main() -> None:
    """Console entry point (``ganlab-train``): process-wide settings belong here, not at import."""
    register_resolvers()  # before Hydra composes: sweep run folders use ${ganlab.run_name:...}
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-train", __doc__.splitlines()[0], EXAMPLES, CONFIG_DIR, "train", sys.argv[1:],
                            skip=("hydra", "eval")))
    try:
        check_overrides(sys.argv[1:])  # a moved key (optim.n_critic) is named in one line, not Hydra's traceback
    except ConfigError as e:
        sys.exit(f"ganlab-train: error: {e}")
    # warnings raised while Lightning is imported, before the config is composed
    console.configure(verbose="verbose=true" in (a.lower() for a in sys.argv[1:]))
    _main()


if __name__ == "__main__":
    main()
