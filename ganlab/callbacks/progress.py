"""A progress bar in training steps: steps done / total, rate, time left and the latest metrics, on one line.

GANs train by steps across many short epochs, so Lightning's bars (an epoch counter, batches of the current
epoch, a metrics column that wraps at 80 columns) say little. This one is written on Lightning's
``ProgressBar`` base with one Rich line sized to the terminal (a plain log line every tenth of the run when
the output is not a terminal, e.g. a log file).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks.progress.progress_bar import ProgressBar
from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task
from rich.text import Text

log = logging.getLogger(__name__)

RATE_WINDOW = 30.0  # seconds of steps the rate is measured over (an evaluation pause ages out)


def clock(seconds: float | None) -> str:
    """3725.2 -> '1:02:05'; None -> '-:--:--'."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-:--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def metrics_text(metrics: Mapping[str, float]) -> str:
    """{'train/d_loss': 1.2834, 'val/fid': 434.16} -> 'd_loss 1.283 fid 434.2' (last tag part, 4 digits)."""
    return " ".join(f"{tag.rsplit('/', 1)[-1]} {value:.4g}" for tag, value in metrics.items())


def status_parts(done: int, total: int | None, rate: float | None, metrics: Mapping[str, float]) -> tuple[str, str]:
    """('12,500/15,000', '17.7 it/s eta 0:02:21 d_loss 1.283 fid 434.2'): the text before and after the bar."""
    steps = f"{done:,}/{total:,}" if total else f"{done:,}"
    left = None if rate is None or rate <= 0 or not total else (total - done) / rate
    speed = f"{rate:.1f} it/s" if rate else "- it/s"
    return steps, " ".join(p for p in (speed, f"eta {clock(left)}", metrics_text(metrics)) if p)


def status_line(done: int, total: int | None, rate: float | None, metrics: Mapping[str, float],
                width: int = 80) -> Text:
    """The bar's line, at most ``width`` columns: steps, a bar in the room left (none when there is too
    little), rate, time left, metrics (cut at the edge when they do not fit)."""
    head, tail = status_parts(done, total, rate, metrics)
    room = width - len(head) - len(tail) - 2
    text = Text(head + " ")
    if total and room >= 5:
        bar = min(room, 30)
        filled = int(bar * min(done, total) / total)
        text.append("━" * filled, style="bar.complete")
        text.append("━" * (bar - filled), style="bar.back")
        text.append(" ")
    text.append(tail)
    text.truncate(width)
    return text


class _Rate:
    """Steps per second over the last ``RATE_WINDOW`` seconds of (time, step) samples."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, step: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.samples.append((now, step))
        while len(self.samples) > 2 and now - self.samples[1][0] > RATE_WINDOW:
            self.samples.popleft()

    @property
    def value(self) -> float | None:
        if len(self.samples) < 2 or self.samples[-1][0] <= self.samples[0][0]:
            return None
        (t0, s0), (t1, s1) = self.samples[0], self.samples[-1]
        return (s1 - s0) / (t1 - t0)


class _LineColumn(ProgressColumn):
    """The whole status line as one column, sized to the console at every refresh."""

    def __init__(self, bar: StepProgressBar, console: Console) -> None:
        super().__init__()
        self.bar, self.console = bar, console

    def render(self, task: Task) -> Text:
        return self.bar.line(self.console.width)


class StepProgressBar(ProgressBar):
    """Steps done / ``max_steps`` (a resumed run starts at its checkpoint's step), rate in it/s over the last
    30 s, time left, and the latest values of ``metrics`` (e.g. ``train/d_loss``, ``val/fid``), on one line.

    Args:
        metrics: tags shown (those logged so far); null entries are skipped (``${metrics.monitor}`` may be null).
        refresh_per_second: redraws per second in a terminal.
        log_lines: when the output is not a terminal, a log line every ``max_steps / log_lines`` steps.
    """

    def __init__(self, metrics: Sequence[str | None] = ("train/d_loss", "train/g_loss", "val/fid"),
                 refresh_per_second: float = 4, log_lines: int = 10) -> None:
        super().__init__()
        self.metrics = [m for m in metrics if m]
        self.refresh_per_second, self.log_lines = refresh_per_second, log_lines
        self._enabled = True
        self._progress: Progress | None = None
        self._rate = _Rate()
        self._done, self._total = 0, None
        self._values: dict[str, float] = {}
        self._handlers: list[tuple[logging.StreamHandler, Any]] = []
        self._next_log = 0  # plain log lines: the next step due

    # ------------------------------------------------------------------ Lightning's ProgressBar interface
    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    # ------------------------------------------------------------------ state
    def line(self, width: int = 80) -> Text:
        """The current status line (what the terminal shows)."""
        return status_line(self._done, self._total, self._rate.value, self._values, width)

    def _refresh(self, trainer: pl.Trainer, metrics: bool = True, step: int | None = None) -> None:
        """Steps done (``step``, or the trainer's), and with ``metrics`` the latest values of the shown tags."""
        self._done = trainer.global_step if step is None else step
        if not metrics:
            return
        for tag in self.metrics:  # in the order of ``metrics``, each once it has been logged
            value = trainer.callback_metrics.get(tag)
            if value is not None:
                self._values[tag] = float(value)
        self._values = {tag: self._values[tag] for tag in self.metrics if tag in self._values}

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        self._rate = _Rate()
        self._refresh(trainer)
        self._rate.add(self._done)
        if not self.is_enabled:
            return
        console = Console(stderr=True)
        if console.is_terminal:
            self._progress = Progress(_LineColumn(self, console), console=console,
                                      refresh_per_second=self.refresh_per_second, transient=False)
            self._progress.add_task("train", total=self._total)
            self._progress.start()
            self._route_logging(True)
        else:
            self._log_line(force=True)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        # the tags change only where they are logged: train/* on logging steps, val/* after evaluation
        # (on_validation_end); reading them costs Lightning's recomputation of its logged results and a host-device
        # sync per value (float of a tensor), so the other steps update only the step count and the rate
        step = trainer.global_step
        self._refresh(trainer, metrics=step % max(trainer.log_every_n_steps, 1) == 0, step=step)
        self._rate.add(step)
        if (step >= self._next_log and self.is_enabled and self._progress is None
                and (self._total is None or step < self._total)):
            self._log_line()  # the last step's line comes at the end, after its evaluation

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._refresh(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._refresh(trainer)
        if self.is_enabled and self._progress is None:
            self._log_line(force=True)
        self._stop()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._stop()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._stop()

    # ------------------------------------------------------------------ output
    def _log_line(self, force: bool = False) -> None:
        """A plain line for log files: at the start, every ``total / log_lines`` steps and at the end."""
        every = max(1, (self._total or 0) // max(1, self.log_lines)) if self._total else 1000
        if force or self._done >= self._next_log:
            self._next_log = (self._done // every + 1) * every
            head, tail = status_parts(self._done, self._total, self._rate.value, self._values)
            log.info("step %s %s", head, tail)

    def _route_logging(self, on: bool) -> None:
        """While the bar is live, log lines written to the terminal go through Rich (printed above the bar)."""
        if on:
            root = logging.getLogger()
            for handler in root.handlers:
                if type(handler) is logging.StreamHandler and handler.stream in (sys.__stderr__, sys.__stdout__):
                    self._handlers.append((handler, handler.stream))
                    handler.setStream(sys.stderr)  # Rich's redirecting proxy while the bar is live
        else:
            for handler, stream in self._handlers:
                handler.setStream(stream)
            self._handlers = []

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
            self._route_logging(False)
