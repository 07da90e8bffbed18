"""HealthMonitor: cheap health signals during training, detectors over them, alerts and actions (docs/health.md).

Per training step it only keeps D's logits of the step, folded into four running sums every 64 steps (no
host sync). At every logging step it reads the losses and gradient norms the module logged (``train/*``) for
the divergence detector; every ``every_n_steps`` steps it measures the rest (spectral norms, the fixed
noise batch's diversity and classes, the held-out gap), logs everything as ``health/*``, runs the
detectors, acts on their alerts and rewrites ``health.json``.

It never draws from the global RNG (everything random runs under ``fork_rng``) and changes no tensor
the training reads, so a run with the monitor trains exactly as one without it (until an alert's
``stop`` or ``rollback`` action acts, by design).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl

from ganlab.callbacks.divergence import TrainingDiverged
from ganlab.callbacks.evaluation import Evaluation
from ganlab.health.actions import HealthStop, Rollback
from ganlab.health.detectors import Alert, Detector
from ganlab.health.heldout import HeldOutGap
from ganlab.health.replay import EVAL_SIGNALS, LOGGED  # the readings fed to detectors; replay reads the same tags
from ganlab.health.report import HealthReport
from ganlab.health.samples import SampleProbe, no_rng_change
from ganlab.health.signals import DOutputStats, GradientTrend, SpectralNorms, g_loss_slope, median, sigma_summary
from ganlab.loggers.base import add_text, log_metrics
from ganlab.metrics.metric import PROVIDED

log = logging.getLogger(__name__)

# logged scalars the divergence detector reads at logging steps (the module logs them), by signal name


def evaluation_objects(callbacks: list[pl.Callback]) -> dict[str, Any]:
    """What the run's metric objects lend the sample probe (``EvalMetric.provides``: its feature extractor,
    class classifier, toy mixture), from the run's Evaluation callbacks."""
    found: dict[str, Any] = {}
    for cb in callbacks:
        for metric in cb.metrics.values() if isinstance(cb, Evaluation) else ():
            found.update({k: v for k, v in metric.provides().items() if k in PROVIDED})
    return found


