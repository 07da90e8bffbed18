"""scripts/studies/health_runs.py: its runs compose, and its table scores detectors from the runs' health.json."""

from __future__ import annotations

import json

from ganlab.config import compose
from ganlab.tools import health_runs as runs


def test_labelled_set_is_as_the_issue_asks_and_every_run_composes(tmp_path):
    labels = [r.label for r in runs.RUNS.values() if r.sample == "in"]
    assert labels.count("bad") == 5 and labels.count("good") == 6
    # the out-of-sample set: new seeds of the tuned recipes and two presets no threshold was tuned on
    oos = {n: r for n, r in runs.RUNS.items() if r.sample == "out"}
    assert set(oos) == set(runs.OUT_OF_SAMPLE) and not set(oos) & {n for n, r in runs.RUNS.items() if r.sample == "in"}
    presets = {o.split("=", 1)[1] for r in oos.values() for o in r.overrides if o.startswith("experiment=")}
    tuned = {o.split("=", 1)[1] for r in runs.RUNS.values() if r.sample == "in" for o in r.overrides
             if o.startswith("experiment=")}
    assert len(presets - tuned) >= 2
    assert all(any(o.startswith("seed=") and int(o[5:]) >= 4 for o in r.overrides) for r in oos.values())
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


def test_records_carry_label_sample_and_first_alerts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    fake_run(out, "weak_g_s4", [("mode_collapse", 2000), ("discriminator_winning", 1500),
                                ("mode_collapse", 4000)], last_step=6000)
    fake_run(out, "lsgan_s4", [])
    paths = runs.write_records(out, "oos-cpu")
    records = {p.stem: json.loads(p.read_text()) for p in paths}
    assert set(records) == {"weak_g_s4", "lsgan_s4"}
    bad = records["weak_g_s4"]
    assert bad["params"]["label"] == "bad" and bad["params"]["sample"] == "out"
    assert bad["params"]["expected"] == ["discriminator_winning", "mode_collapse", "stalled_quality"]
    assert bad["metrics"] == {"last_step": 6000, "alert_step/mode_collapse": 2000,
                              "alert_step/discriminator_winning": 1500}  # the first alert of each detector
    assert bad["params"]["visible_rule"] is None  # no TensorBoard events: not measured
    assert records["lsgan_s4"]["metrics"] == {"last_step": 3000} and "visible_rule" not in records["lsgan_s4"]["params"]
