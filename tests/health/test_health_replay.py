"""Rejudging a run from its recorded signals gives the monitor's alerts with the same settings, and other
alerts with other settings."""

from __future__ import annotations

import json

from ganlab.health.detectors import Divergence, ModeCollapse
from ganlab.health.replay import default_detectors, readings, rejudge


def recorded_run(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "run"
    writer = SummaryWriter(log_dir=str(run / "tensorboard"))
    d_grad = [5.0, 2.0, 2.0, 50.0, 400.0, 500.0, 15.0, 20.0]  # an early jump, as healthy DCGANs show
    for i, g in enumerate(d_grad):
        step = 50 * (i + 1)
        writer.add_scalar("train/grad_norm_d", g, step)
        writer.add_scalar("train/d_loss", 0.5, step)
    writer.add_scalar("val/fid", 30.0, 400)
    writer.close()
    signals = {"step": [100, 200, 300, 400], "classes_seen": [1.0, 1.0, 1.0, 1.0], "class_entropy": [0, 0, 0, 0],
               "diversity": [0.1, 0.1, 0.1, None]}
    health = {"version": 1, "verdict": "healthy", "problems": [], "alerts": [], "last_step": 400,
              "settings": {"monitor": "val/fid", "reference": {"classes_real": 10.0, "class_entropy_real": 2.3}},
              "signals": signals}
    (run / "health.json").write_text(json.dumps(health))
    return run


def test_readings_in_the_monitors_order(tmp_path):
    rows = readings({"train/d_loss": {100: 1.0}, "val/fid": {100: 9.0}},
                    {"settings": {"monitor": "val/fid"}, "signals": {"step": [100], "diversity": [0.5]}})
    assert [(s, feed) for s, feed, _ in rows] == [(100, "log"), (100, "check"), (100, "eval")]
    assert rows[2][2] == {"quality": 9.0}


def test_rejudge_with_other_settings_gives_other_alerts(tmp_path):
    run = recorded_run(tmp_path)
    early = {"divergence": Divergence(warmup=0, min_history=3, patience=2)}
    early["divergence"].name = "divergence"
    (a,) = rejudge(run, early)
    assert (a.detector, a.start_step, a.step) == ("divergence", 200, 250)  # 50 > 10 x median(5, 2, 2)
    assert a.end_step == 350  # 15 < 10 x median(5, 2, 2, 50, 400, 500): the episode ended there
    assert rejudge(run, {"divergence": Divergence()}) == []  # the default warm-up ignores the early jump
    collapse = ModeCollapse(patience=3, min_step=0)
    collapse.name = "mode_collapse"
    (b,) = rejudge(run, {"mode_collapse": collapse})  # check signals + reference from health.json
    assert (b.start_step, b.step) == (100, 300) and "1 of 10 classes" in b.message
    assert set(default_detectors()) >= {"mode_collapse", "divergence", "stalled_quality"}
    assert default_detectors(["detectors.divergence.factor=20"])["divergence"].factor == 20
