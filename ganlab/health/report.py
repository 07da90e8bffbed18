"""health.json: the run's verdict, alerts and per-check signals, rewritten atomically at every check.

Schema (version 2; ``ganlab-diagnose`` and ``ganlab-compare`` read it)::

    {"version": 2,
     "verdict": "healthy" | "recovered" | "unhealthy",   # see ``verdict_of``
     "problems": [detector names that fired],      # in the order they first fired
     "stopped_by": null | {"detector": str, "step": int, "message": str},
     "last_step": int,
     "settings": {...},                            # every_n_steps, num_samples, holdout, detectors' thresholds, ...
     "alerts": [{"detector": str, "start_step": int, "step": int,
                 "end_step": int | null,           # first reading without the pattern, or rollback; null: active
                 "action": "warn" | "stop" | "rollback", "message": str, "evidence": {name: number}}],
     "signals": {"step": [...], "<signal name>": [...]}}   # one entry per check, null where not measured

Version 1 is the same without ``end_step`` (when an episode ended is unknown) and with the verdicts
``healthy`` and ``unhealthy`` only (any alert). Numbers that are not finite are written as null (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ganlab.health.detectors import Alert

VERSION = 2
VERDICTS = ("healthy", "recovered", "unhealthy")


class HasEnd(Protocol):
    end_step: int | None


def verdict_of(alerts: Sequence[HasEnd], stopped_by: dict[str, Any] | None) -> str:
    """``healthy`` (no alert ever), ``recovered`` (every alert's episode ended and no alert stopped the run)
    or ``unhealthy`` (an alert still active at the last step, or the run was stopped by one).

    Args:
        alerts: the run's alerts (anything with ``end_step``: None while its episode is active).
        stopped_by: health.json's ``stopped_by`` (None: the run was not stopped by an alert).
    """
    if not alerts and stopped_by is None:
        return "healthy"
    if stopped_by is not None or any(a.end_step is None for a in alerts):
        return "unhealthy"
    return "recovered"


def clean(x: Any) -> Any:
    """JSON-safe copy: non-finite floats -> None, tuples -> lists, numbers as plain Python numbers."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return str(x)


class HealthReport:
    """Signals per check, alerts, and the stop reason of one run; ``write`` puts them in health.json.

    Args:
        path: the file (``${paths.output_dir}/health.json``); None: kept in memory only.
        settings: thresholds and options, written as ``settings``.
    """

    def __init__(self, path: str | Path | None, settings: dict[str, Any] | None = None) -> None:
        self.path = Path(path) if path else None
        self.settings = dict(settings or {})
        self.signals: dict[str, list[Any]] = {"step": []}
        self.alerts: list[Alert] = []
        self.stopped_by: dict[str, Any] | None = None
        self.last_step = 0

    def add_row(self, step: int, values: dict[str, float]) -> None:
        """One check's signals; names new to this check get null for the earlier checks."""
        n = len(self.signals["step"])
        self.signals["step"].append(int(step))
        for key in values:
            if key not in self.signals:
                self.signals[key] = [None] * n
        for key, column in self.signals.items():
            if key != "step":
                column.append(values.get(key))
        self.last_step = max(self.last_step, int(step))

    def add_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def stop(self, detector: str, step: int, message: str) -> None:
        if self.stopped_by is None:
            self.stopped_by = {"detector": detector, "step": int(step), "message": message}

    @property
    def problems(self) -> list[str]:
        names = [a.detector for a in self.alerts]
        if self.stopped_by is not None:
            names.append(self.stopped_by["detector"])
        return list(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        problems = self.problems
        return clean({"version": VERSION, "verdict": verdict_of(self.alerts, self.stopped_by), "problems": problems,
                      "stopped_by": self.stopped_by, "last_step": self.last_step, "settings": self.settings,
                      "alerts": [a.to_dict() for a in self.alerts], "signals": self.signals})

    def load_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved report (a resumed run); version 1's alerts get ``end_step`` None (unknown)."""
        self.signals = {k: list(v) for k, v in state.get("signals", {"step": []}).items()}
        self.alerts = [Alert(**a) for a in state.get("alerts", [])]
        self.stopped_by = state.get("stopped_by")
        self.last_step = int(state.get("last_step", 0))

    def write(self) -> None:
        """Rewrite the file atomically (a temporary file in the same folder, then renamed over it)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        os.replace(tmp, self.path)
