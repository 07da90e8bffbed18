"""scripts/studies/health_runs.py: its runs compose, and its table scores detectors from the runs' health.json."""

from __future__ import annotations

import json

from ganlab.config import compose
from ganlab.tools import health_runs as runs


def test_labelled_set_is_as_the_issue_asks_and_every_run_composes(tmp_path):
    labels = [r.label for r in runs.RUNS.values()]
    assert labels.count("bad") == 5 and labels.count("good") == 6
    for name, run in runs.RUNS.items():
        cfg = compose([f"paths.output_dir={tmp_path}", *run.overrides])
        assert cfg.health is not None, name  # every labelled run is monitored
    assert compose([*runs.RUNS["overfit_subset500"].overrides]).datamodule.subset == 500


def fake_run(out, name, alerts, last_step=3000):
    (out / name).mkdir(parents=True)
    report = {"version": 1, "verdict": "unhealthy" if alerts else "healthy", "last_step": last_step,
              "settings": {"detectors": {"mode_collapse": {}, "discriminator_winning": {}}},
              "alerts": [{"detector": d, "start_step": s, "step": s, "action": "warn", "message": "", "evidence": {}}
                         for d, s in alerts], "signals": {"step": []}}
    (out / name / "health.json").write_text(json.dumps(report))


def test_table_counts_alarms_and_false_alarms(tmp_path):
    fake_run(tmp_path, "minimax_dcgan", [("discriminator_winning", 1500), ("mode_collapse", 2000)])
    fake_run(tmp_path, "dcgan_s2", [("mode_collapse", 2500)])
    fake_run(tmp_path, "dcgan_s1", [])
    text = runs.table(tmp_path)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 1/1 (minimax_dcgan) | minimax_dcgan | 0/2 (-) |" in rows["discriminator_winning"]
    assert "| 1/1 (minimax_dcgan) | - | 1/2 (dcgan_s2) |" in rows["mode_collapse"]
    assert "| minimax_dcgan | bad | 3,000 | unhealthy | discriminator_winning: 1,500, mode_collapse: 2,000 | " \
           "not measured |" in text  # no TensorBoard events here: the visible step is not measured
