"""ganlab-train: compose a GAN from config, train it with Lightning, return the optimized metric."""

from __future__ import annotations

import logging
import sys
import warnings

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ganlab.callbacks.health import raise_if_stopped
from ganlab.checkpoint import CheckpointError, check_resume
from ganlab.config import CONFIG_DIR, ConfigError, build, build_callbacks, build_module, register_resolvers, validate
from ganlab.health import HealthStop
from ganlab.sweep import record_failure, record_result

log = logging.getLogger("ganlab.cli.train")



def train(cfg: DictConfig) -> float | None:
    """Validate -> instantiate -> fit; returns ``cfg.optimized_metric`` (None when not logged)."""
    validate(cfg)
    pl.seed_everything(cfg.seed, workers=True)

    log.info("Dataset <%s> at %sx%s, %s channel(s)", cfg.dataset.name, cfg.dataset.resolution,
             cfg.dataset.resolution, cfg.dataset.channels)
    datamodule = build(cfg.datamodule, "datamodule")
    try:
        datamodule.setup("fit")  # load the data now: a missing folder fails before any training
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from e

    log.info("GAN: G <%s>, D <%s>, loss <%s>", cfg.generator._target_, cfg.discriminator._target_,
             cfg.loss._target_)
    model = build_module(cfg)
    callbacks = build_callbacks(cfg)
    logger = build(cfg.logger, "logger") if cfg.get("logger") else False
    trainer: pl.Trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=logger)

    if cfg.get("ckpt_path"):
        try:
            check_resume(model, cfg.ckpt_path)
        except CheckpointError as e:
            raise ConfigError(str(e)) from e

    log.info("Training for %d steps", cfg.trainer.max_steps)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    raise_if_stopped(callbacks)  # a health detector with action=stop ended the run: HealthStop(its alert)

    metric = trainer.callback_metrics.get(cfg.optimized_metric)
    if metric is None:
        return None
    log.info("%s = %.4f", cfg.optimized_metric, float(metric))
    return float(metric)


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
    except HealthStop as e:
        # a clean stop: last.ckpt and health.json are written; the status says the run did not succeed
        log.error("stopped by the health monitor: %s", e)
        sys.exit(f"ganlab-train: stopped by the health monitor: {e}")


def main() -> None:
    """Console entry point (``ganlab-train``): process-wide settings belong here, not at import."""
    # GAN runs are counted in steps across many short epochs; Lightning's per-epoch hint is noise here
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")  # inside Lightning
    register_resolvers()  # before Hydra composes: sweep run folders use ${ganlab.run_name:...}
    _main()


if __name__ == "__main__":
    main()
