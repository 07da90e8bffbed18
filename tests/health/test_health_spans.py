"""Alert episodes have an end: detectors set ``end_step``, health.json's verdict (healthy / recovered / unhealthy),
the monitor's log line and scalar, ganlab-diagnose's timeline and shaded spans, ganlab-compare's verdict column."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_diagnose import HEALTH, steady, write_run

from ganlab.callbacks.health import HealthMonitor
from ganlab.health import Alert, Divergence, ModeCollapse, StalledQuality
from ganlab.health.diagnose import diagnose, format_report
from ganlab.health.figure import draw, span
from ganlab.health.report import HealthReport, verdict_of
from ganlab.runs.status import verdict

BAD, GOOD = {"diversity": 0.1}, {"diversity": 0.9}


def feed(detector, rows, every=500, start=500):
    """Feed rows at steps start, start+every, ...; the alerts raised, in order."""
    return [a for i, row in enumerate(rows) if (a := detector.check(start + i * every, row)) is not None]


# ----------------------------------------------------------------------------- detectors
def test_an_episode_ends_at_the_first_reading_without_the_pattern_and_a_later_one_is_a_new_alert():
    det = ModeCollapse(patience=2, min_step=0)
    #            500  1000 1500 2000  2500  3000 3500
    first, second = feed(det, [BAD, BAD, BAD, GOOD, GOOD, BAD, BAD])
    assert (first.start_step, first.step, first.end_step) == (500, 1000, 2000)
    assert (second.start_step, second.step, second.end_step) == (3000, 3500, None)
    assert second is not first and det.alert is second and det.active
    det.check(4000, GOOD)
    assert second.end_step == 4000 and first.end_step == 2000 and not det.active


def test_no_end_on_a_reading_without_the_signals():
    det = ModeCollapse(patience=1, min_step=1000)
    (a,) = feed(det, [BAD, BAD], start=1000)
    det.check(2500, {"d_real": 1.0})  # nothing the detector reads: says nothing about the pattern
    assert a.end_step is None and det.active
    det.check(3000, GOOD)
    assert a.end_step == 3000


def test_divergence_non_finite_episode_ends_when_losses_are_finite_and_calm():
    det = Divergence(patience=2)
    calm = {"d_loss": 1.3, "g_loss": 0.8}
    a = det.check(100, {"d_loss": math.nan, "g_loss": 0.8})
    assert det.check(150, {"d_loss": math.inf}) is None and a.end_step is None  # still non-finite: goes on
    det.check(200, calm)
    assert a.end_step == 200 and det.alert is None
    b = det.check(250, {"d_loss": math.nan})
    assert b is not a and b.start_step == 250 and b.end_step is None


def test_stalled_quality_episode_ends_at_a_new_best():
    det = StalledQuality(window=2, min_improvement=0.05)
    fids = [100.0, 50.0, 51.0, 52.0, 53.0, 40.0]  # stalls after 50 (step 1,000), 40 is a 20 % gain
    (a,) = feed(det, [{"quality": f} for f in fids])
    assert (a.start_step, a.step, a.end_step) == (1000, 2000, 3000)
    assert a.message.startswith("quality stalled since step 1,000")  # the overridden start kept


def test_end_closes_the_open_episode_once():
    det = ModeCollapse(patience=1, min_step=0)
    (a,) = feed(det, [BAD])
    assert det.end(700) is a and a.end_step == 700 and not det.active
    assert det.end(800) is None and a.end_step == 700


def test_a_resumed_open_episode_raises_no_second_alert_and_ends():
    det = ModeCollapse(patience=1, min_step=0)
    open_alert = Alert("mode_collapse", 500, 500, "mode collapse since step 500: ...")
    det.resume(open_alert)
    assert feed(det, [BAD, BAD], start=1000) == [] and open_alert.end_step is None
    det.check(2000, GOOD)
    assert open_alert.end_step == 2000


# ----------------------------------------------------------------------------- verdict and health.json
def alert(start: int, end: int | None, detector: str = "mode_collapse") -> Alert:
    return Alert(detector, start, start + 500, "...", end_step=end)


def test_verdict_from_alert_lists():
    stop = {"detector": "divergence", "step": 900, "message": "..."}
    assert verdict_of([], None) == "healthy"
    assert verdict_of([alert(0, 1000), alert(2000, 2500, "divergence")], None) == "recovered"
    assert verdict_of([alert(0, 1000), alert(2000, None)], None) == "unhealthy"  # still active at the end
    assert verdict_of([alert(0, 1000)], stop) == "unhealthy"  # the run was stopped by an alert
    assert verdict_of([], stop) == "unhealthy"  # the divergence guard, no alert of its own


def test_health_json_carries_end_step_of_the_stored_alert_and_reads_version_1(tmp_path):
    det = ModeCollapse(patience=1, min_step=0)
    det.name = "mode_collapse"
    report = HealthReport(tmp_path / "health.json")
    report.add_alert(det.check(500, BAD))
    report.write()
    d = json.loads((tmp_path / "health.json").read_text())
    assert d["version"] == 2 and d["verdict"] == "unhealthy" and d["alerts"][0]["end_step"] is None
    det.check(1000, GOOD)  # the report holds the same object: the next write carries the end
    report.write()
    d = json.loads((tmp_path / "health.json").read_text())
    assert d["verdict"] == "recovered" and d["problems"] == ["mode_collapse"]
    assert list(d["alerts"][0])[:4] == ["detector", "start_step", "step", "end_step"]
    assert d["alerts"][0]["end_step"] == 1000
    old = HealthReport(None)
    old.load_dict(HEALTH)  # a version-1 report (a checkpoint from before end_step)
    assert [a.end_step for a in old.alerts] == [None, None] and old.to_dict()["verdict"] == "unhealthy"


# ----------------------------------------------------------------------------- the monitor
class Recorder:
    def __init__(self) -> None:
        self.logged: list[tuple[dict, int]] = []

    def log_metrics(self, metrics, step):
        self.logged.append((metrics, step))


def test_monitor_logs_the_end_and_sets_the_alert_scalar_back_to_zero(tmp_path, caplog):
    monitor = HealthMonitor(out=str(tmp_path / "health.json"),
                            detectors={"stalled_quality": StalledQuality(window=1, min_improvement=0.05)})
    trainer = SimpleNamespace(is_global_zero=True, logger=Recorder())
    assert monitor._feed(trainer, "eval", 1000, {"quality": 50.0}) == []
    assert monitor._feed(trainer, "check", 1500, {"quality": 60.0}) == []  # not this detector's feed
    (a,) = monitor._feed(trainer, "eval", 2000, {"quality": 50.0})  # (the monitor's _act stores it)
    monitor.report.add_alert(a)
    with caplog.at_level(logging.INFO, logger="ganlab.callbacks.health"):
        assert monitor._feed(trainer, "eval", 6500, {"quality": 30.0}) == []
    assert a.end_step == 6500
    assert [r.getMessage() for r in caplog.records] == ["health: stalled quality ended at step 6,500 (began 1,000)"]
    assert trainer.logger.logged == [({"health/alert/stalled_quality": 0.0}, 6500)]
    written = json.loads((tmp_path / "health.json").read_text())  # rewritten when the episode ended
    assert written["verdict"] == "recovered" and written["alerts"][0]["end_step"] == 6500


def test_a_resumed_monitor_continues_open_warnings_only_from_version_2_reports(tmp_path):
    first = HealthMonitor(detectors={"mode_collapse": ModeCollapse(), "divergence": Divergence()})
    first.report.add_alert(Alert("divergence", 100, 100, "...", action="stop"))  # stopped the run: watched anew
    first.report.add_alert(Alert("mode_collapse", 500, 1500, "...", end_step=2000))
    first.report.add_alert(Alert("mode_collapse", 3000, 4000, "..."))
    resumed = HealthMonitor(detectors={"mode_collapse": ModeCollapse(), "divergence": Divergence()})
    resumed.load_state_dict(first.state_dict())
    assert resumed.detectors["mode_collapse"].alert is resumed.report.alerts[2]
    assert not resumed.detectors["divergence"].active
    old = HealthMonitor(detectors={"mode_collapse": ModeCollapse()})
    state = first.state_dict()
    old.load_state_dict({**state, "report": {**state["report"], "version": 1}})
    assert not old.detectors["mode_collapse"].active  # version 1: open or ended is unknown


# ----------------------------------------------------------------------------- diagnose, figure, compare
RECOVERED = {
    "version": 2, "verdict": "recovered", "problems": ["mode_collapse", "divergence"], "stopped_by": None,
    "last_step": 2000, "settings": {},
    "alerts": [
        {"detector": "mode_collapse", "start_step": 500, "step": 1000, "end_step": 1500, "action": "warn",
         "message": "mode collapse since step 500: ...", "evidence": {}},
        {"detector": "divergence", "start_step": 1200, "step": 1200, "end_step": 1300, "action": "rollback",
         "message": "divergence at step 1,200: train/d_loss is nan; rolled back", "evidence": {}}],
    "signals": {"step": [500, 1000, 1500, 2000], "diversity": [0.1, 0.1, 0.8, 0.9]}}


def spans_of(fig) -> list[tuple[float, float]]:
    """(x0, x1) of the shaded spans of the figure's first panel (axvspan: a Rectangle in data x)."""
    ax = fig.axes[0]
    return [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]


