"""ganlab-diagnose's logic: one run's verdict, alert timeline and key numbers, from its files.

A run is read from its TensorBoard events (``<run>/tensorboard``, through ``ganlab.runs.read.read_run``)
and, when present, ``<run>/health.json`` (written by the health monitor; schema version 2, or 1)::

    {"version": 2, "verdict": "healthy" | "recovered" | "unhealthy", "problems": [detector names],
     "stopped_by": null | {"detector", "step", "message"}, "last_step": int, "settings": {...},
     "alerts": [{"detector", "start_step", "step", "end_step", "action", "message", "evidence": {name: number}}],
     "signals": {"step": [...], "<signal name>": [...]}}

(``ganlab.health.report`` documents it; version 1 has no ``end_step`` and no ``recovered``.) With
health.json its verdict and alerts are the diagnosis, and its signals fill in ``health/<name>``
curves the events lack. Without it (runs from before the monitor, or with ``health=none``) the
verdict comes from what the events hold (``events_alerts``): non-finite losses, D's loss collapsing
while G's rises, no FID progress, class coverage falling; each of these patterns holds at the run's
end, so those alerts are still active.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlab.errors import UserError

HEALTH_FILE = "health.json"
VERSIONS = (1, 2)  # health.json schema versions this reads
# the monitor's detector names; events_alerts uses the same names for what it can see
DETECTORS = ("divergence", "mode_collapse", "discriminator_winning", "discriminator_overfitting", "stalled_quality")
LOSSES = ("train/d_loss", "train/g_loss")


class DiagnoseError(UserError):
    """A problem to report to the user in one line."""


@dataclass
class Alert:
    """One detector's alert: the problem visible from ``start_step``, raised at ``step`` (rules on the
    events: last seen), its episode over at ``end_step`` (None: still active, or unknown in a version-1 file)."""

    detector: str
    start_step: int
    step: int
    action: str
    message: str
    evidence: dict[str, float] = field(default_factory=dict)
    end_step: int | None = None


@dataclass
class Diagnosis:
    """What ganlab-diagnose says about one run."""

    path: Path
    source: str  # "health.json" or "events"
    verdict: str  # "healthy", "recovered" or "unhealthy"
    problems: list[str]
    alerts: list[Alert]
    stopped_by: dict[str, Any] | None
    last_step: int | None
    curves: dict[str, dict[int, float]]  # tag -> {step: value}
    ends_known: bool = True  # False for a version-1 health.json: alerts' end_step None means "not recorded"

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"


# ---------------------------------------------------------------------------------------------- reading
def has_events(run: Path) -> bool:
    return any((run / "tensorboard").glob("events.out.tfevents.*"))


def check_run(run: Path) -> None:
    """One-line errors for a path that is not a directory, or a directory that is not a ganlab run."""
    if not run.exists():
        raise DiagnoseError(f"{run}: no such directory; valid: a run directory written by ganlab-train")
    if not run.is_dir():
        raise DiagnoseError(f"{run} is not a directory; valid: a run directory written by ganlab-train")
    if has_events(run) or (run / HEALTH_FILE).is_file():
        return
    from ganlab.runs.read import find_runs

    inside = find_runs([run])
    hint = (f"; it holds {len(inside)} run(s), e.g. {inside[0]}: pass those" if inside
            else "; valid: a run directory written by ganlab-train")
    raise DiagnoseError(f"{run} is not a ganlab run (no tensorboard/events.out.tfevents.* and no {HEALTH_FILE})"
                        f"{hint}")


def read_health(run: Path) -> dict[str, Any] | None:
    """``<run>/health.json`` checked against schema version 1 or 2; None when the run has none."""
    path = run / HEALTH_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DiagnoseError(f"{path} is not readable JSON ({type(e).__name__}); a half-written file? "
                            f"rerun when the run has written it") from e
    if not isinstance(data, dict) or data.get("version") not in VERSIONS:
        version = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise DiagnoseError(f"{path}: version {version!r}; valid: a health report of version 1 or 2")
    for key, kind in (("verdict", str), ("problems", list), ("alerts", list), ("signals", dict)):
        if not isinstance(data.get(key), kind):
            raise DiagnoseError(f"{path}: {key!r} is {type(data.get(key)).__name__}, expected {kind.__name__} "
                                f"(schema version {data['version']})")
    return data


def read_curves(run: Path, health: dict[str, Any] | None) -> dict[str, dict[int, float]]:
    """Scalar curves of the run's events, plus health.json's signals as ``health/<name>`` where the events lack them."""
    curves: dict[str, dict[int, float]] = {}
    if has_events(run):
        from ganlab.runs.read import CompareError, read_run

        try:
            curves = read_run(run).curves
        except CompareError as e:  # a damaged file beside the events (checkpoints/metrics.json)
            raise DiagnoseError(str(e)) from e
    signals = (health or {}).get("signals") or {}
    steps = signals.get("step") or []
    for name, values in signals.items():
        tag = f"health/{name}"
        if name == "step" or tag in curves or not isinstance(values, list):
            continue
        points = {int(s): float(v) for s, v in zip(steps, values, strict=False)
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if points:
            curves[tag] = points
    return curves


# ---------------------------------------------------------------------------------------------- events only
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def events_alerts(curves: dict[str, dict[int, float]], *, d_drop: float = 0.1, g_rise: float = 2.0,
                  window: int = 3, min_improvement: float = 0.05, classes_frac: float = 0.5) -> list[Alert]:
    """Alerts for a run without health.json, from its curves (rules documented in docs/diagnose.md).

    Args:
        curves: tag -> {step: value}.
        d_drop, g_rise: discriminator_winning when, over the last quarter of the logged steps, the median
            D loss is below ``d_drop`` x its median over the first tenth while the median G loss is above
            ``g_rise`` x its own (losses >= 0 only: not for Wasserstein critics); it starts at the first
            step under the threshold from which at least 90 % of the logged D losses stay under it.
        window, min_improvement: stalled_quality when the best val/fid of the last ``window`` evaluations
            is not ``min_improvement`` (relative) below the best before them.
        classes_frac: mode_collapse when the last val/classes_covered is below this share of its maximum.
    """
    alerts = []
    for tag in LOSSES:  # divergence: the first non-finite loss (DivergenceGuard stops the run there)
        bad = [s for s, v in sorted(curves.get(tag, {}).items()) if not math.isfinite(v)]
        if bad:
            alerts.append(Alert("divergence", bad[0], bad[0], "events", f"divergence at step {bad[0]:,}: "
                                f"{tag} is {curves[tag][bad[0]]}", {tag: curves[tag][bad[0]]}))
            break
    d, g = curves.get("train/d_loss", {}), curves.get("train/g_loss", {})
    steps = sorted(s for s in d if s in g and math.isfinite(d[s]) and math.isfinite(g[s]))
    if len(steps) >= 20 and min(min(d[s], g[s]) for s in steps) >= 0:
        head, tail = steps[: max(len(steps) // 10, 1)], steps[-(len(steps) // 4):]
        d0, d1 = _median([d[s] for s in head]), _median([d[s] for s in tail])
        g0, g1 = _median([g[s] for s in head]), _median([g[s] for s in tail])
        if d1 < d_drop * d0 and g1 > g_rise * g0:
            # the first step under the threshold from which >= 90 % of the logged D losses stay under it
            # (a short blip of D's loss later does not move the start)
            low = [d[s] < d_drop * d0 for s in steps]
            start = next(s for i, s in enumerate(steps) if low[i] and sum(low[i:]) >= 0.9 * (len(steps) - i))
            alerts.append(Alert("discriminator_winning", start, steps[-1], "events",
                                f"discriminator winning since step {start:,}: D loss {d1:.3g} (start {d0:.3g}), "
                                f"G loss {g1:.3g} (start {g0:.3g})",
                                {"d_loss": d1, "d_loss_start": d0, "g_loss": g1, "g_loss_start": g0}))
    fid = sorted((s, v) for s, v in curves.get("val/fid", {}).items() if math.isfinite(v))
    if len(fid) > window:
        before, last = fid[:-window], fid[-window:]
        best_step, best = min(before, key=lambda p: p[1])
        recent = min(v for _, v in last)
        if recent > (1 - min_improvement) * best:
            alerts.append(Alert("stalled_quality", best_step, fid[-1][0], "events",
                                f"quality stalled since step {best_step:,}: best val/fid {best:.3g} there, the "
                                f"{window} later evaluations reach {recent:.3g} at best (last {fid[-1][1]:.3g})",
                                {"best_fid": best, "recent_best_fid": recent, "last_fid": fid[-1][1]}))
    covered = sorted(curves.get("val/classes_covered", {}).items())
    if covered:
        peak_step, peak = max(covered, key=lambda p: p[1])
        low = [(s, v) for s, v in covered if s > peak_step and v < classes_frac * peak]
        if low and covered[-1][1] < classes_frac * peak:
            alerts.append(Alert("mode_collapse", low[0][0], covered[-1][0], "events",
                                f"mode collapse since step {low[0][0]:,}: classes covered fell to {covered[-1][1]:.0f} "
                                f"(from {peak:.0f} at step {peak_step:,})",
                                {"classes_covered": covered[-1][1], "classes_covered_max": peak}))
    return alerts


# ---------------------------------------------------------------------------------------------- the diagnosis
def diagnose(run: str | Path) -> Diagnosis:
    """Read one run and decide its verdict (health.json's, or from the events when it has none)."""
    run = Path(run)
    check_run(run)
    health = read_health(run)
    curves = read_curves(run, health)
    last = max((max(c) for c in curves.values() if c), default=None)
    if health is not None:
        alerts = [Alert(str(a.get("detector")), int(a.get("start_step", a.get("step", 0))), int(a.get("step", 0)),
                        str(a.get("action", "warn")), str(a.get("message", "")), dict(a.get("evidence") or {}),
                        a["end_step"] if isinstance(a.get("end_step"), int) else None)
                  for a in health["alerts"] if isinstance(a, dict)]
        last_step = health.get("last_step")
        last_step = max(int(last_step), last or 0) if isinstance(last_step, int) else last
        return Diagnosis(run, HEALTH_FILE, health["verdict"], [str(p) for p in health["problems"]],
                         sorted(alerts, key=lambda a: (a.step, a.start_step)), health.get("stopped_by"),
                         last_step, curves, ends_known=health["version"] >= 2)
    alerts = sorted(events_alerts(curves), key=lambda a: (a.step, a.start_step))
    problems = list(dict.fromkeys(a.detector for a in alerts))
    return Diagnosis(run, "events", "unhealthy" if alerts else "healthy", problems, alerts, None, last, curves)


def _last(curve: dict[int, float] | None) -> tuple[int, float] | None:
    return (max(curve), curve[max(curve)]) if curve else None


def key_numbers(d: Diagnosis) -> dict[str, str]:
    """Label -> text of the numbers a reader looks at first (only those the run logged)."""
    c, out = d.curves, {}
    if d.last_step is not None:
        out["last step"] = f"{d.last_step:,}"
    fid = {s: v for s, v in c.get("val/fid", {}).items() if math.isfinite(v)}
    if fid:
        best = min(fid, key=fid.get)
        out["val/fid"] = f"final {fid[max(fid)]:.4g} (step {max(fid):,}), best {fid[best]:.4g} (step {best:,})"
    for label, tags in (("D real / fake", ("train/d_real", "train/d_fake")),
                        ("health D real / fake", ("health/d_real", "health/d_fake"))):
        pair = [_last(c.get(t)) for t in tags]
        if all(pair):
            out[label] = f"{pair[0][1]:+.3g} / {pair[1][1]:+.3g} (mean logits, step {pair[0][0]:,})"
    for label, tag in (("r_t", "health/r_t"), ("r_t (ADA)", "train/ada_rt"), ("ADA p", "train/ada_p"),
                       ("diversity", "health/diversity"), ("classes seen", "health/classes_seen"),
                       ("classes covered", "val/classes_covered"), ("val/class_kl", "val/class_kl")):
        point = _last(c.get(tag))
        if point:
            out[label] = f"{point[1]:.3g} (step {point[0]:,})"
    return out


def span_text(a: Alert, ends_known: bool = True) -> str:
    """`` (4,000–6,500)`` for an ended episode, `` (since 4,000, still active)`` for an open one; a version-1
    report (end not recorded): `` (since 4,000)``, or nothing when it began where it was raised."""
    if a.end_step is not None:
        return f" ({a.start_step:,}–{a.end_step:,})"
    if ends_known:
        return f" (since {a.start_step:,}, still active)"
    return f" (since {a.start_step:,})" if a.start_step != a.step else ""


def format_report(d: Diagnosis, figure: Path | None = None) -> str:
    """The printed report of one run: verdict, timeline of alerts, key numbers, figure path."""
    source = ("health.json" if d.source == HEALTH_FILE else
              "its TensorBoard events (no health.json: a run from before the monitor, or health=none)")
    lines = [f"{d.path}  (diagnosed from {source})"]
    verdict = "healthy" if d.healthy else f"{d.verdict}: {', '.join(d.problems) or 'unnamed problem'}"
    if d.verdict == "recovered" and d.alerts:
        verdict += f" (every alert ended, the last at step {max(a.end_step or 0 for a in d.alerts):,})"
    if d.stopped_by:
        verdict += (f" (stopped by {d.stopped_by.get('detector')} at step {int(d.stopped_by.get('step', 0)):,}: "
                    f"{d.stopped_by.get('message', '')})")
    lines.append(f"  verdict: {verdict}")
    lines.append("  timeline:" if d.alerts else "  timeline: no alerts")
    for a in d.alerts:
        lines.append(f"    step {a.step:,}{span_text(a, d.ends_known)}  {a.detector} [{a.action}]  {a.message}")
    lines.append("  numbers:")
    lines += [f"    {label}: {text}" for label, text in key_numbers(d).items()]
    if figure is not None:
        lines.append(f"  figure: {figure}")
    return "\n".join(lines)
