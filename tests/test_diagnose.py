"""ganlab-diagnose on hand-made runs: events written with SummaryWriter, health.json written by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from ganlab.cli.diagnose import main
from ganlab.health.diagnose import diagnose, events_alerts


def write_run(run: Path, curves: dict[str, dict[int, float]], health: dict | None = None) -> Path:
    """A run directory: tensorboard/ events with ``curves`` (tag -> {step: value}), optional health.json."""
    writer = SummaryWriter(str(run / "tensorboard"))
    for tag, points in curves.items():
        for step, value in sorted(points.items()):
            writer.add_scalar(tag, value, step)
    writer.close()
    if health is not None:
        (run / "health.json").write_text(json.dumps(health))
    return run


def steady(n: int = 40, every: int = 50, d: float = 1.3, g: float = 0.8) -> dict[str, dict[int, float]]:
    """Healthy-looking losses: small deterministic wiggles around fixed levels."""
    return {"train/d_loss": {every * (i + 1): d + 0.05 * math.sin(i) for i in range(n)},
            "train/g_loss": {every * (i + 1): g + 0.05 * math.cos(i) for i in range(n)}}


HEALTH = {
    "version": 1, "verdict": "unhealthy", "problems": ["discriminator_overfitting", "mode_collapse"],
    "stopped_by": {"detector": "mode_collapse", "step": 1500, "message": "mode collapse since step 1,000"},
    "last_step": 1500, "settings": {"every_n_steps": 500},
    "alerts": [
        {"detector": "mode_collapse", "start_step": 1000, "step": 1500, "action": "stop",
         "message": "mode collapse since step 1,000: generated samples cover 2 of 10 digit classes (real: 10)",
         "evidence": {"classes_seen": 2, "classes_real": 10}},
        {"detector": "discriminator_overfitting", "start_step": 500, "step": 1000, "action": "warn",
         "message": "D overfitting since step 500: r_t = 0.95", "evidence": {"r_t": 0.95}},
    ],
    "signals": {"step": [500, 1000, 1500], "r_t": [0.7, 0.95, 0.97], "diversity": [0.9, None, 0.2],
                "classes_seen": [10, 4, 2]},
}


def test_health_json_gives_verdict_timeline_numbers_and_a_figure(tmp_path, capsys):
    curves = {**steady(30), "val/fid": {500: 80.0, 1000: 60.0, 1500: 70.0},
              "train/d_real": {1500: 2.5}, "train/d_fake": {1500: -3.25}}
    run = write_run(tmp_path / "bad", curves, HEALTH)
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "(diagnosed from health.json)" in out
    assert ("verdict: unhealthy: discriminator_overfitting, mode_collapse (stopped by mode_collapse at step 1,500: "
            "mode collapse since step 1,000)") in out
    timeline = [line.strip() for line in out.splitlines() if line.strip().startswith("step ")]
    assert timeline == [  # ordered by the step each alert was raised
        "step 1,000 (since 500)  discriminator_overfitting [warn]  D overfitting since step 500: r_t = 0.95",
        "step 1,500 (since 1,000)  mode_collapse [stop]  mode collapse since step 1,000: generated samples cover "
        "2 of 10 digit classes (real: 10)"]
    assert "val/fid: final 70 (step 1,500), best 60 (step 1,000)" in out
    assert "D real / fake: +2.5 / -3.25" in out
    assert "r_t: 0.97 (step 1,500)" in out  # from health.json's signals (the events lack health/*)
    assert "diversity: 0.2 (step 1,500)" in out and "classes seen: 2 (step 1,500)" in out
    figure = run / "diagnose.png"
    assert f"figure: {figure}" in out
    assert Image.open(figure).size == (800, 1100)


def test_old_run_without_health_json_nan_loss_is_divergence(tmp_path, capsys):
    curves = steady(10)
    curves["train/g_loss"][550] = float("nan")  # DivergenceGuard stops the run at the first NaN
    run = write_run(tmp_path / "old", curves)
    d = diagnose(run)
    assert d.source == "events" and d.verdict == "unhealthy" and d.problems == ["divergence"]
    assert (d.alerts[0].start_step, d.alerts[0].step) == (550, 550)
    assert main([str(run), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "diagnosed from its TensorBoard events (no health.json" in out
    assert "verdict: unhealthy: divergence" in out
    assert "step 550 (since 550, still active)  divergence [events]  divergence at step 550: train/g_loss is nan" in out
    assert not (run / "diagnose.png").exists()


def test_events_d_winning_starts_where_d_loss_stays_low_and_steady_losses_are_healthy():
    curves = steady(40)
    for i, step in enumerate(sorted(curves["train/d_loss"])):
        if step >= 1050:  # D's loss falls to ~0.01 from step 1,050 on while G's climbs to ~6
            curves["train/d_loss"][step] = 0.01 + 0.001 * (i % 3)
            curves["train/g_loss"][step] = 6.0 + 0.1 * (i % 2)
    alerts = events_alerts(curves)
    assert [a.detector for a in alerts] == ["discriminator_winning"]
    assert (alerts[0].start_step, alerts[0].step) == (1050, 2000)
    assert alerts[0].evidence["g_loss"] == pytest.approx(6.05, abs=0.06)
    assert events_alerts(steady(40)) == []
    wgan = steady(40, d=-5.0)  # a critic's loss is not >= 0: the rule does not apply
    assert events_alerts(wgan) == []


def test_events_stalled_fid_and_falling_class_coverage():
    fid = {1000: 100.0, 2000: 50.0, 3000: 40.0, 4000: 42.0, 5000: 45.0, 6000: 48.0}
    alerts = events_alerts({"val/fid": fid})
    assert [(a.detector, a.start_step, a.step) for a in alerts] == [("stalled_quality", 3000, 6000)]
    assert alerts[0].evidence == {"best_fid": 40.0, "recent_best_fid": 42.0, "last_fid": 48.0}
    improving = {s: 100.0 - s / 100 for s in fid}  # 90 ... 40: each window improves on what came before
    assert events_alerts({"val/fid": improving}) == []
    covered = {1000: 6.0, 2000: 10.0, 3000: 7.0, 4000: 4.0, 5000: 3.0}
    alerts = events_alerts({"val/classes_covered": covered})
    assert [(a.detector, a.start_step, a.step) for a in alerts] == [("mode_collapse", 4000, 5000)]


def test_missing_tags_still_give_a_report_and_a_full_size_figure(tmp_path, capsys):
    run = write_run(tmp_path / "sparse", {"train/d_loss": {10: 1.0, 20: 0.9}})
    out_dir = tmp_path / "figs"
    other = write_run(tmp_path / "x" / "sparse", {"train/g_loss": {10: 1.0}})  # the same folder name
    assert main([str(run), str(other), "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("verdict: healthy") == 2 and "last step: 20" in out
    figures = sorted(out_dir.glob("*.png"))
    assert [f.name for f in figures] == ["sparse.png", "x_sparse.png"]
    assert all(Image.open(f).size == (800, 1100) for f in figures)


def test_errors_are_one_line_and_nothing_is_written(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == (f"ganlab-diagnose: error: {tmp_path / 'nope'}: no such directory; valid: a "
                                       f"run directory written by ganlab-train\n")
    sweep = tmp_path / "sweep"
    write_run(sweep / "0", steady(3))
    assert main([str(sweep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a ganlab run" in err and f"e.g. {(sweep / '0').resolve()}" in err
    bad = write_run(tmp_path / "v3", steady(3), {**HEALTH, "version": 3})
    good = write_run(tmp_path / "good", steady(3))
    assert main([str(good), str(bad)]) == 2  # every run is read before any figure is written
    assert capsys.readouterr().err.strip().endswith("version 3; valid: a health report of version 1 or 2")
    assert not (good / "diagnose.png").exists()