def test_recovered_run_timeline_verdict_and_spans_to_end_step(tmp_path):
    run = write_run(tmp_path / "rec", steady(40), RECOVERED)  # losses logged to step 2,000
    d = diagnose(run)
    assert d.verdict == "recovered" and not d.healthy and d.ends_known
    text = format_report(d)
    assert "verdict: recovered: mode_collapse, divergence (every alert ended, the last at step 1,500)" in text
    timeline = [line.strip() for line in text.splitlines() if line.strip().startswith("step ")]
    assert timeline == ["step 1,000 (500–1,500)  mode_collapse [warn]  mode collapse since step 500: ...",
                        "step 1,200 (1,200–1,300)  divergence [rollback]  divergence at step 1,200: train/d_loss "
                        "is nan; rolled back"]
    fig = draw(d)
    assert spans_of(fig) == [(500, 1500), (1200, 1300)]
    assert fig.get_suptitle() == "rec: recovered: mode_collapse, divergence"


def test_still_active_alert_is_shaded_to_the_last_step_and_version_1_to_where_it_was_raised(tmp_path):
    active = {**RECOVERED, "verdict": "unhealthy", "alerts": [{**RECOVERED["alerts"][0], "end_step": None}]}
    d = diagnose(write_run(tmp_path / "active", steady(40), active))
    assert d.last_step == 2000 and span(d.alerts[0], d) == (500, 2000)
    assert spans_of(draw(d)) == [(500, 2000)]
    assert "step 1,000 (since 500, still active)  mode_collapse [warn]" in format_report(d)
    old = diagnose(write_run(tmp_path / "v1", steady(40), HEALTH))  # schema version 1: no end_step
    assert not old.ends_known and [a.end_step for a in old.alerts] == [None, None]
    assert old.verdict == "unhealthy" and sorted(spans_of(draw(old))) == [(500, 1000), (1000, 1500)]
    assert "step 1,500 (since 1,000)  mode_collapse [stop]" in format_report(old)


