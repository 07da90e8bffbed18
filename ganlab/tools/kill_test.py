"""Kill -9 a CPU training run at random moments, resume each, and compare with an uninterrupted run.

    python scripts/checks/kill_test.py                    # 10 kills + a SIGTERM case, default MLP, 200 steps
    python scripts/checks/kill_test.py --kills 3 --steps 60

Each kill: start ``ganlab-train`` (checkpoint every ``--interval`` steps), wait until the first
last.ckpt exists, then either ``kill -9`` after a random delay or (every third kill) the moment a
checkpoint's ``.tmp`` file appears, i.e. during a write. Then ``resume=auto`` into the same run
directory up to the final step, and compare every G and D tensor with the uninterrupted run.
Prints ``resumed 10/10, bit-identical 10/10, unreadable checkpoints 0, max steps lost per kill X (interval Y)``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository


def overrides(steps: int, interval: int, step_file: Path) -> list[str]:
    return ["metrics=none", f"trainer.max_steps={steps}", "trainer.log_every_n_steps=10", "~callbacks.progress_bar",
            "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
            "callbacks.samples.every_n_steps=100000", f"callbacks.model_checkpoint.every_n_steps={interval}",
            "callbacks.model_checkpoint.every_minutes=null", "+callbacks.step_file._target_=ckpt_helpers.StepFile",
            f"+callbacks.step_file.path={step_file}"]


def start(run: Path, extra: list[str], work: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "ganlab.cli.train", f"hydra.run.dir={run}", *extra]
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=900)
    if proc.returncode:
        raise SystemExit(f"ganlab-train failed ({proc.returncode}):\n{err[-2000:]}")


def tensors(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith(("generator", "discriminator"))}


def readable(ckpt: Path) -> bool:
    try:
        torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception:  # truncated or half-written: exactly what this script counts
        return False
    return True


def wait_for(path: Path, proc: subprocess.Popen, limit: float = 300) -> None:
    deadline = time.time() + limit
    while not path.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"{path} never appeared ({proc.stderr.read()[-2000:] if proc.stderr else ''})")
        time.sleep(0.01)


def interrupt(work: Path, name: str, sig: int, args: argparse.Namespace, rng: random.Random,
              during_write: bool) -> dict:
    """Start a run, signal it once it has a checkpoint, resume it to the end; what happened."""
    run, step_file = work / name, work / f"{name}.step"
    extra = overrides(args.steps, args.interval, step_file)
    proc = start(run, extra, work)
    last = run / "checkpoints" / "last.ckpt"
    wait_for(last, proc)
    if during_write:  # poll for the temporary file of the next write
        deadline = time.time() + 30
        while not (run / "checkpoints" / "last.ckpt.tmp").exists() and proc.poll() is None and time.time() < deadline:
            pass
    else:
        time.sleep(rng.uniform(0, args.window))
    mid_write = (run / "checkpoints" / "last.ckpt.tmp").exists()
    os.kill(proc.pid, sig)
    proc.communicate(timeout=120)
    at_kill = int(step_file.read_text() or 0)
    ok = readable(last)
    saved = torch.load(last, map_location="cpu", weights_only=True)["global_step"] if ok else -1
    finished = proc.returncode == 0  # the run ended before the signal arrived
    if ok and not finished:
        finish(start(run, [*extra, "resume=auto"], work))
    final = tensors(last) if ok else {}
    return {"returncode": proc.returncode, "readable": ok, "lost": at_kill - saved, "mid_write": mid_write,
            "resumed": ok and torch.load(last, weights_only=True)["global_step"] == args.steps, "final": final}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--interval", type=int, default=5, help="callbacks.model_checkpoint.every_n_steps")
    parser.add_argument("--window", type=float, default=4.0, help="seconds after the first checkpoint to kill in")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        finish(start(work / "straight", overrides(args.steps, args.interval, work / "straight.step"), work))
        ref = tensors(work / "straight" / "checkpoints" / "last.ckpt")

        def same(result: dict) -> bool:
            final = result["final"]
            return final.keys() == ref.keys() and all(torch.equal(v, ref[k]) for k, v in final.items())

        kills = [interrupt(work, f"kill{i}", signal.SIGKILL, args, rng, during_write=i % 3 == 0)
                 for i in range(args.kills)]
        term = interrupt(work, "term", signal.SIGTERM, args, rng, during_write=False)
    summary = {"resumed": sum(r["resumed"] for r in kills), "identical": sum(same(r) for r in kills),
               "unreadable": sum(not r["readable"] for r in kills), "max_lost": max(r["lost"] for r in kills),
               "mid_write": sum(r["mid_write"] for r in kills), "term_code": term["returncode"],
               "term_lost": term["lost"], "term_identical": same(term) and term["resumed"]}
    n = args.kills
    print(f"resumed {summary['resumed']}/{n}, bit-identical {summary['identical']}/{n}, unreadable checkpoints "
          f"{summary['unreadable']}, max steps lost per kill {summary['max_lost']} (interval {args.interval}); "
          f"killed during a checkpoint write: {summary['mid_write']}")
    print(f"SIGTERM: exit status {summary['term_code']}, steps lost {summary['term_lost']}, resumed run "
          f"bit-identical: {summary['term_identical']}")
    return summary


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["identical"] == result["resumed"] and not result["unreadable"] else 1)
