"""Thread policy (ganlab/threads.py): never more threads than free cores, one for small models; precedence."""

from __future__ import annotations

import pytest

from ganlab import threads
from ganlab.config import ConfigError, validate
from ganlab.launch import processes as launch_processes

SMALL, LARGE = threads.SMALL_WORK / 10, threads.SMALL_WORK * 10


def test_two_processes_on_two_cores_get_one_thread_each():
    assert threads.auto_threads(cores=2, processes=2).threads == 1
    assert threads.auto_threads(cores=2, processes=2, work=LARGE).threads == 1


@pytest.mark.parametrize(("cores", "processes", "work", "busy", "expected"), [
    (2, 1, LARGE, 0.0, 2),    # idle machine, a model big enough to split: every core
    (2, 1, LARGE, 1.0, 1),    # another process keeps one core busy: the free one only
    (2, 1, LARGE, 2.3, 1),    # fully busy: still one thread, never zero
    (2, 1, SMALL, 0.0, 1),    # small model: one thread even on an idle machine
    (16, 2, LARGE, 0.0, 8),   # DDP with 2 ranks on 16 cores: half each
    (16, 4, LARGE, 8.0, 4),   # 8 free cores, 4 processes: the share is the limit
    (16, 1, LARGE, 12.4, 4),  # 3.6 free cores round to 4
    (3, 2, LARGE, 0.0, 1),    # shares round down: 2 processes on 3 cores get 1 each
    (1, 1, None, 0.0, 1),
])
def test_auto_threads(cores, processes, work, busy, expected):
    choice = threads.auto_threads(cores, processes, work, busy)
    assert (choice.threads, choice.auto) == (expected, True)


def test_reason_names_what_limited_the_count():
    assert threads.auto_threads(2, 2, SMALL, 1.2).reason == "auto: 2 cores, 2 processes, 1.2 busy"
    assert threads.auto_threads(4, 1, SMALL, 0.0).reason == "auto: 4 cores, small model"


def test_precedence_config_then_environment_then_auto(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_cores", lambda window=0.3: 0.0)
    monkeypatch.delenv("GANLAB_PROCESSES", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.choose(5) == threads.ThreadChoice(5, "threads=5")
    assert threads.choose("auto") == threads.ThreadChoice(3, "OMP_NUM_THREADS=3")
    assert threads.choose("auto").for_work(SMALL).threads == 3  # the user's count is never lowered
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads.choose("auto").threads == 2
    assert threads.choose("auto").for_work(SMALL).threads == 1
    monkeypatch.setenv("GANLAB_PROCESSES", "2")  # e.g. ganlab-reproduce --jobs 2
    assert threads.choose("auto").threads == 1


def test_export_sets_the_environment_of_child_processes(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    threads.export(2)
    assert threads.env_threads() == 2
    import os

    assert os.environ["MKL_NUM_THREADS"] == "2"


def test_busy_cores_counts_other_processes_only(monkeypatch):
    clock = iter([0.0, 0.5])
    jiffies = iter([(10_000, 2), (10_100, 2)])  # 100 ticks of 1/100 s over 0.5 s: 2 cores busy
    own = iter([3.0, 3.25])  # of which this process used 0.25 s
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    monkeypatch.setattr(threads, "_cpu_jiffies", lambda: next(jiffies))
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(threads.os, "sysconf", lambda name: 100)
    assert threads.busy_cores() == pytest.approx(1.5)


def test_busy_cores_on_this_machine_is_within_its_cores():
    assert 0.0 <= threads.busy_cores(0.1) <= (threads._cpu_jiffies() or (0, 1024))[1]


@pytest.mark.parametrize("value", [0, -1, "four", 1.5, True])
def test_bad_threads_is_a_config_error(compose_cfg, value):
    cfg = compose_cfg(f"threads={str(value).lower()}")
    with pytest.raises(ConfigError, match=r"^threads=.*; valid: auto or an integer >= 1$"):
        validate(cfg)


def test_bad_verbose_is_a_config_error(compose_cfg):
    with pytest.raises(ConfigError, match=r"^verbose=loud; valid: true or false$"):
        validate(compose_cfg("verbose=loud"))


def test_launch_processes_counts_ddp_ranks(compose_cfg):
    assert launch_processes(compose_cfg()) == 1
    assert launch_processes(compose_cfg("trainer=ddp")) == 2
    assert launch_processes(compose_cfg("trainer=ddp", "trainer.devices=[0,1,2]")) == 3