def test_events_only_alerts_are_active_to_the_end(tmp_path):
    curves = steady(10)
    curves["train/g_loss"][550] = float("nan")
    d = diagnose(write_run(tmp_path / "old", curves))
    assert d.source == "events" and d.verdict == "unhealthy" and d.alerts[0].end_step is None
    assert "step 550 (since 550, still active)  divergence [events]" in format_report(d)


@pytest.mark.parametrize(("health", "expected"), [
    (RECOVERED, "recovered:mode_collapse,divergence"),
    ({**RECOVERED, "verdict": "unhealthy"}, "mode_collapse,divergence"),
    ({"version": 2, "verdict": "healthy", "problems": []}, "healthy"),
    (None, "-")])
def test_status_verdict_text(health, expected):
    assert verdict(health) == expected


def test_compare_verdict_column_for_a_recovered_run(tmp_path: Path, capsys):
    from test_compare import make_run, read_csv

    from ganlab.cli.compare import main

    rec = make_run(tmp_path / "runs" / "rec", ["seed=1"], (50.0, 40.0))
    (rec / "health.json").write_text(json.dumps(RECOVERED))
    ok = make_run(tmp_path / "runs" / "ok", ["seed=2"], (50.0, 40.0))
    (ok / "health.json").write_text(json.dumps({**RECOVERED, "verdict": "healthy", "problems": [], "alerts": []}))
    assert main([str(tmp_path / "runs"), "--runs", "--csv", str(tmp_path / "t.csv")]) == 0
    rows = {r["run"]: r["verdict"] for r in read_csv(tmp_path / "t.csv")[1]}
    assert rows == {"rec": "recovered:mode_collapse,divergence", "ok": "healthy"}
    assert "recovered:mode_collapse,divergence" in capsys.readouterr().out
    assert main([str(tmp_path / "runs"), "--csv", str(tmp_path / "g.csv")]) == 0  # grouped over seeds
    (group,) = read_csv(tmp_path / "g.csv")[1]
    assert group["verdict"] in ("1 recovered:mode_collapse,divergence, 1 healthy",
                                "1 healthy, 1 recovered:mode_collapse,divergence")
