"""The step progress bar: totals in training steps (fresh and resumed), rate, time left, one 80-column line."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch

from ganlab.callbacks.progress import StepProgressBar, _Rate, clock, metrics_text, status_line

METRICS = {"train/d_loss": torch.tensor(1.28341), "train/g_loss": torch.tensor(0.68912),
           "val/fid": torch.tensor(434.159)}


def fake_trainer(step: int, max_steps: int, metrics: dict | None = None, log_every: int = 1) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, max_steps=max_steps, callback_metrics=dict(metrics or {}),
                           sanity_checking=False, log_every_n_steps=log_every)


def test_clock_and_metrics_text():
    assert clock(3725.2) == "1:02:05" and clock(59.6) == "0:01:00" and clock(None) == "-:--:--"
    assert metrics_text({"train/d_loss": 1.28341, "val/fid": 434.159}) == "d_loss 1.283 fid 434.2"


@pytest.mark.parametrize(("done", "total", "rate"), [(12_500, 15_000, 17.7), (150_000, 150_000, 123.45),
                                                      (0, 20, None), (7, 1_000_000, 0.01)])
def test_status_line_fits_80_columns(done, total, rate):
    metrics = {k: float(v) for k, v in METRICS.items()}
    line = status_line(done, total, rate, metrics, width=80).plain
    assert len(line) <= 80 and "\n" not in line
    assert line.startswith(f"{done:,}/{total:,} ")
    if rate:
        assert f"{rate:.1f} it/s" in line


def test_status_line_values():
    text = status_line(12_500, 15_000, 17.7, {"train/d_loss": 1.28341, "val/fid": 434.159}, width=80)
    # 2,500 steps left at 17.7 it/s: 141 s; the bar takes the 21 columns left, 5/6 of them done
    assert text.plain == "12,500/15,000 " + "━" * 21 + " 17.7 it/s eta 0:02:21 d_loss 1.283 fid 434.2"
    assert [(s.end - s.start, s.style) for s in text.spans] == [(17, "bar.complete"), (4, "bar.back")]
    assert status_line(1, 2, None, {}, width=200).plain.count("━") == 30  # at most 30 wide


def test_rate_is_measured_over_the_recent_window():
    rate = _Rate()
    rate.add(100, now=0.0)
    assert rate.value is None
    rate.add(110, now=1.0)
    assert rate.value == pytest.approx(10.0)
    for t in range(2, 62):  # a minute at 2 it/s: the first fast second has aged out
        rate.add(110 + 2 * (t - 1), now=float(t))
    assert rate.value == pytest.approx(2.0)


@pytest.mark.parametrize(("start", "total"), [(0, 100), (12_500, 15_000)])
def test_totals_of_a_fresh_and_a_resumed_run(start, total, caplog):
    bar = StepProgressBar(log_lines=10)
    trainer = fake_trainer(start, total)
    with caplog.at_level(logging.INFO, logger="ganlab.callbacks.progress"):
        bar.on_train_start(trainer, None)
        assert bar.line().plain.startswith(f"{start:,}/{total:,} ")
        for step in range(start + 1, total + 1):
            trainer.global_step = step
            if step == total:
                trainer.callback_metrics = METRICS
            bar.on_train_batch_end(trainer, None, None, None, step)
        bar.on_train_end(trainer, None)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == f"step {start:,}/{total:,} - it/s eta -:--:--"  # no rate before the first step
    assert lines[-1].startswith(f"step {total:,}/{total:,} ")
    assert lines[-1].endswith("eta 0:00:00 d_loss 1.283 g_loss 0.6891 fid 434.2")
    # one line every tenth of the whole run, at round steps, then the end
    every = total // 10
    assert [int(line.split()[1].split("/")[0].replace(",", "")) for line in lines] == \
        [start] + list(range((start // every + 1) * every, total, every)) + [total]


def test_terminal_bar_shows_steps_of_max_steps(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal for Rich
    monkeypatch.setenv("COLUMNS", "80")
    bar = StepProgressBar()
    trainer = fake_trainer(12_500, 15_000, METRICS)
    bar.on_train_start(trainer, None)
    assert bar._progress is not None  # the live Rich line, not log lines
    trainer.global_step = 12_501
    bar.on_train_batch_end(trainer, None, None, None, 0)
    bar.on_train_end(trainer, None)
    err = capsys.readouterr().err
    assert "12,501/15,000" in err and "d_loss 1.283 g_loss 0.6891 fid 434.2" in err
    assert bar._progress is None


def test_disabled_bar_writes_nothing(caplog):
    bar = StepProgressBar()
    bar.disable()
    with caplog.at_level(logging.INFO, logger="ganlab.callbacks.progress"):
        bar.on_train_start(fake_trainer(0, 10), None)
        bar.on_train_end(fake_trainer(10, 10), None)
    assert not caplog.records


class CountingMetrics(dict):
    """callback_metrics that count their reads (each read is Lightning's recomputation, float() a host sync)."""

    reads = 0

    def get(self, key, default=None):
        CountingMetrics.reads += 1
        return super().get(key, default)


def test_metrics_are_read_on_logging_steps_and_after_evaluation_only():
    bar = StepProgressBar(metrics=["train/d_loss", "val/fid"])
    bar.disable()
    trainer = fake_trainer(0, 100, log_every=5)
    trainer.callback_metrics = CountingMetrics(METRICS)
    bar.on_train_start(trainer, None)
    CountingMetrics.reads = 0
    for step in range(1, 11):
        trainer.global_step = step
        trainer.callback_metrics["train/d_loss"] = torch.tensor(float(step))
        bar.on_train_batch_end(trainer, None, None, None, step)
        assert bar._done == step  # the step count and rate follow every step
        # the loss shown is the one of the latest logging step (5, then 10), as the module logs it only there
        shown = 1.28341 if step < 5 else 5.0 if step < 10 else 10.0  # read at the start, then at 5 and 10
        assert bar._values["train/d_loss"] == pytest.approx(shown)
    assert CountingMetrics.reads == 2 * 2  # two tags at steps 5 and 10
    trainer.callback_metrics["val/fid"] = torch.tensor(12.5)
    bar.on_validation_end(trainer, None)
    assert bar._values == {"train/d_loss": 10.0, "val/fid": 12.5}
