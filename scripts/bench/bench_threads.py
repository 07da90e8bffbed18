"""Thread-policy benchmark: ``threads=auto`` against fixed thread counts, as found and beside a competing run.

    python scripts/bench/bench_threads.py                      # the default run's config, 300 steps
    python scripts/bench/bench_threads.py --steps 100 --settings auto 1 2 --out bench_threads.json

For each load, every setting trains ``ganlab-train metrics=none trainer.max_steps=STEPS threads=SETTING`` in a
fresh process (OMP_NUM_THREADS removed from its environment, so ``auto`` decides) and the training time
is read from its "Finished at step N of N after S s" line (start-up excluded). Loads:

- ``as found``: nothing added; the cores other processes kept busy are measured and printed (an idle
  machine shows ~0.0);
- ``+1 run``: a second training process (the default config with ``threads=2``, torch's own default on 2
  cores) trains throughout the measurements and is stopped afterwards.

Ratios are each setting's training time over the best fixed setting's time under the same load, in the same
run of this script (1.00: as fast as the best fixed count; lower is better).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
sys.path.insert(0, str(ROOT))

from ganlab.threads import available_cores, busy_cores  # noqa: E402

FINISHED = re.compile(r"Finished at step (\d+) of \d+ after ([\d.]+) s")
CHOSEN = re.compile(r"CPU threads: (\d+) per process \((.*)\)")
QUIET = ["~callbacks.progress_bar", "+trainer.enable_progress_bar=false", "callbacks.model_checkpoint.every_n_steps=0",
         "callbacks.model_checkpoint.every_minutes=0", "callbacks.samples.every_n_steps=100000"]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "GANLAB_PROCESSES")}
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return out


def train(setting: str, steps: int, run_dir: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "ganlab.cli.train", "metrics=none", f"trainer.max_steps={steps}",
           f"threads={setting}", f"hydra.run.dir={run_dir}", *QUIET, *extra]
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, cwd=run_dir.parent)
    out = proc.stdout + proc.stderr
    done, chosen = FINISHED.search(out), CHOSEN.search(out)
    if proc.returncode or not done:
        raise SystemExit(f"threads={setting} failed ({proc.returncode}):\n{out[-2000:]}")
    seconds = float(done.group(2))
    return {"setting": setting, "threads": int(chosen.group(1)), "reason": chosen.group(2), "seconds": seconds,
            "it_s": steps / seconds}


class Competitor:
    """A second training run (default config, ``threads=2``) for the whole block; stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.log = workdir / "competitor.log"
        cmd = [sys.executable, "-m", "ganlab.cli.train", "metrics=none", "trainer.max_steps=100000000", "threads=2",
               f"hydra.run.dir={workdir / 'competitor'}", *QUIET]
        self.file = self.log.open("w")
        self.proc = subprocess.Popen(cmd, env=env(), stdout=self.file, stderr=subprocess.STDOUT, cwd=workdir)

    def __enter__(self) -> Competitor:
        deadline = time.monotonic() + 600
        while "Training for" not in self.log.read_text():  # its start-up is not the load we want
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the competing run did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(1)
        time.sleep(5)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()  # SIGTERM: it writes last.ckpt and exits
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.file.close()


def block(load: str, args: argparse.Namespace, workdir: Path) -> list[dict]:
    busy = busy_cores(2.0)
    print(f"\n{load}: other processes kept {busy:.1f} of {available_cores()} cores busy at the start", flush=True)
    rows = []
    for setting in args.settings:
        runs = [train(setting, args.steps, workdir / f"{load.replace(' ', '_')}_{setting}_{i}", args.set)
                for i in range(args.repeat)]
        row = {**runs[0], "seconds": statistics.median(r["seconds"] for r in runs), "load": load,
               "busy_at_start": busy, "all_seconds": [r["seconds"] for r in runs]}
        row["it_s"] = args.steps / row["seconds"]
        rows.append(row)
        print(f"  threads={setting:<5} -> {row['threads']} ({row['reason']}): {row['seconds']:.1f} s, "
              f"{row['it_s']:.1f} it/s", flush=True)
    best = min(r["seconds"] for r in rows if r["setting"] != "auto")
    for r in rows:
        r["ratio_to_best_fixed"] = r["seconds"] / best
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--settings", nargs="+", default=["auto", "1", "2"])
    parser.add_argument("--loads", nargs="+", default=["as found", "+1 run"], choices=["as found", "+1 run"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (the median is used)")
    parser.add_argument("--set", nargs="*", default=[], help="extra ganlab-train overrides (e.g. another model)")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for load in args.loads:
            if load == "+1 run":
                with Competitor(workdir):
                    rows += block(load, args, workdir)
            else:
                rows += block(load, args, workdir)
    print(f"\n{args.steps} steps of `ganlab-train metrics=none {' '.join(args.set)}`, {available_cores()} cores")
    print(f"{'load':<10} {'threads=':<8} {'chosen':>6} {'train s':>8} {'it/s':>7} {'vs best fixed':>14}")
    for r in rows:
        print(f"{r['load']:<10} {r['setting']:<8} {r['threads']:>6} {r['seconds']:>8.1f} {r['it_s']:>7.1f} "
              f"{r['ratio_to_best_fixed']:>13.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"steps": args.steps, "cores": available_cores(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
