"""Views of the health monitor's measurements (docs/health.md): its cost and the labelled runs."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view

DETECTORS = ["mode_collapse", "discriminator_overfitting", "discriminator_winning", "divergence", "stalled_quality"]


@view("health_cost", header=["measure", "value"])
def health_cost(records: list[Record]) -> list[list[Any]]:
    """bench_health.py: wall time with / without the monitor, and the time inside its hooks."""
    m = records[0]["metrics"]
    rounds = sorted(k for k in m if k.startswith("ratio_round"))
    return [["wall time with / without the monitor (per round)",
             f"{m['ratio_on_off']:.3f} ({', '.join(f'{m[k]:.3f}' for k in rounds)})"],
            [f"time inside the monitor's hooks, share of the {records[0]['params']['steps']:,}-step runs",
             f"{m['monitor_share']:.2%}".replace("%", " %")],
            ["extrapolated to the 10,000-step default run (20 checks, start-up once, per-step work)",
             f"**{m['default_run_share']:.2%}**".replace("%", " %")]]


def alerts(r: Record) -> dict[str, float]:
    """{detector: step of its first alert} of one run."""
    return {k.split("/", 1)[1]: v for k, v in r["metrics"].items() if k.startswith("alert_step/")}


def ordered(records: list[Record]) -> list[Record]:
    """Bad runs first (in the labelled set's order: by their first alert), then the good ones."""
    return sorted(records, key=lambda r: (r["params"]["label"] != "bad", r["run"]))


@view("health_runs", header=["run", "label", "last step", "alerts (detector: first step)", "visible at"])
def health_runs(records: list[Record]) -> list[list[Any]]:
    """Each labelled run's alerts under today's detectors (``--rejudge``) and where its metrics show the problem."""
    rows, good = [], {}
    for r in ordered(records):
        a = alerts(r)
        text = ", ".join(f"{k}: {v:,.0f}" for k, v in sorted(a.items(), key=lambda kv: kv[1])) or "none"
        if r["params"]["label"] == "good":  # the three seeds of a good recipe share a row when they agree
            good.setdefault((r["run"].rsplit("_s", 1)[0], r["metrics"]["last_step"], text), []).append(r["run"])
            continue
        seen = r["metrics"].get("visible_at_step")
        rows.append([f"`{r['run']}`", r["params"]["label"], f"{r['metrics']['last_step']:,.0f}", text,
                     f"{seen:,.0f} (`{r['params']['visible_rule']}`)" if seen is not None else ""])
    for (_, last, text), runs in good.items():
        name = f"`{runs[0]}`..`{runs[-1]}`" if len(runs) > 1 else f"`{runs[0]}`"
        rows.append([name, "good", f"{last:,.0f}", text, ""])
    return rows


@view("health_detectors", header=["detector", "alarms on bad runs", "expected on", "false alarms on good runs",
                                  "delay of the expected detector (steps)"])
def health_detectors(records: list[Record]) -> Table:
    """Per detector: alarms on the bad runs, false alarms on the good ones, and the delay (alert - visible step)."""
    bad = [r for r in ordered(records) if r["params"]["label"] == "bad"]
    good = [r for r in records if r["params"]["label"] == "good"]
    rows = []
    for det in DETECTORS:
        fired = [r["run"] for r in bad if det in alerts(r)]
        expected = [r for r in bad if det in r["params"]["expected"]]
        false = sum(det in alerts(r) for r in good)
        delays = [f"{r['run']} {alerts(r)[det] - r['metrics']['visible_at_step']:+,.0f}" for r in expected
                  if det in alerts(r)]
        count = f"{len(fired)}/{len(bad)}" + (f" ({', '.join(fired)})" if len(fired) == 1 else "")
        rows.append([f"`{det}`", count, ", ".join(r["run"] for r in expected), f"**{false}/{len(good)}**",
                     "; ".join(delays) or "-"])
    samples = {(r.get("params") or {}).get("sample", "in") for r in records}
    if samples == {"out"}:
        note = ("Out-of-sample: new seeds (4-6) of the tuned recipes and two presets that played no part in tuning "
                "(lsgan_mnist5k, wgan_mnist5k), scored with the thresholds tuned on the in-sample set; nothing here "
                "was tuned on.")
    else:
        note = ("In-sample: the detectors' thresholds were tuned on false alarms of these same good runs, so the "
                "false-alarm column is not an out-of-sample estimate.")
    return Table(rows=rows, notes=[note])
