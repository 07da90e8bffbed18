"""The health monitor in real (tiny) runs: health.json's schema and values, training unchanged by it, TensorBoard
tags, the stop action (a sweep records a failed trial with the alert as reason) and the rollback."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest
import pytorch_lightning as pl
import torch
from conftest import TINY, TINY_MLP, cli_env
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_module import make_data, make_module

from ganlab.assembly import build_callbacks, build_module
from ganlab.callbacks import DivergenceGuard
from ganlab.callbacks.divergence import TrainingDiverged
from ganlab.callbacks.health import HealthMonitor
from ganlab.cli.train import train
from ganlab.config import ConfigError, build, validate
from ganlab.health import Alert, Divergence, HealthStop, Rollback
from ganlab.loggers import build_loggers
from ganlab.losses import NonSaturating

FAST = [*TINY_MLP, *TINY, "health.every_n_steps=2"]
BASE = [*TINY_MLP, *TINY]
KEYS = {"version", "verdict", "problems", "stopped_by", "last_step", "settings", "alerts", "signals"}


class RecordRt(pl.Callback):
    """Test probe: the r_t of every step's real logits, to recompute the monitor's means."""

    def __init__(self) -> None:
        self.signs: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.signs.append(float(pl_module.last_d_outputs[0].sign().mean()))


def fit(cfg, extra_callbacks=()) -> tuple[pl.Trainer, torch.nn.Module, list]:
    """What ganlab-train does, in process (seeded the same way)."""
    validate(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build(cfg.datamodule, "datamodule")
    datamodule.setup("fit")
    model = build_module(cfg)
    callbacks = build_callbacks(cfg)
    trainer = build(cfg.trainer, "trainer", callbacks=[*callbacks, *extra_callbacks],
                    logger=build_loggers(cfg.logger))
    trainer.fit(model, datamodule=datamodule)
    return trainer, model, callbacks


def test_health_json_from_a_tiny_run(compose_cfg, tmp_path):
    record = RecordRt()
    cfg = compose_cfg(*FAST, "datamodule.holdout=64", "trainer.max_steps=6")
    fit(cfg, [record])
    report = json.loads((tmp_path / "health.json").read_text())
    assert set(report) == KEYS and report["version"] == 2
    assert report["verdict"] == "healthy" and report["problems"] == [] and report["stopped_by"] is None
    assert report["alerts"] == [] and report["last_step"] == 6
    settings = report["settings"]
    assert settings["holdout"] == 64 and settings["every_n_steps"] == 2 and settings["num_samples"] == 256
    assert settings["detectors"]["mode_collapse"]["patience"] == 3
    assert settings["reference"] == {"classes_real": 10.0, "class_entropy_real": pytest.approx(math.log(10), abs=1e-4)}
    signals = report["signals"]
    assert signals["step"] == [2, 4, 6]
    assert all(len(column) == 3 for column in signals.values())
    # r_t at a check = the mean of the per-step E[sign(D(x_real))] since the previous check
    expected = [sum(record.signs[i:i + 2]) / 2 for i in (0, 2, 4)]
    assert signals["r_t"] == pytest.approx(expected, abs=1e-6)
    assert signals["d_acc_real"] == pytest.approx([(1 + r) / 2 for r in expected], abs=1e-6)
    for name in ("d_real", "d_fake", "d_gap", "grad_norm_g", "grad_norm_d", "grad_ratio", "grad_g_rel",
                 "sigma_max_g", "sigma_max_d", "diversity", "classes_seen", "class_entropy", "heldout_gap"):
        assert all(isinstance(v, float) for v in signals[name]), name
    assert all(0 <= v <= 10 for v in signals["classes_seen"])
    assert signals["quality"][0] is None and signals["quality"][1] > 0  # val/fid from step 2's evaluation on
    acc = EventAccumulator(str(next((tmp_path / "tensorboard").glob("events.out.tfevents.*"))))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"health/r_t", "health/diversity", "health/alert/mode_collapse", "health/heldout_gap"} <= tags
    assert [e.step for e in acc.Scalars("health/r_t")] == [2, 4, 6]


def test_the_monitor_does_not_change_training(compose_cfg):
    """With the feature extractor, classifier, spectral norms and fixed-noise samples at every step, the
    trained tensors are bit-identical to a run without the monitor."""
    on = compose_cfg(*BASE, "health.every_n_steps=1")
    off = compose_cfg(*BASE, "health=none")
    _, a, _ = fit(on)
    _, b, _ = fit(off)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_stop_action_ends_the_run_with_the_alert(compose_cfg, tmp_path):
    # r_t >= -1 always holds: the overfitting detector fires at the first check (step 2)
    cfg = compose_cfg(*FAST, "health.detectors.discriminator_overfitting.rt_max=-1.0",
                      "health.detectors.discriminator_overfitting.patience=1",
                      "health.detectors.discriminator_overfitting.action=stop")
    with pytest.raises(HealthStop, match=r"^discriminator overfitting since step 2: r_t = ") as e:
        train(cfg)
    report = json.loads((tmp_path / "health.json").read_text())
    assert report["stopped_by"] == {"detector": "discriminator_overfitting", "step": 2, "message": str(e.value)}
    assert report["verdict"] == "unhealthy" and report["alerts"][0]["action"] == "stop"
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2  # stopped cleanly at the alert's step (max_steps is 4), checkpoint kept


def test_stop_in_a_sweep_is_a_failed_trial_with_the_alert_as_reason(tmp_path):
    overrides = ["health.detectors.discriminator_overfitting.rt_max=-1.0",
                 "health.detectors.discriminator_overfitting.patience=1",
                 "health.detectors.discriminator_overfitting.action=warn,stop", "metrics=none"]
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", "-m", *FAST, *overrides], cwd=tmp_path,
                          env=cli_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = list((tmp_path / "multirun").glob("*/*"))
    runs = {r["run"]: r for r in json.loads((sweep / "summary.json").read_text())["runs"]}
    failed = [r for r in runs.values() if r["status"] == "failed"]
    ok = [r for r in runs.values() if r["status"] != "failed"]
    assert len(failed) == 1 and len(ok) == 1 and "action=stop" in failed[0]["run"]
    stopped = json.loads((sweep / failed[0]["run"] / "health.json").read_text())["stopped_by"]
    assert failed[0]["error"] == f"HealthStop: {stopped['message']}"
    assert stopped["message"].startswith("discriminator overfitting since step 2: r_t = ")
    warned = json.loads((sweep / ok[0]["run"] / "health.json").read_text())
    assert warned["stopped_by"] is None and warned["alerts"][0]["action"] == "warn" and warned["last_step"] == 4


def test_rollback_restores_the_saved_state():
    model = make_module()
    opts = [torch.optim.Adam(model.generator.parameters(), lr=1e-3),
            torch.optim.Adam(model.discriminator.parameters(), lr=2e-3)]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    for opt in opts:
        opt.step()  # some Adam state to save
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    saved_exp_avg = opts[1].state[next(iter(model.discriminator.parameters()))]["exp_avg"].clone()
    rollback = Rollback(max_rollbacks=2, lr_factor=0.5)
    rollback.save(model, opts, step=10)
    for _ in range(3):
        for opt in opts:
            opt.step()  # later steps move weights and Adam moments
    assert not torch.equal(model.state_dict()["discriminator.net.1.weight"], saved["discriminator.net.1.weight"])
    assert rollback.restore(model, opts) == 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert torch.equal(opts[1].state[next(iter(model.discriminator.parameters()))]["exp_avg"], saved_exp_avg)
    assert [o.param_groups[0]["lr"] for o in opts] == [5e-4, 1e-3]
    rollback.restore(model, opts)  # a second rollback compounds the change
    assert [o.param_groups[0]["lr"] for o in opts] == [2.5e-4, 5e-4] and not rollback.available


class NaNOnce(NonSaturating):
    """D's loss is NaN at its ``at``-th call only (the D weights become NaN through Adam)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def d_loss(self, real_logits, fake_logits):
        self.calls += 1
        loss = super().d_loss(real_logits, fake_logits)
        return loss * math.nan if self.calls == self.at else loss


