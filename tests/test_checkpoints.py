"""Checkpoint policy end to end: last.ckpt is the latest step, best.ckpt the best, exceptions, SIGTERM, resume=auto."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP, cli_env
from test_train_cli import events, load_ckpt, run_train

from ganlab.runs.read import read_run

QUIET_FAST = ["metrics=none", "callbacks.samples.every_n_steps=1000"]  # on top of run_train's TINY


def same_tensors(a: Path, b: Path) -> None:
    sa, sb = load_ckpt(a)["state_dict"], load_ckpt(b)["state_dict"]
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_last_is_the_final_step_and_best_the_best_one(tmp_path):
    # the defect: with a best step before the last one, the old ModelCheckpoint(save_last=True) left
    # last.ckpt at the best step. Whatever the FID trajectory, argmax and argmin differ, so with both
    # modes at least one run has its best step before the last one.
    best_before_last = 0
    for mode in ("max", "min"):
        run = tmp_path / mode
        run_train(f"hydra.run.dir={run}", "trainer.max_steps=6", f"callbacks.model_checkpoint.mode={mode}",
                  cwd=tmp_path)
        fid = {e.step: e.value for e in events(run).Scalars("val/fid")}
        assert sorted(fid) == [2, 4, 6]
        best_step = (max if mode == "max" else min)(fid, key=fid.get)
        best_before_last += best_step != 6
        assert load_ckpt(run / "checkpoints/last.ckpt")["global_step"] == 6
        assert load_ckpt(run / "checkpoints/best.ckpt")["global_step"] == best_step
        # a best step equal to the last one is one file on disk (a hard link), an earlier one its own file
        same = (run / "checkpoints/best.ckpt").samefile(run / "checkpoints/last.ckpt")
        assert same == (best_step == 6), (mode, best_step)
    assert best_before_last >= 1


def test_periodic_last_and_pruned_snapshots_without_metrics(tmp_path):
    run = tmp_path / "run"
    run_train(f"hydra.run.dir={run}", *QUIET_FAST, "trainer.max_steps=7", "callbacks.model_checkpoint.every_n_steps=2",
              "callbacks.model_checkpoint.snapshot_every_n_steps=2", "callbacks.model_checkpoint.keep=2", cwd=tmp_path)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["last.ckpt", "step_0000004.ckpt", "step_0000006.ckpt"]  # no best.ckpt, no .tmp left
    assert load_ckpt(run / "checkpoints/last.ckpt")["global_step"] == 7
    assert load_ckpt(run / "checkpoints/step_0000004.ckpt")["global_step"] == 4
    # snapshots start as hard links to last.ckpt; rewriting last.ckpt (a new file) leaves them at their step
    assert load_ckpt(run / "checkpoints/step_0000006.ckpt")["global_step"] == 6
    assert not (run / "checkpoints/step_0000006.ckpt").samefile(run / "checkpoints/last.ckpt")


def test_exception_writes_last_unless_weights_are_nan(tmp_path):
    for nan, expected in ((False, 3), (True, 2)):
        run = tmp_path / f"nan{nan}"
        proc = run_train(f"hydra.run.dir={run}", *QUIET_FAST, "trainer.max_steps=10",
                         "callbacks.model_checkpoint.every_n_steps=2", "+callbacks.fail._target_=ckpt_helpers.FailAt",
                         "+callbacks.fail.step=3", f"+callbacks.fail.nan={nan}", cwd=tmp_path, check=False)
        assert proc.returncode != 0 and "injected failure at step 3" in proc.stderr
        ckpt = load_ckpt(run / "checkpoints/last.ckpt")
        assert ckpt["global_step"] == expected, nan  # NaN weights never replace the good step-2 file
        assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
        # the run says why it ended: failed.json, which ganlab-compare shows as the crashed status's reason
        assert json.loads((run / "failed.json").read_text())["message"] == "injected failure at step 3"
        status = read_run(run).status
        assert (status.name, status.reason) == ("crashed", "RuntimeError: injected failure at step 3")


def test_sigterm_writes_last_and_resume_auto_is_bit_identical(tmp_path):
    same = [*QUIET_FAST, "callbacks.model_checkpoint.every_n_steps=1000"]
    cmd = [sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *TINY, *same, "trainer.max_steps=100000"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.glob("outputs/*/*/tensorboard/events.*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a few dozen steps, none of them at a checkpoint interval
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    (run,) = [p for p in tmp_path.glob("outputs/*/*") if p.is_dir()]
    step = load_ckpt(run / "checkpoints/last.ckpt")["global_step"]
    assert 0 < step < 1000
    final = step + 3
    resumed = run_train(*same, "resume=auto", f"trainer.max_steps={final}", cwd=tmp_path)
    assert f"resume=auto: continuing {run.relative_to(tmp_path)} at step {step} of {final}" in resumed.stderr
    assert [p for p in tmp_path.glob("outputs/*/*") if p.is_dir()] == [run]  # in place, one TensorBoard folder
    assert len(list((run / "tensorboard").glob("events.*"))) == 2
    straight = tmp_path / "straight"
    run_train(f"hydra.run.dir={straight}", *same, f"trainer.max_steps={final}",
              cwd=tmp_path)
    assert load_ckpt(run / "checkpoints/last.ckpt")["global_step"] == final
    same_tensors(run / "checkpoints/last.ckpt", straight / "checkpoints/last.ckpt")
    # the run is finished now: resume=auto says so and fails
    again = run_train(*same, "resume=auto", f"trainer.max_steps={final}", cwd=tmp_path,
                      check=False)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (
        f"ganlab-train: error: resume=auto: the newest run of this config, {run.relative_to(tmp_path)}, finished at "
        f"step {final} (trainer.max_steps={final}); valid: a larger trainer.max_steps to extend it, or no resume")


def test_same_second_runs_get_their_own_directories(tmp_path):
    cmd = [sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *TINY, *QUIET_FAST, "trainer.max_steps=3",
           "hydra.run.dir=outputs/${now:%Y}/same-second"]  # one name for all three, as ${now:%H-%M-%S} within a second
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    assert all(p.wait(timeout=300) == 0 for p in procs), [p.stderr.read()[-1000:] for p in procs]
    runs = sorted(p.name for p in tmp_path.glob("outputs/*/*"))
    assert runs == ["same-second", "same-second_1", "same-second_2"]
    for run in tmp_path.glob("outputs/*/*"):
        assert len(list((run / "tensorboard").glob("events.*"))) == 1
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
        assert load_ckpt(run / "checkpoints/last.ckpt")["global_step"] == 3


def test_a_finished_run_directory_is_never_rewritten(tmp_path):
    run = tmp_path / "run"
    run_train(f"hydra.run.dir={run}", *QUIET_FAST, "trainer.max_steps=2", cwd=tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    cases = {  # overrides -> last stderr line
        (f"hydra.run.dir={run}",): f"hydra.run.dir={run} already holds files of another run; valid: a new or empty "
                                   f"directory, or resume=auto / ckpt_path={run}/checkpoints/last.ckpt to continue "
                                   f"that run",
        (f"hydra.run.dir={run}", "generator.resolution=64"): None,  # same refusal before the config error
        (f"hydra.run.dir={run}", f"ckpt_path={run}/checkpoints/last.ckpt"):
            f"ckpt_path={run}/checkpoints/last.ckpt is at step 2, trainer.max_steps=2 is reached; valid: "
            f"trainer.max_steps > 2 to extend the run",
        ("resume=maybe",): "resume=maybe; valid: auto (continue the newest unfinished run of this config) or null",
    }
    for overrides, message in cases.items():
        proc = run_train(*QUIET_FAST, "trainer.max_steps=2", *overrides, cwd=tmp_path, check=False)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 1 and last.startswith("ganlab-train: error: "), (overrides, proc.stderr[-2000:])
        if message:
            assert last == f"ganlab-train: error: {message}"
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before, overrides
    assert not (tmp_path / "outputs").exists()  # the refusals created no run directory either


@pytest.mark.slow
def test_kill_test_short():
    from ganlab.tools import kill_test

    result = kill_test.main(["--kills", "3", "--steps", "60", "--interval", "5", "--window", "1.5"])
    assert result["resumed"] == result["identical"] == 3 and result["unreadable"] == 0
    assert result["max_lost"] <= 5  # at most one checkpoint interval
    assert result["term_code"] == 143 and result["term_lost"] == 0 and result["term_identical"]


class _OtherRank:
    """A strategy stub for rank 0 of 2: ``reduce(max)`` combines this rank's flags with the other rank's."""

    def __init__(self, clock_due: bool, signalled: bool) -> None:
        self.other = torch.tensor([clock_due, signalled], dtype=torch.float32)
        self.calls = 0

    def reduce(self, tensor, reduce_op):
        assert reduce_op == "max"
        self.calls += 1
        return torch.maximum(tensor, self.other)


def test_a_clock_or_signal_on_any_rank_makes_every_rank_write_in_one_collective(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ganlab.callbacks.checkpoints import CheckpointPolicy
    from ganlab.callbacks.preemption import Preempted

    policy = CheckpointPolicy(str(tmp_path), every_n_steps=0, every_minutes=10.0)
    written: list[str] = []
    monkeypatch.setattr(policy, "write_last", lambda trainer, module, why: written.append(why))
    monkeypatch.setattr(policy, "_validates_now", lambda trainer: False)
    module = SimpleNamespace(device=torch.device("cpu"))

    def step(other: _OtherRank) -> None:
        trainer = SimpleNamespace(global_step=5, world_size=2, strategy=other)
        policy.on_train_batch_end(trainer, module, None, None, 0)
        assert other.calls == 1  # both decisions in one all-reduce

    step(_OtherRank(clock_due=False, signalled=False))  # this rank's clock is 0 s old, nothing on the other
    assert written == []
    step(_OtherRank(clock_due=True, signalled=False))  # only the other rank's clock is due: this rank writes too
    assert written == ["interval"]
    with pytest.raises(Preempted):  # a signal reached only the other rank: this rank writes and stops too
        step(_OtherRank(clock_due=False, signalled=True))
    assert written == ["interval", "signal"]
