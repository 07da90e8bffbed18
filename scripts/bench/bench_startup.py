"""Start-up time of the command-line tools: seconds until ``--help``, ``--cfg job`` or a config error returns.

    python scripts/bench/bench_startup.py                    # this checkout
    python scripts/bench/bench_startup.py --repo /path/to/other/checkout --repeat 5

Each case runs ``python -m ganlab.cli.TOOL ARGS`` in a fresh interpreter (as the console scripts do) with
``--repo`` first on PYTHONPATH, in a temporary directory (runs and errors write nothing elsewhere), and
prints the median wall time of ``--repeat`` runs and the median CPU time (user + system) of the process, which
a busy machine stretches less than the wall time. Exit status 1 when a case misses its expected exit status or
its median wall time exceeds ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository

# name -> (module, arguments, expected exit status)
CASES: dict[str, tuple[str, list[str], int]] = {
    "ganlab-train --help": ("train", ["--help"], 0),
    "ganlab-train --cfg job": ("train", ["--cfg", "job"], 0),
    "ganlab-train generator.resolution=64 (config error)": ("train", ["generator.resolution=64"], 1),
    "ganlab-train generatr=mlp (unknown key)": ("train", ["generatr=mlp"], 1),
    "ganlab-eval --help": ("evaluate", ["--help"], 0),
    "ganlab-eval (no ckpt=, error)": ("evaluate", [], 1),
    "ganlab-sample --help": ("sample", ["--help"], 0),
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_case(module: str, args: list[str], repo: Path, cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one run."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
               HYDRA_FULL_ERROR="0")
    run_dir = cwd / f"run{time.monotonic_ns()}"  # a config error must not leave runs under the repository
    extra = [] if "--help" in args or "--cfg" in args or module != "train" else [f"hydra.run.dir={run_dir}"]
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, "-m", f"ganlab.cli.{module}", *args, *extra], cwd=cwd, env=env,
                          capture_output=True, text=True)
    return time.perf_counter() - start, _children_cpu() - cpu, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose ganlab package is timed")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the median is printed)")
    parser.add_argument("--limit", type=float, default=3.0, help="seconds a case may take (exit 1 above it)")
    args = parser.parse_args()
    failed = False
    print(f"{'case':<52} {'wall s':>7} {'cpu s':>6}  wall s of each run")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (module, cli_args, expected) in CASES.items():
            times, cpus, codes = zip(*(time_case(module, cli_args, args.repo.resolve(), Path(tmp))
                                       for _ in range(args.repeat)), strict=True)
            median = statistics.median(times)
            bad = [c for c in codes if c != expected]
            note = f"  exit {bad[0]}, expected {expected}" if bad else ""
            failed |= bool(bad) or median > args.limit
            print(f"{name:<52} {median:7.2f} {statistics.median(cpus):6.2f}  {' '.join(f'{t:.2f}' for t in times)}"
                  f"{note}", flush=True)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
