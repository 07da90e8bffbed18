"""Cost of logging the default run to all four backends (TensorBoard, CSV, MLflow, W&B offline) vs TensorBoard alone.

    python scripts/bench/bench_loggers.py                # 300 steps per run, 3 rounds (A B, B A, A B)
    python scripts/bench/bench_loggers.py --steps 1000 --rounds 2 --record

Each round runs ``ganlab-train`` (the default config: MLP on mnist5k, FID evaluation, health monitor, sample
grids) as a fresh process for ``--steps`` steps with ``logger=tensorboard`` and with
``logger=[tensorboard,csv,mlflow,wandb]``, alternating which goes first. Timed: the whole process (imports, the
backends' start-up and shutdown included), as wall time and as CPU time with its children's (W&B's service
among them), ``trainer.fit`` (ganlab-train's "after N s" line) and the steady-state step (its progress lines).
Printed: the ratios (median over rounds), the extra start-up seconds and milliseconds per step, those two
extrapolated to the 10,000-step default run, and the disk each backend wrote. ``--record`` writes the numbers
as a results record (``benchmarks/results/loggers_cost-<machine>/``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this checkout's ganlab measures and records (its commit), not another install
LOGGERS = {"tensorboard": "logger=tensorboard", "all": "logger=[tensorboard,csv,mlflow,wandb]"}
BACKEND_DIRS = ("tensorboard", "csv", "wandb", "loggers.json")  # in the run directory; MLflow's store: mlruns/
FIT = re.compile(r"Finished at step ([\d,]+) of [\d,]+ after ([\d.]+) s")
# ganlab-train's progress lines (ten per run when the output is not a terminal): "[date time,ms][...] - step N/M"
PROGRESS = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[ganlab\.callbacks\.progress\]"
                      r"\[INFO\] - step ([\d,]+)/", re.M)


def disk(path: Path) -> int:
    """Bytes under ``path`` (a file or a folder; 0 when absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def run(kind: str, steps: int, workdir: Path, extra: list[str]) -> dict:
    """One ganlab-train process; its wall time, fit time and what each backend wrote."""
    run_dir = workdir / "outputs" / kind
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "WANDB_SILENT": "true", "WANDB_DIR": str(workdir), "WANDB_CONFIG_DIR": str(workdir / ".wandb-config"),
           "WANDB_CACHE_DIR": str(workdir / ".wandb-cache"), "WANDB_DATA_DIR": str(workdir / ".wandb-data")}
    cmd = [sys.executable, "-m", "ganlab.cli.train", LOGGERS[kind], f"trainer.max_steps={steps}",
           f"hydra.run.dir={run_dir}", *extra]
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the process and its children (W&B's service included): less sensitive than wall time to
    # other work on a shared machine
    cpu_s = (used.ru_utime - cpu.ru_utime) + (used.ru_stime - cpu.ru_stime)
    log = proc.stdout + proc.stderr
    found, progress = FIT.findall(log), PROGRESS.findall(log)
    if proc.returncode != 0 or not found or len(progress) < 2:
        raise SystemExit(f"{kind} run failed (exit {proc.returncode}):\n{log[-3000:]}")
    # steady state: from the first progress line (backends started) to the last, per step
    (t0, s0), (t1, s1) = progress[0], progress[-1]
    clock = [datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f").timestamp() for t in (t0, t1)]
    sizes = {name: disk(run_dir / name) for name in BACKEND_DIRS}
    sizes["mlruns"] = disk(run_dir / "mlruns")  # hydra.run.dir given literally: the store is in the run directory
    return {"process_s": wall, "cpu_s": cpu_s, "fit_s": float(found[-1][1]),
            "steps": int(found[-1][0].replace(",", "")),
            "step_s": (clock[1] - clock[0]) / (int(s1.replace(",", "")) - int(s0.replace(",", ""))), "bytes": sizes}


def summarize(rows: list[dict], steps: int, default_steps: int) -> dict:
    """Ratios all / TensorBoard (median over rounds) and the extrapolation to a ``default_steps`` run."""
    tb = [r for r in rows if r["kind"] == "tensorboard"]
    al = [r for r in rows if r["kind"] == "all"]
    fit_ratio = statistics.median(a["fit_s"] / b["fit_s"] for a, b in zip(al, tb, strict=True))
    process_ratio = statistics.median(a["process_s"] / b["process_s"] for a, b in zip(al, tb, strict=True))
    cpu_ratio = statistics.median(a["cpu_s"] / b["cpu_s"] for a, b in zip(al, tb, strict=True))
    # a run = a fixed part (imports, set-up, the backends' start and end) + steady steps (evaluations included)
    per_step = {k: statistics.median(r["step_s"] for r in rs) for k, rs in (("tb", tb), ("all", al))}
    setup = {k: statistics.median(r["process_s"] - r["step_s"] * r["steps"] for r in rs)
             for k, rs in (("tb", tb), ("all", al))}
    extra_setup, extra_step = setup["all"] - setup["tb"], per_step["all"] - per_step["tb"]
    default_tb = setup["tb"] + per_step["tb"] * default_steps  # the default run's process, TensorBoard alone
    out = {"fit_ratio": fit_ratio, "process_ratio": process_ratio, "cpu_ratio": cpu_ratio,
           "extra_cpu_s": statistics.median(a["cpu_s"] - b["cpu_s"] for a, b in zip(al, tb, strict=True)),
           "extra_startup_s": extra_setup,
           "step_ratio": per_step["all"] / per_step["tb"],
           "extra_ms_per_step": 1000 * extra_step, "tb_ms_per_step": 1000 * per_step["tb"],
           "default_run_ratio": (default_tb + extra_setup + extra_step * default_steps) / default_tb}
    for i, (a, b) in enumerate(zip(al, tb, strict=True)):
        out[f"fit_ratio_round{i}"] = a["fit_s"] / b["fit_s"]
        out[f"process_ratio_round{i}"] = a["process_s"] / b["process_s"]
        out[f"all_fit_s_round{i}"], out[f"tb_fit_s_round{i}"] = a["fit_s"], b["fit_s"]
        out[f"all_process_s_round{i}"], out[f"tb_process_s_round{i}"] = a["process_s"], b["process_s"]
        out[f"all_cpu_s_round{i}"], out[f"tb_cpu_s_round{i}"] = a["cpu_s"], b["cpu_s"]
    for name, size in al[-1]["bytes"].items():
        out[f"mb_{name.replace('.', '_')}"] = size / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", nargs="*", default=[], help="extra ganlab-train overrides for both runs")
    parser.add_argument("--default-steps", type=int, default=10_000, help="the default run's trainer.max_steps")
    parser.add_argument("--record", action="store_true", help="write a results record in benchmarks/results/")
    parser.add_argument("--study", default="loggers_cost-cpu-2core", help="the record's study folder")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind in (("tensorboard", "all") if r % 2 == 0 else ("all", "tensorboard")):
                workdir = Path(tmp) / f"round{r}"
                workdir.mkdir(exist_ok=True)
                res = run(kind, args.steps, workdir, args.set)
                rows.append({"round": r, "kind": kind, **res})
                print(f"round {r} {kind:>11}: process {res['process_s']:6.1f} s (CPU {res['cpu_s']:6.1f} s), "
                      f"fit {res['fit_s']:6.1f} s "
                      f"({res['steps']} steps)", flush=True)
    m = summarize(rows, args.steps, args.default_steps)
    print(f"all four / TensorBoard alone: whole process {m['process_ratio']:.3f} (CPU time {m['cpu_ratio']:.3f}, "
          f"+{m['extra_cpu_s']:.1f} s), fit {m['fit_ratio']:.3f}, steady step {m['step_ratio']:.3f} "
          f"(median of {args.rounds} rounds)")
    print(f"extra start-up {m['extra_startup_s']:.1f} s, extra {m['extra_ms_per_step']:.2f} ms per step "
          f"(TensorBoard alone: {m['tb_ms_per_step']:.1f} ms); the {args.default_steps:,}-step default run: "
          f"x{m['default_run_ratio']:.3f}")
    print("written by the four-logger run: " + ", ".join(f"{k[3:]} {v:.2f} MB" for k, v in m.items()
                                                          if k.startswith("mb_")))
    if args.record:
        import torch  # noqa: F401 - imported for the record's machine label (it names the torch version)

        from ganlab.results.records import write_record

        path = write_record(args.study, f"default_{args.steps}steps_{args.rounds}rounds", m,
                            params={"steps": args.steps, "rounds": args.rounds, "overrides": args.set,
                                    "default_steps": args.default_steps},
                            root=REPO / "benchmarks" / "results",
                            note="measured on a machine shared with other work: the figures are as measured")
        print(f"record: {path}")


if __name__ == "__main__":
    main()
