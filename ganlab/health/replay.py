"""Judge a finished run again: feed its recorded signals through detectors, e.g. with changed thresholds.

A run keeps everything its detectors read: the logging-step readings (``train/d_loss``, ``train/g_loss``,
``train/grad_norm_g``, ``train/grad_norm_d``) and the monitored metric (``val/fid``) in its TensorBoard
events, and every check's signals in health.json. Fed in the monitor's order (per step: logging reading,
check, evaluation), detectors built from the same settings give the alerts the monitor gave; other settings
give the alerts the run would have had, without retraining. Rollbacks are not replayed (they changed the run).

    from ganlab.health.replay import default_detectors, rejudge
    alerts = rejudge(Path("outputs/run"), default_detectors())
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganlab.health.detectors import Alert, Detector

# reading name -> logged tag: what the monitor feeds its "log" detectors (ganlab/callbacks/health.py uses this)
LOGGED = {"d_loss": "train/d_loss", "g_loss": "train/g_loss", "grad_norm_g": "train/grad_norm_g",
          "grad_norm_d": "train/grad_norm_d"}
# reading name -> evaluation tag: what the monitor feeds its "eval" detectors besides the monitored metric's quality
EVAL_SIGNALS = {"copy_share": "val/copy_share", "ct": "val/ct"}
ORDER = {"log": 0, "check": 1, "eval": 2}  # within a step: on_train_batch_end (log, then check), then validation


def default_detectors(overrides: list[str] | None = None, monitor: str = "val/fid") -> dict[str, Detector]:
    """The detectors of ``conf/health/default.yaml`` (with dotted ``overrides`` such as
    ``detectors.divergence.factor=20``), as a training run whose ``metrics.monitor`` is ``monitor`` builds them."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from ganlab.config import CONFIG_DIR

    health = OmegaConf.load(Path(CONFIG_DIR) / "health" / "default.yaml")
    if overrides:
        health = OmegaConf.merge(health, OmegaConf.from_dotlist(overrides))
    cfg = OmegaConf.create({"metrics": {"monitor": monitor}, "health": health})  # for ${metrics.monitor}
    detectors = {k: instantiate(v) for k, v in cfg.health.detectors.items() if v is not None}
    for name, det in detectors.items():
        det.name = name
    return detectors


def readings(curves: Mapping[str, Mapping[int, float]], health: Mapping[str, Any],
             monitor: str | None = None) -> list[tuple[int, str, dict[str, float]]]:
    """(step, feed, reading) in the order the monitor fed them.

    Args:
        curves: tag -> {step: value} of the run's events.
        health: the run's health.json (its check signals and reference values).
        monitor: the evaluation metric the quality detector follows (default: health.json's ``settings.monitor``).
    """
    out: list[tuple[int, str, dict[str, float]]] = []
    log_steps = sorted({s for tag in LOGGED.values() for s in curves.get(tag, {})})
    for step in log_steps:
        out.append((step, "log", {k: float(curves[t][step]) for k, t in LOGGED.items() if step in curves.get(t, {})}))
    signals = health.get("signals") or {}
    reference = (health.get("settings") or {}).get("reference") or {}
    for i, step in enumerate(signals.get("step") or []):
        row = {k: v[i] for k, v in signals.items() if k != "step" and i < len(v) and v[i] is not None}
        out.append((int(step), "check", {**row, **reference}))
    monitor = monitor or (health.get("settings") or {}).get("monitor")
    eval_tags = {**EVAL_SIGNALS, **({"quality": monitor} if monitor else {})}
    eval_steps = sorted({s for tag in eval_tags.values() for s in curves.get(tag, {})})
    for step in eval_steps:
        out.append((int(step), "eval", {k: float(curves[t][step]) for k, t in eval_tags.items()
                                        if step in curves.get(t, {})}))
    return sorted(out, key=lambda r: (r[0], ORDER[r[1]]))


def rejudge(run: Path, detectors: Mapping[str, Detector]) -> list[Alert]:
    """The alerts ``detectors`` raise on run ``run``'s recorded signals (events + health.json), in order; each
    with the ``end_step`` of its episode when the recorded readings show the pattern gone (else None)."""
    from ganlab.health.diagnose import read_curves, read_health

    health = read_health(run) or {}
    curves = read_curves(run, None)
    alerts: list[Alert] = []
    for step, feed, reading in readings(curves, health):
        for det in detectors.values():
            if det.feeds == feed and (alert := det.check(step, reading)) is not None:
                alerts.append(alert)
    return alerts
