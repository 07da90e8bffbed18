"""Time ganlab's training step against a plain PyTorch loop doing the same arithmetic.

    python scripts/benchmark.py                          # all cases on the CPU (or the GPU when present)
    python scripts/benchmark.py --cases dcgan32_mnist5k --set trainer.precision=bf16-mixed perf.channels_last=true
    python scripts/benchmark.py --devices 2              # DDP scaling: 1 vs 2 processes, per-process batch fixed

Prints a markdown table (median ms/step, images/s, ratio ganlab / plain, data-wait share, peak GPU
memory) and writes it with the raw numbers to --out (JSON + markdown). Logic: ganlab/bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ganlab.bench import CASES, eval_cost, markdown, run_case


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def ddp_scaling(case: str, devices: int, steps: int, extra: list[str], out: Path) -> list[dict]:
    """Per-step time of ganlab with 1 and ``devices`` CPU processes (gloo, one thread each), per-process batch fixed."""
    overrides, _ = CASES[case]
    rows = []
    for n in (1, devices):
        with tempfile.TemporaryDirectory() as tmp:
            times = Path(tmp) / "times.json"
            trainer = ["trainer=ddp", f"trainer.devices={n}"] if n > 1 else ["trainer.devices=1"]
            cmd = [sys.executable, "-m", "ganlab.cli.train", *overrides, *trainer, "trainer.accelerator=cpu",
                   f"trainer.max_steps={steps}", "metrics=none", "~callbacks.progress_bar", "~logger",
                   "+trainer.enable_progress_bar=false", f"hydra.run.dir={tmp}/run",
                   "+callbacks.timer._target_=ganlab.bench.StepTimesFile", f"+callbacks.timer.out={times}", *extra]
            # one thread per process in both runs: with the batch per process fixed, any time added
            # by the second process is synchronisation (given a free core for it)
            env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode:
                raise SystemExit(f"ganlab-train failed for {n} process(es):\n{proc.stderr[-2000:]}")
            ms = json.loads(times.read_text())["steps_ms"][5:]  # skip warm-up
            rows.append({"case": case, "processes": n, "ms_per_step": round(statistics.median(ms), 2),
                         "images_per_step": n * int(_batch(overrides))})
    for row in rows:
        row["sync_overhead"] = round(row["ms_per_step"] / rows[0]["ms_per_step"], 3)
    (out / f"ddp_{case}.json").write_text(json.dumps(rows, indent=2))
    return rows


def _batch(overrides: list[str]) -> int:
    return next((int(o.split("=")[1]) for o in overrides if o.startswith("dataset.batch_size=")), 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=10, help="A/B alternations per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each run")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default: per case)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--devices", type=int, default=1, help="DDP scaling mode with N CPU processes when > 1")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides for every case")
    parser.add_argument("--out", default="benchmarks", help="folder for results (JSON and markdown)")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [c for c in args.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; valid: {', '.join(CASES)}")
    if args.devices > 1:
        for name in names:
            for row in ddp_scaling(name, args.devices, args.steps or 40, args.set, out):
                print(row)
        return
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result = run_case(name, args.set, args.rounds, args.warmup, device, Path(tmp), args.steps)
            rows.append(result.row())
            print(rows[-1], flush=True)
    title = f"Measured on {machine(device)}; overrides: {' '.join(args.set) or 'none'}"
    table = markdown(rows, title)
    if "mlp_mnist5k" in names and not args.set:
        # the default run is the seed MLP on mnist5k: its evaluation share from the measured step time
        with tempfile.TemporaryDirectory() as tmp:
            cost = eval_cost(Path(tmp), device)
        mlp = next(r for r in rows if r["case"] == "mlp_mnist5k")
        train_s = 15000 * mlp["ganlab_ms"] / 1000
        cost["share_of_default_run"] = round(cost["eval_total_s"] / (train_s + cost["eval_total_s"]), 4)
        rows.append({"case": "evaluation (default run)", **cost})
        table += (f"\nEvaluation: {cost['eval_s']} s per evaluation of {cost['num_samples']} samples, "
                  f"{cost['real_reference_s']} s for the real reference (once, then cached); "
                  f"{cost['evals_per_default_run']} evaluations = {100 * cost['share_of_default_run']:.1f} % "
                  f"of the default run's time.\n")
    print(table)
    stem = f"results-{device.type}{('-' + args.tag) if args.tag else ''}"
    (out / f"{stem}.md").write_text(table)
    (out / f"{stem}.json").write_text(json.dumps({"machine": machine(device), "overrides": args.set, "rows": rows},
                                                 indent=2))


if __name__ == "__main__":
    main()