class HealthMonitor(pl.Callback):
    """Watch a GAN train: signals (``health/*``), detectors, alerts (log, TensorBoard, health.json), actions.

    Args:
        every_n_steps: steps between checks (signals, detectors, health.json).
        num_samples: fixed-noise generated samples (and fixed real ones) per check for diversity and classes.
        batch_size: samples per D call for the held-out gap (the training batch size).
        out: path of health.json (None: not written).
        detectors: name -> ``ganlab.health.detectors.Detector`` (each with its action and thresholds).
        rollback: the rollback rule (``Rollback(max_rollbacks, lr_factor)``), used by detectors whose
            action is ``rollback``.
        monitor: the evaluation metric the quality trend follows (``metrics.monitor``; None: no trend).
        power_iterations: power iterations per check for the layers' largest singular values.
        grad_window: logging steps in G's running gradient-norm median.
        generator: whose samples the sample signals judge: ``trained`` (G itself: collapse is a property of
            training, and an EMA of G lags it by design, showing one blob for thousands of steps at decay
            0.999) or ``ema`` (the generator used for samples and metrics: G's EMA when kept).
    """

    def __init__(self, every_n_steps: int = 500, num_samples: int = 256, batch_size: int = 64,
                 out: str | None = None, detectors: Mapping[str, Detector] | None = None,
                 rollback: Rollback | None = None, monitor: str | None = None, power_iterations: int = 2,
                 grad_window: int = 100, generator: str = "trained") -> None:
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"health.every_n_steps={every_n_steps}; valid: an integer >= 1")
        if not isinstance(num_samples, int) or num_samples < 2:  # checked here, before training starts
            raise ValueError(f"health.num_samples={num_samples}; valid: an integer >= 2 (pairwise distances)")
        if generator not in ("trained", "ema"):
            raise ValueError(f"health.generator={generator!r}; valid: trained, ema")
        self.generator = generator
        wrong = {k: type(v).__name__ for k, v in (detectors or {}).items() if not isinstance(v, Detector)}
        if wrong:
            name, kind = next(iter(wrong.items()))
            raise TypeError(f"health.detectors.{name}: a {kind} is not a detector; valid: a subclass of "
                            f"ganlab.health.detectors.Detector")
        self.every_n_steps, self.num_samples, self.batch_size = every_n_steps, num_samples, batch_size
        self.detectors = {k: v for k, v in (detectors or {}).items() if v is not None}
        for name, det in self.detectors.items():
            det.name = name
        self.rollback = rollback if rollback is not None else Rollback()
        self.monitor = monitor
        self.d_stats, self.grads = DOutputStats(), GradientTrend(grad_window)
        self.sigmas = SpectralNorms(power_iterations)
        self.report = HealthReport(out)
        self.probe: SampleProbe | None = None
        self.heldout: HeldOutGap | None = None
        self._losses: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
        self._quality: float | None = None
        self._last_check = -1
        # health.json's settings (the data-dependent ones are added when training starts)
        self._settings: dict[str, Any] = {
            "every_n_steps": every_n_steps, "num_samples": num_samples, "power_iterations": power_iterations,
            "grad_window": grad_window, "monitor": monitor, "generator": generator,
            "rollback": {"max_rollbacks": self.rollback.max_rollbacks, "lr_factor": self.rollback.lr_factor},
            "detectors": {k: {"class": type(d).__name__, **d.settings()} for k, d in self.detectors.items()}}

    @property
    def stopped_by(self) -> dict[str, Any] | None:
        return self.report.stopped_by

    def _uses_rollback(self) -> bool:
        return any(d.action == "rollback" for d in self.detectors.values())

    # ------------------------------------------------------------------ setup
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = getattr(trainer, "datamodule", None)
        holdout = 0
        if dm is not None and hasattr(dm, "real_images"):
            data = dm.real_images()
            found = evaluation_objects(trainer.callbacks)
            self.probe = SampleProbe(self.num_samples, found.get("feature"), found.get("classifier"),
                                     found.get("min_share", 0.1), found.get("modes"))
            self._settings["reference"] = self.probe.setup(data, pl_module.device)
            held = dm.heldout_images() if hasattr(dm, "heldout_images") else None
            holdout = int(getattr(dm, "holdout", 0) or 0)
            if held is not None and len(held) > 0:
                trained = getattr(dm, "train_data", None)  # the images D steps on (a subset, or data)
                self.heldout = HeldOutGap(data if trained is None else trained, held, self.batch_size)
            self._settings["sources"] = {k: type(v).__name__ for k, v in found.items() if k in ("feature",
                                                                                                "classifier")}
        self._settings["holdout"] = holdout
        self._settings["holdout_used"] = self.heldout.num_samples if self.heldout is not None else 0
        self.report.settings = self._settings
        if self._uses_rollback():
            self.rollback.save(pl_module, trainer.optimizers, trainer.global_step)
        if trainer.is_global_zero:
            self.report.write()

    # ------------------------------------------------------------------ per step
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        outputs_d = pl_module.last_d_outputs  # declared by GANModule: D's logits of the step's last D update
        if outputs_d is not None:
            self.d_stats.add(*outputs_d)
        step = trainer.global_step
        if step % max(trainer.log_every_n_steps, 1) == 0:
            self._on_log_step(trainer, pl_module, step)
        if step % self.every_n_steps == 0:
            self._check(trainer, pl_module, step)

    def _on_log_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int) -> None:
        metrics = trainer.callback_metrics
        reading = {name: float(metrics[key]) for name, key in LOGGED.items() if key in metrics}
        self.grads.add(reading.get("grad_norm_g"), reading.get("grad_norm_d"))
        for key in self._losses:
            if key in reading:
                self._losses[key].append(reading[key])
        self._act(trainer, pl_module, self._feed(trainer, "log", step, reading), step)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        reading = {name: float(metrics[tag]) for name, tag in EVAL_SIGNALS.items() if tag in metrics}
        if self.monitor is not None and self.monitor in metrics:
            self._quality = reading["quality"] = float(metrics[self.monitor])
        if reading:
            step = trainer.global_step
            self._act(trainer, pl_module, self._feed(trainer, "eval", step, reading), step)

    # ------------------------------------------------------------------ checks
    def measure(self, pl_module: pl.LightningModule) -> dict[str, float]:
        """All check signals of the current state (D's view since the last check included)."""
        values: dict[str, float] = {**self.d_stats.read(), **self.grads.read()}
        last = pl_module.last_d_outputs
        replaced = any(getattr(t, "replaces_adversarial", False) for t in getattr(pl_module, "g_terms", {}).values())
        if last is not None and hasattr(pl_module.loss, "g_loss") and not replaced:  # G's loss is the adversarial one
            values["g_slope"] = g_loss_slope(pl_module.loss, last[1], last[0])  # at this step's fake logits
        for key, readings in self._losses.items():
            if readings:
                values[key] = median(readings)
                readings.clear()
        with no_rng_change(pl_module.device):
            values.update(sigma_summary(self.sigmas(pl_module.generator.named_parameters()), "g"))
            values.update(sigma_summary(self.sigmas(pl_module.discriminator.named_parameters()), "d"))
        if self.probe is not None:
            values.update(self.probe.measure(pl_module, trained=self.generator == "trained"))
        if self.heldout is not None:
            values.update(self.heldout.measure(pl_module))
        if self._quality is not None:
            values["quality"] = self._quality
        return values

    def _check(self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int) -> None:
        self._last_check = step
        values = self.measure(pl_module)
        self.report.add_row(step, values)
        reading = {**values, **(self.probe.reference if self.probe is not None else {})}  # + classes_real, ...
        self._act(trainer, pl_module, self._feed(trainer, "check", step, reading), step)
        if trainer.is_global_zero:
            scalars = {f"health/{k}": v for k, v in values.items() if isinstance(v, (int, float))}
            scalars.update({f"health/alert/{k}": float(d.active) for k, d in self.detectors.items()})
            log_metrics(trainer, scalars, step)
        healthy = not any(d.active for d in self.detectors.values()) and all(
            math.isfinite(v) for v in values.values() if isinstance(v, float))
        if healthy and self._uses_rollback():
            self.rollback.save(pl_module, trainer.optimizers, step)
        if trainer.is_global_zero:
            self.report.write()

    # ------------------------------------------------------------------ detectors
    def _feed(self, trainer: pl.Trainer, feeds: str, step: int, reading: Mapping[str, float]) -> list[Alert]:
        """One reading to the detectors fed ``feeds`` (``check``, ``log``, ``eval``): the alerts it raises; the
        episodes it ends are logged (and health.json rewritten)."""
        alerts, ended = [], []
        for det in self.detectors.values():
            if det.feeds != feeds:
                continue
            open_alert = det.alert
            alert = det.check(step, reading)
            if open_alert is not None and not det.active:  # this reading ended the episode
                ended.append(open_alert)
            if alert is not None:
                alerts.append(alert)
        self._log_ended(trainer, ended)
        if ended and trainer.is_global_zero:
            self.report.write()
        return alerts

    def _log_ended(self, trainer: pl.Trainer, ended: list[Alert], why: str = "") -> None:
        """One INFO line per ended episode, and ``health/alert/<detector>`` back to 0 at its end step."""
        if not trainer.is_global_zero:
            return
        for alert in ended:
            log.info("health: %s ended at step %s (began %s)%s", alert.detector.replace("_", " "),
                     f"{alert.end_step:,}", f"{alert.start_step:,}", why)
            log_metrics(trainer, {f"health/alert/{alert.detector}": 0.0}, alert.end_step)

    # ------------------------------------------------------------------ actions
    def _act(self, trainer: pl.Trainer, pl_module: pl.LightningModule, alerts: list[Alert], step: int) -> None:
        if trainer.world_size > 1:  # every rank takes the same decisions (rank 0's)
            alerts = trainer.strategy.broadcast(alerts, src=0)
        for alert in alerts:
            rolled_back: list[Alert] = []
            if alert.action == "rollback":
                if self.rollback.available:
                    back_to = self.rollback.restore(pl_module, trainer.optimizers)
                    pl_module.health_rollback_step = step  # DivergenceGuard: this step's NaN losses are handled
                    alert.message += (f"; rolled back to step {back_to:,}, learning rates x{self.rollback.lr_factor} "
                                      f"(rollback {self.rollback.done} of {self.rollback.max_rollbacks})")
                    rolled_back = [a for det in self.detectors.values() if (a := det.end(step))]  # before reset
                    for det in self.detectors.values():
                        det.reset()
                    self.d_stats.read()
                else:
                    alert.action = "stop"
                    alert.message += f" (no rollback left of {self.rollback.max_rollbacks}: stopping)"
            if alert.action == "stop":
                self.report.stop(alert.detector, step, alert.message)
                trainer.should_stop = True
            self.report.add_alert(alert)
            if trainer.is_global_zero:
                log.warning("health: %s [%s]", alert.message, alert.action)
                self._log_alert(trainer, alert)
            self._log_ended(trainer, rolled_back, ": rolled back")
        if alerts and trainer.is_global_zero:
            self.report.write()

    @staticmethod
    def _log_alert(trainer: pl.Trainer, alert: Alert) -> None:
        log_metrics(trainer, {f"health/alert/{alert.detector}": 1.0}, alert.step)
        add_text(trainer, "health/alerts", f"**{alert.detector}** ({alert.action}): {alert.message}", alert.step)

    # ------------------------------------------------------------------ end of the run
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self._last_check and trainer.global_step > 0:
            self._check(trainer, pl_module, trainer.global_step)
        self.report.last_step = max(self.report.last_step, trainer.global_step)
        if trainer.is_global_zero:
            self.report.write()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, TrainingDiverged):  # DivergenceGuard stopped the run on a non-finite loss
            message = str(exception).splitlines()[0]
            if "divergence" not in self.report.problems:
                self.report.add_alert(Alert("divergence", trainer.global_step, trainer.global_step, message,
                                            {}, "stop"))
            self.report.stop("divergence", trainer.global_step, message)
        self.report.last_step = max(self.report.last_step, trainer.global_step)
        if trainer.is_global_zero:
            self.report.write()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"report": self.report.to_dict(), "rollbacks": self.rollback.done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.report.load_dict(state.get("report", {}))
        self.rollback.done = int(state.get("rollbacks", 0))
        if state.get("report", {}).get("version", 1) >= 2:  # version 1 did not record when episodes ended
            for alert in self.report.alerts:  # a warning's episode open at the checkpoint goes on (no new alert)
                if alert.end_step is None and alert.action == "warn" and alert.detector in self.detectors:
                    self.detectors[alert.detector].resume(alert)


def raise_if_stopped(callbacks: list[pl.Callback]) -> None:
    """After ``trainer.fit``: raise ``HealthStop`` with the alert's message when a health monitor stopped the run."""
    for cb in callbacks:
        if isinstance(cb, HealthMonitor) and cb.stopped_by is not None:
            raise HealthStop(cb.stopped_by["message"])