def test_divergence_rollback_continues_training_from_the_healthy_state(tmp_path, caplog):
    model = make_module()  # Adam, lr 1e-3 for G and D
    model.loss = NaNOnce(at=5)
    monitor = HealthMonitor(every_n_steps=2, out=str(tmp_path / "health.json"),
                            detectors={"divergence": Divergence(action="rollback")},
                            rollback=Rollback(max_rollbacks=1, lr_factor=0.5))
    trainer = pl.Trainer(max_steps=8, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1, accelerator="cpu",
                         callbacks=[monitor, DivergenceGuard()])
    with caplog.at_level(logging.INFO, logger="ganlab.callbacks.health"):
        trainer.fit(model, datamodule=make_data())
    assert trainer.global_step == 8  # the guard did not stop the run: the NaN state was rolled back
    assert all(torch.isfinite(p).all() for p in model.parameters())
    report = json.loads((tmp_path / "health.json").read_text())
    (alert,) = report["alerts"]
    assert alert["action"] == "rollback" and alert["step"] == 5
    assert "rolled back to step 4, learning rates x0.5" in alert["message"]
    assert alert["end_step"] == 5 and report["verdict"] == "recovered"  # the rollback ended the episode
    assert "health: divergence ended at step 5 (began 5): rolled back" in caplog.messages
    assert [opt.param_groups[0]["lr"] for opt in trainer.optimizers] == [5e-4, 5e-4]


