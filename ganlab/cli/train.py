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
from omegaconf import DictConfig

from ganlab import checks, console, launch, threads
from ganlab.cli import boundary
from ganlab.cli.help import print_help, wants_help
from ganlab.config.checks import check_overrides, validate
from ganlab.config.compose import CONFIG_DIR
from ganlab.config.errors import ConfigError, build
from ganlab.config.resolvers import register_resolvers
from ganlab.loggers import check_installed, check_names
from ganlab.sweep import record_failure

if TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger("ganlab.cli.train")


def train(cfg: DictConfig) -> float | None:
    """Validate -> threads -> assemble -> trainer -> resume check -> fit; returns ``cfg.optimized_metric``."""
    register_resolvers()  # idempotent; for callers that composed the config elsewhere (launcher workers)
    validate(cfg)
    check_installed(cfg.get("logger"))  # logger=mlflow without mlflow: one line now, not after the data loads
    console.configure(bool(cfg.get("verbose", False)))
    choice = threads.settle(cfg.get("threads", "auto"), launch.processes(cfg))  # before torch starts its pools

    import pytorch_lightning as pl  # the heavy imports, after the checks and the thread count

    from ganlab.assembly import assemble
    from ganlab.callbacks.health import raise_if_stopped

    pl.seed_everything(cfg.seed, workers=True, verbose=bool(cfg.get("verbose", False)))
    run = assemble(cfg)  # data loaded, module, callbacks, logger (a seed ensemble's when ensemble.size > 1)
    choice = threads.fit_to(choice, run.work)  # one thread for a small model when the count is automatic
    log.info("CPU threads: %d per process (%s)", choice.threads, choice.reason)
    checks.before_fit(cfg, run.model, run.datamodule, run.callbacks)  # optimizers, data vs batch, shapes
    trainer: pl.Trainer = build(cfg.trainer, "trainer", callbacks=run.callbacks, logger=run.logger)
    start = resume_step(trainer, run.model, cfg.get("ckpt_path"))
    log_plan(start, cfg.trainer.max_steps, cfg.get("ckpt_path"))
    began = time.perf_counter()
    trainer.fit(run.model, datamodule=run.datamodule, ckpt_path=cfg.get("ckpt_path"))
    raise_if_stopped(run.callbacks)  # a health detector with action=stop ended the run: HealthStop(its alert)
    return finished(trainer, cfg, time.perf_counter() - began)


def resume_step(trainer: pl.Trainer, model: object, ckpt_path: str | None) -> int:
    """The step ``ckpt_path`` resumes at (0 without one); a checkpoint that does not fit ``model`` is refused. The
    file is read once: Lightning restores the very dictionary that was checked (ganlab.resume)."""
    if not ckpt_path:
        return 0
    from ganlab.checkpoint import CheckpointError
    from ganlab.resume import resume_from

    try:
        return resume_from(trainer, model, ckpt_path)
    except CheckpointError as e:
        raise ConfigError(str(e)) from e


def log_plan(start: int, total: int, ckpt_path: str | None) -> None:
    """One line: the steps this run trains (and where it resumes)."""
    if start:
        log.info("Training for %s more steps (resuming at step %s of %s from %s)", f"{total - start:,}",
                 f"{start:,}", f"{total:,}", ckpt_path)
    else:
        log.info("Training for %s steps", f"{total:,}")


def finished(trainer: pl.Trainer, cfg: DictConfig, seconds: float) -> float | None:
    """Log the end of training; return ``cfg.optimized_metric``'s last value (None when not logged)."""
    total = cfg.trainer.max_steps
    metric = trainer.callback_metrics.get(cfg.optimized_metric) if cfg.optimized_metric else None
    value = None if metric is None else float(metric)
    result = "" if value is None else f"; {cfg.optimized_metric} = {value:.4f}"
    log.info("%s at step %s of %s after %.1f s%s", "Finished" if trainer.global_step >= total else "Stopped",
             f"{trainer.global_step:,}", f"{total:,}", seconds, result)
    return value


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float | None:
    if launch.multirun():  # one failed trial must not end the sweep (ganlab.launch)
        boundary.note_run_dir(HydraConfig.get().runtime.output_dir)
        return launch.run_trial(train, cfg)
    run_dir = HydraConfig.get().runtime.output_dir
    with boundary.task("ganlab-train", run_dir):
        try:
            return train(cfg)
        except ConfigError:
            raise  # refused before any training: nothing to record
        except Exception as e:
            # an error while training: failed.json tells ganlab-compare (and a later reader) why the run ended
            record_failure(run_dir, e)
            from ganlab.health.actions import HealthStop  # torch is loaded by now

            if isinstance(e, HealthStop):  # a clean stop: last.ckpt and health.json are written
                raise HealthStop(f"stopped by the health monitor: {e}") from e
            raise


EXAMPLES = (
    "ganlab-train debug=fast                      # 20 steps: check a setup in seconds",
    "ganlab-train                                 # the default run: MLP GAN on mnist5k, 10,000 steps",
    "ganlab-train loss=hinge generator=dcgan discriminator=dcgan trainer.max_steps=5000",
    "ganlab-train -m seed=0,1,2                   # one run per seed (a sweep)",
    "ganlab-train resume=auto                     # continue the newest unfinished run of this config",
)


@boundary.command("ganlab-train")
def main() -> int | None:
    """Console entry point (``ganlab-train``): process-wide settings belong here, not at import."""
    register_resolvers()  # before Hydra composes: sweep run folders use ${ganlab.run_name:...}
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-train", __doc__.splitlines()[0], EXAMPLES, CONFIG_DIR, "train", sys.argv[1:],
                            skip=("hydra", "eval")))
    try:
        check_overrides(sys.argv[1:])  # a moved key (optim.n_critic) is named in one line, not Hydra's traceback
        check_names(sys.argv[1:])  # an unknown logger= name: one line, before Hydra's listing
    except ValueError as e:  # ConfigError is one
        sys.exit(f"ganlab-train: error: {e}")
    # warnings raised while Lightning is imported, before the config is composed
    console.configure(verbose="verbose=true" in (a.lower() for a in sys.argv[1:]))
    _main()


if __name__ == "__main__":
    sys.exit(main())
