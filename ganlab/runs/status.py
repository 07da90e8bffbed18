"""A run's state from what its directory holds: the last trained step, its status and its health verdict.

Status rules, first match wins (documented in docs/sweeps.md):

1. ``stopped-by-alert``: ``health.json`` names the detector that stopped the run (``stopped_by``), and
   the run did not train past that step afterwards (a resume that went on supersedes it).
2. ``crashed``: ``failed.json`` (written by ganlab-train when training raised), unless ``last.ckpt``
   was written after it (a resumed run that went on).
3. ``finished``: the last trained step reached ``trainer.max_steps`` of the run's newest config
   (``.hydra/config.yaml``, or ``.hydra/resume_N/config.yaml`` after a resume).
4. ``running``: something in the run directory was written in the last ``RUNNING_WITHIN_S`` seconds.
5. ``crashed``: otherwise (killed, pre-empted and never resumed, or the machine went down);
   ``unknown`` when the run has no config to read ``trainer.max_steps`` from.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAILED_FILE, HEALTH_FILE = "failed.json", "health.json"
# an evaluation or a checkpoint interval can leave the event files untouched for minutes (TensorBoard
# flushes every 2 minutes, a full evaluation on a CPU takes ~1.5 minutes), so "recent" is generous
RUNNING_WITHIN_S = 15 * 60
STATUSES = ("finished", "running", "stopped-by-alert", "crashed", "unknown")
SAMPLE_PNG = re.compile(r"^samples_(\d+)\.png$")
SNAPSHOT = re.compile(r"^step_(\d+)\.ckpt$")


@dataclass
class Status:
    """One of STATUSES and a one-line reason (empty for finished runs)."""

    name: str
    reason: str = ""


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing or not a JSON object (a half-written file)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checkpoint_steps(run: Path, trained_so_far: int | None, max_steps: int | None) -> list[int]:
    """Steps of the run's checkpoints: snapshots by name, last.ckpt by its ``global_step``.

    last.ckpt is only opened (memory-mapped, torch imported on first use) when the scalars do not
    already show the run at ``max_steps``: a checkpoint cannot be ahead of a finished run.
    """
    folder = run / "checkpoints"
    if not folder.is_dir():
        return []
    steps = [int(m.group(1)) for p in folder.iterdir() if (m := SNAPSHOT.match(p.name))]
    last = folder / "last.ckpt"
    done = trained_so_far is not None and max_steps is not None and trained_so_far >= max_steps
    if last.is_file() and not done:
        from ganlab.rundir import checkpoint_step  # torch: only when needed

        # a truncated or foreign file says nothing about the step; the other evidence stands
        with contextlib.suppress(OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError):
            steps.append(checkpoint_step(last))
    return steps


def trained_step(run: Path, curves: dict[str, dict[int, float]], max_steps: int | None,
                 health: dict[str, Any] | None) -> int | None:
    """The last step the run trained: the newest of its ``train/*`` scalars, checkpoints, sample grids
    (``samples_NNNNNNN.png``) and ``health.json``'s ``last_step``; None when nothing says.

    Evaluation scalars (``val/*``) are not evidence: a run keeps training between evaluations.
    """
    steps = [max(points) for tag, points in curves.items() if tag.startswith("train/") and points]
    samples = run / "samples"
    if samples.is_dir():
        steps += [int(m.group(1)) for p in samples.iterdir() if (m := SAMPLE_PNG.match(p.name))]
    if health and isinstance(health.get("last_step"), int):
        steps.append(health["last_step"])
    steps += checkpoint_steps(run, max(steps, default=None), max_steps)
    return max(steps, default=None)


def newest_write(run: Path) -> float:
    """mtime of the newest file the run writes while it trains (events, checkpoints, grids, log, health)."""
    times = []
    for name in ("train.log", HEALTH_FILE):
        if (run / name).is_file():
            times.append((run / name).stat().st_mtime)
    for folder in ("tensorboard", "checkpoints", "samples"):
        if (run / folder).is_dir():
            times += [e.stat().st_mtime for e in os.scandir(run / folder) if e.is_file()]
    return max(times, default=0.0)


def _ago(seconds: float) -> str:
    """'40 s', '12 min', '3.5 h', '2.0 d'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 48 * 3600 else f"{seconds / 86400:.1f} d"


def run_status(run: Path, steps: int | None, max_steps: int | None, health: dict[str, Any] | None,
               now: float) -> Status:
    """The run's status by the rules of this module's docstring."""
    stopped = (health or {}).get("stopped_by")
    if isinstance(stopped, dict):
        at = stopped.get("step")
        if steps is None or not isinstance(at, int) or steps <= at:
            return Status("stopped-by-alert", f"{stopped.get('detector', '?')} at step {at}: "
                                              f"{stopped.get('message', '')}".rstrip(": "))
    failed, last = run / FAILED_FILE, run / "checkpoints" / "last.ckpt"
    if failed.is_file() and not (last.is_file() and last.stat().st_mtime > failed.stat().st_mtime):
        info = read_json(failed) or {}
        return Status("crashed", f"{info.get('error', 'error')}: {info.get('message', '')}".rstrip(": "))
    if steps is not None and max_steps is not None and steps >= max_steps:
        return Status("finished")
    idle = now - newest_write(run)
    where = f"at step {steps if steps is not None else '?'} of {max_steps if max_steps is not None else '?'}"
    if idle < RUNNING_WITHIN_S:
        return Status("running", f"{where}, last write {_ago(max(idle, 0.0))} ago")
    if max_steps is None:
        return Status("unknown", f"{where}: no .hydra/config.yaml with trainer.max_steps")
    return Status("crashed", f"ended {where} without an error record, {_ago(idle)} ago "
                             f"(killed, pre-empted, or the machine went down)")


def verdict(health: dict[str, Any] | None) -> str:
    """``healthy``, ``recovered:<problems>`` for a run whose every alert ended, the comma-joined problems
    of an unhealthy run (``mode_collapse,stalled_quality``), or ``-`` without health data."""
    if not health:
        return "-"
    if health.get("verdict") == "healthy":
        return "healthy"
    problems = ",".join(str(p) for p in health.get("problems") or [])
    if health.get("verdict") == "recovered":
        return f"recovered:{problems}" if problems else "recovered"
    return problems or str(health.get("verdict") or "-")