def test_a_nan_loss_still_stops_the_run_and_health_json_says_why(tmp_path):
    model = make_module()
    model.loss = NaNOnce(at=3)
    monitor = HealthMonitor(every_n_steps=2, out=str(tmp_path / "health.json"),
                            detectors={"divergence": Divergence(action="warn")})
    trainer = pl.Trainer(max_steps=8, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1, accelerator="cpu",
                         callbacks=[monitor, DivergenceGuard()])
    with pytest.raises(TrainingDiverged):
        trainer.fit(model, datamodule=make_data())
    report = json.loads((tmp_path / "health.json").read_text())
    assert report["alerts"][0]["message"] == "divergence at step 3: train/d_loss is nan"
    assert report["stopped_by"]["detector"] == "divergence" and report["stopped_by"]["step"] == 3
    assert report["stopped_by"]["message"].startswith("training diverged at step 3: train/d_loss=nan")


def test_report_travels_in_checkpoints_for_a_resumed_run(tmp_path):
    first = HealthMonitor(out=str(tmp_path / "a.json"))
    first.report.add_row(500, {"r_t": 0.4, "diversity": 0.8})
    first.report.add_alert(Alert("mode_collapse", 500, 1500, "mode collapse since step 500: ...", {"diversity": 0.1}))
    first.rollback.done = 1
    resumed = HealthMonitor(out=str(tmp_path / "b.json"))
    resumed.load_state_dict(first.state_dict())
    assert resumed.report.to_dict() == first.report.to_dict() and resumed.rollback.done == 1
    resumed.report.add_row(1000, {"r_t": 0.5})
    assert resumed.report.signals == {"step": [500, 1000], "r_t": [0.4, 0.5], "diversity": [0.8, None]}


def test_bad_monitor_settings_fail_when_built(compose_cfg):
    with pytest.raises(ValueError, match=r"^health.every_n_steps=0; valid: an integer >= 1$"):
        HealthMonitor(every_n_steps=0)
    with pytest.raises(ValueError, match=r"^health.num_samples=1; valid: an integer >= 2"):
        HealthMonitor(num_samples=1)
    with pytest.raises(ValueError, match=r"^health.generator='g_ema'; valid: trained, ema$"):
        HealthMonitor(generator="g_ema")
    with pytest.raises(TypeError, match=r"^health.detectors.x: a str is not a detector"):
        HealthMonitor(detectors={"x": "divergence"})
    with pytest.raises(ConfigError, match=r"^health.detectors.divergence: health detector action='halt'; valid"):
        build_callbacks(compose_cfg("health.detectors.divergence.action=halt"))
