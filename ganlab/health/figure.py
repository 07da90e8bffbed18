"""ganlab-diagnose's figure: losses, D outputs, r_t, diversity and FID of one run on one step axis, alerts shaded."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from ganlab.health.diagnose import DETECTORS, Alert, Diagnosis

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# panel title -> (tag, label) pairs drawn in it, the first present of alternatives joined by "|"
PANELS: list[tuple[str, list[tuple[str, str]]]] = [
    ("losses", [("train/d_loss", "D loss"), ("train/g_loss", "G loss")]),
    ("D outputs (mean logit)", [("train/d_real", "real"), ("train/d_fake", "fake"),
                                ("health/d_real", "real (health check)"), ("health/d_fake", "fake (health check)")]),
    ("r_t = E[sign D(x_real)]", [("health/r_t", "r_t"), ("train/ada_rt", "r_t (ADA)"), ("train/ada_p", "ADA p")]),
    ("diversity (fake / real)", [("health/diversity", "pairwise feature distance ratio")]),
    ("FID", [("val/fid", "val/fid")]),
]
SIZE_IN, DPI = (8.0, 11.0), 100  # 800 x 1100 pixels
COLORS = dict(zip(DETECTORS, ("tab:red", "tab:purple", "tab:orange", "tab:olive", "tab:gray"), strict=True))


def span(alert: Alert, d: Diagnosis) -> tuple[int, int]:
    """Steps an alert is shaded over: start to end; still active: to the run's last step; a version-1 report
    (end not recorded): to the step it was raised."""
    if alert.end_step is not None:
        return alert.start_step, alert.end_step
    if d.ends_known and d.last_step is not None:
        return alert.start_step, max(d.last_step, alert.step)
    return alert.start_step, alert.step


def draw(d: Diagnosis) -> Figure:
    """The figure of ``d`` (five panels on one step axis, each alert's span shaded), not yet saved."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, leaves no global state

    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    for ax, (title, series) in zip(axes, PANELS, strict=True):
        drawn = 0
        for tag, label in series:
            points = sorted((s, v) for s, v in d.curves.get(tag, {}).items() if math.isfinite(v))
            if points:
                style = {"marker": "o", "markersize": 3} if tag.startswith("val/") or len(points) < 30 else {}
                ax.plot(*zip(*points, strict=True), label=label, linewidth=1, **style)
                drawn += 1
        if title.startswith("r_t") and drawn:
            ax.axhline(0.6, color="grey", linestyle=":", linewidth=1, label="ADA target 0.6")
        if not drawn:
            ax.text(0.5, 0.5, "not logged by this run", transform=ax.transAxes, ha="center", va="center",
                    color="grey")
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        if drawn:
            ax.legend(fontsize=7, loc="upper right")
    seen = set()
    for alert in d.alerts:  # shaded over its episode (span); a dashed line where it was raised
        label = None if alert.detector in seen else alert.detector
        seen.add(alert.detector)
        color = COLORS.get(alert.detector, "C9")
        start, end = span(alert, d)
        for i, ax in enumerate(axes):
            if end > start:
                ax.axvspan(start, end, color=color, alpha=0.15, label=label if i == 0 else None)
            ax.axvline(alert.step, color=color, linewidth=1, linestyle="--",
                       label=label if i == 0 and end <= start else None)
    if d.alerts:
        axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("training step")
    verdict = "healthy" if d.healthy else f"{d.verdict}: {', '.join(d.problems)}"
    fig.suptitle(f"{d.path.name}: {verdict}", fontsize=10)
    return fig


def plot(d: Diagnosis, out: Path) -> Path:
    """Write the figure of ``d`` to ``out`` (PNG, 800 x 1100 pixels); returns ``out``."""
    fig = draw(d)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI)
    return out
