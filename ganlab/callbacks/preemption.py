"""Pre-emption signals (SIGTERM, SLURM's SIGUSR1): remember the signal; the checkpoint policy writes and stops.

A signal handler only sets a flag: writing a checkpoint from inside the handler (as Lightning's SLURM
requeue handler does) would capture a half-finished step. The policy writes last.ckpt at the next
step boundary and raises ``Preempted``, whose exit status is 128 + the signal number (143 for SIGTERM,
138 for SIGUSR1): what a shell reports for a process killed by that signal, and what schedulers
(SLURM, Kubernetes) treat as "terminated by signal", so requeue policies apply.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


class Preempted(SystemExit):
    """Training stopped by a pre-emption signal after writing last.ckpt; ``code`` is 128 + signal number."""


class SignalFlag:
    """Installs handlers for ``names`` that record the signal; SIGTERM also reaches the previous handler
    (Lightning's, which stops a running validation and its DDP child processes)."""

    CHAIN = ("SIGTERM",)  # SIGUSR1 is not chained: Lightning's SLURM handler would save mid-step and requeue

    def __init__(self, names: Sequence[str]) -> None:
        valid = {s.name for s in signal.Signals}
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValueError(f"callbacks.model_checkpoint.signals: unknown {bad}; valid: names such as SIGTERM, "
                             f"SIGUSR1, SIGUSR2, SIGINT")
        self.names = tuple(names)
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python allows handlers only in the main thread
        self.received = None
        for name in self.names:
            signum = signal.Signals[name]
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: writing last.ckpt at the end of this step, then stopping",
                 signal.Signals(signum).name)
        self.received = signum
        previous = self._previous.get(signum)
        if signal.Signals(signum).name in self.CHAIN and callable(previous):
            previous(signum, frame)

    def exit_code(self) -> int:
        return 128 + (self.received or signal.SIGTERM)

    def restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}
