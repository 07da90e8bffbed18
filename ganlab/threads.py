"""CPU thread policy: never more compute threads than free cores, one for small models.

PyTorch starts one intra-op thread per physical core. On a machine where the cores are shared (several
ganlab processes: DDP ranks on CPU, joblib trials, ``ganlab-reproduce --jobs``, or anybody else's work),
that oversubscribes them, and OpenMP threads that wait for a descheduled sibling spin: on a busy 2-core
machine a 100-step run of the default MLP took 119 s with 2 threads against 16 s with 1. A small model
gains nothing from a second thread even on an idle machine (its matrix products are too small to split),
so ``threads: auto`` gives it one.

``threads`` (train, eval and sample configs): ``auto`` or a positive integer. Precedence: an integer in
the config, then ``OMP_NUM_THREADS`` from the environment, then ``auto``. The count chosen is applied
with ``torch.set_num_threads`` and exported as ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` for child
processes (DDP ranks, data-loader workers). Standard library only: the entry points call this before
torch is imported.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

ENV_KEYS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# ganlab processes that share this machine's cores, set by launchers of several runs (ganlab-reproduce --jobs)
PROCESSES_ENV = "GANLAB_PROCESSES"
# G's + D's parameters times the batch (about the multiply-adds of one forward pass of an MLP batch) below which
# a second thread does not pay: matrix products this small do not split well. A rough cut between the test-sized
# MLPs and 2-D toy nets (~1e7) and the default mnist5k MLP (1.6e8), which keeps torch's count on an idle machine
SMALL_WORK = 3.0e7


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count and why (for the one log line); ``auto``: chosen by the policy, not given."""

    threads: int
    reason: str
    auto: bool = False

    def for_work(self, work: float | None) -> ThreadChoice:
        """One thread for a small model (``work`` < ``SMALL_WORK``) when the count was chosen automatically."""
        if not self.auto or work is None or work >= SMALL_WORK or self.threads == 1:
            return self
        return ThreadChoice(1, f"{self.reason}, small model", auto=True)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity: taskset, Slurm's cpus_per_task, cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy jiffies of all cores, number of cores) from /proc/stat; None where it does not exist."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in lines[0].split()[1:8])
    except (OSError, ValueError, IndexError):
        return None
    # steal (a hypervisor's other guests) and guest time (already inside user) are not this machine's processes
    return user + nice + system + irq + softirq, sum(line.startswith("cpu") for line in lines[1:])


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def busy_cores(window: float = 0.5) -> float:
    """Cores kept busy by other processes, measured over ``window`` seconds (0.0 where unmeasurable).

    The machine's busy time (/proc/stat, counted in clock ticks) minus this process's own CPU time, so it
    counts everyone else; within about a tenth of a core for the default window.
    """
    start, own, t = _cpu_jiffies(), _own_cpu_seconds(), time.monotonic()
    if start is None:
        return 0.0
    time.sleep(window)
    end, own, dt = _cpu_jiffies(), _own_cpu_seconds() - own, time.monotonic() - t
    if end is None or dt <= 0:
        return 0.0
    hz = os.sysconf("SC_CLK_TCK")
    others = (end[0] - start[0]) / hz - own  # core-seconds of everybody else in the window
    return min(max(0.0, others / dt), float(end[1]))


def auto_threads(cores: int, processes: int = 1, work: float | None = None, busy: float = 0.0) -> ThreadChoice:
    """The thread count of ``threads: auto`` for one process.

    Args:
        cores: cores this process may run on.
        processes: processes of this launch that run at once on these cores (each gets its share).
        work: G's + D's parameter count times the batch size (None: unknown); below ``SMALL_WORK``: 1 thread.
        busy: cores kept busy by other work (``busy_cores()``); only the free ones are used.

    Returns:
        at least 1 thread, at most this process's share of the free cores.
    """
    share = max(1, cores // max(1, processes))
    free = max(1, int(cores - busy + 0.5))
    reasons = [f"{cores} core{'s' * (cores != 1)}"]
    if processes > 1:
        reasons.append(f"{processes} processes")
    if busy >= 0.5:
        reasons.append(f"{busy:.1f} busy")
    return ThreadChoice(max(1, min(share, free)), "auto: " + ", ".join(reasons), auto=True).for_work(work)


def parse_setting(value: object, key: str = "threads") -> int | None:
    """``auto`` -> None, a positive integer -> itself; anything else is a one-line ``ValueError``."""
    if value == "auto" or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key}={value}; valid: auto or an integer >= 1")
    return value


def env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as the user (or a launcher such as joblib) set it, when it is a positive integer."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def choose(setting: object, processes: int = 1) -> ThreadChoice:
    """The thread count for ``threads=setting``: config integer > ``OMP_NUM_THREADS`` > ``auto_threads``.

    ``processes``: ranks of this launch on this machine (DDP) times parallel trials (joblib); a launcher of
    several runs adds its count through ``GANLAB_PROCESSES``. Refine with ``.for_work`` once the model exists.
    """
    fixed = parse_setting(setting)
    if fixed is not None:
        return ThreadChoice(fixed, f"threads={fixed}")
    if env_threads() is not None:
        return ThreadChoice(env_threads(), f"OMP_NUM_THREADS={env_threads()}")
    hint = os.environ.get(PROCESSES_ENV, "1")
    processes *= int(hint) if hint.isdigit() and int(hint) > 0 else 1
    return auto_threads(available_cores(), processes, busy=busy_cores())


def export(threads: int) -> None:
    """Environment for child processes and for torch's thread pools when torch is imported after this."""
    for key in ENV_KEYS:
        os.environ[key] = str(threads)


def apply(threads: int) -> None:
    """Set torch's intra-op threads and the environment of child processes."""
    import torch

    export(threads)
    torch.set_num_threads(threads)


def settle(setting: object, processes: int = 1) -> ThreadChoice:
    """``choose`` and ``export``: the count decided before torch is imported (its pools and child processes
    start with it); refine it with ``fit_to`` once the model exists."""
    choice = choose(setting, processes)
    export(choice.threads)
    return choice


def fit_to(choice: ThreadChoice, work: float | None) -> ThreadChoice:
    """``choice`` refined for the model's size (``ThreadChoice.for_work``) and applied to torch."""
    choice = choice.for_work(work)
    apply(choice.threads)
    return choice
