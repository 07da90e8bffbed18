"""Time ganlab's training step against a plain PyTorch loop doing the same arithmetic.

    python scripts/bench/benchmark.py                          # all cases on the CPU (or the GPU when present)
    python scripts/bench/benchmark.py --cases dcgan32_mnist5k --set trainer.precision=bf16-mixed perf.channels_last=true
    python scripts/bench/benchmark.py --devices 2              # DDP scaling: 1 vs 2 processes, per-process batch fixed,
                                                         # trainer=ddp vs trainer=ddp_whole, bytes all-reduced;
                                                         # references: N independent runs at once, and the
                                                         # same bytes all-reduced alone
    python scripts/bench/benchmark.py --components --invocations 3
        # what each part costs: per case, ganlab with every default, each default component switched off in turn,
        # a bare LightningModule and the plain loop; one results record per invocation in
        # benchmarks/results/components/, then the median of the 3 rendered into benchmarks/README.md
    python scripts/bench/benchmark.py --components --render    # only re-render the README tables from the records

Prints a markdown table (median ms/step, images/s, ratio ganlab / plain, data-wait share, peak GPU
memory) and writes it with the raw numbers to --out (JSON + markdown). Logic: ganlab/tools/bench.py and
ganlab/tools/bench_components.py (--components, --default-run).
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
import time
from pathlib import Path

import torch

from ganlab.tools.bench import CASES, allreduce_ms, eval_cost, markdown, run_case
from ganlab.tools.bench_components import COMPONENTS, default_run_study, record, run_components, study_name

# rounds per case of --components (each round: 2 + one run per component); the convolutional cases' steps take
# 0.2-1.2 s, so their few rounds already hold thousands of milliseconds per run
COMPONENT_ROUNDS = {"mlp_mnist5k": 5, "toy_ring_veegan": 5, "dcgan32_mnist5k": 3, "dcgan_wgan_gp": 3}


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


# DDP strategies compared by --devices N: G and D wrapped separately (trainer=ddp, the default) and
# Lightning's one wrapper with find_unused_parameters (trainer=ddp_whole, the former default)
DDP_STRATEGIES = {"per_network": "trainer=ddp", "whole_module": "trainer=ddp_whole"}


def ddp_scaling(case: str, devices: int, steps: int, extra: list[str], out: Path, rounds: int = 1) -> list[dict]:
    """Per-step time of ganlab with 1 and ``devices`` CPU processes (gloo, one thread each), per-process batch
    fixed, for each DDP strategy; with the bytes of gradients all-reduced per step
    (``ganlab.tools.bench.AllreduceBytes``).

    Two references measured in the same run say what the machine allows: ``independent``, ``devices`` separate
    1-process runs started together (no communication: what sharing the cores and memory costs), and per DDP
    row the bare all-reduce of its bytes (``ganlab.tools.bench.allreduce_ms``) added to 1 process's step time.
    Runs are interleaved (1 process, the independent runs, each strategy, then again) ``rounds`` times; medians
    over rounds."""
    overrides, _ = CASES[case]
    runs = {"single": (["trainer.devices=1"], 1), "independent": (["trainer.devices=1"], devices),
            **{name: ([opt, f"trainer.devices={devices}"], 1) for name, opt in DDP_STRATEGIES.items()}}
    ms: dict[str, list[float]] = {name: [] for name in runs}
    sent: dict[str, dict] = {}
    # one thread per process in all runs: with the batch per process fixed, any time added by the other
    # processes is synchronisation or shared cores and memory
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for _ in range(rounds):
        for name, (trainer, copies) in runs.items():
            with tempfile.TemporaryDirectory() as tmp:
                procs = []
                for c in range(copies):  # copies > 1: separate runs started together
                    times, counts = Path(tmp) / f"times{c}.json", Path(tmp) / f"bytes{c}"
                    cmd = [sys.executable, "-m", "ganlab.cli.train", *overrides, *trainer, "trainer.accelerator=cpu",
                           f"trainer.max_steps={steps}", "metrics=none", "~callbacks.progress_bar", "~logger",
                           "+trainer.enable_progress_bar=false", f"hydra.run.dir={tmp}/run{c}",
                           "+callbacks.timer._target_=ganlab.tools.bench.StepTimesFile",
                           f"+callbacks.timer.out={times}",
                           "+callbacks.bytes._target_=ganlab.tools.bench.AllreduceBytes",
                           f"+callbacks.bytes.out={counts}",
                           *extra]
                    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                  env=env))
                for proc in procs:
                    _, err = proc.communicate()
                    if proc.returncode:
                        raise SystemExit(f"ganlab-train failed for {name}:\n{err[-2000:]}")
                ms[name].append(statistics.median(  # skip warm-up; the copies' steps pooled
                    [t for c in range(copies) for t in json.loads((Path(tmp) / f"times{c}.json").read_text())
                     ["steps_ms"][5:]]))
                sent[name] = json.loads((Path(tmp) / "bytes0" / "rank0.json").read_text())["steps"][-1]
    batch = _batch(overrides)
    rows = []
    for name, (_, copies) in runs.items():
        n = devices if copies > 1 or name in DDP_STRATEGIES else 1
        t = statistics.median(ms[name])
        rows.append({"case": case, "strategy": name, "processes": n, "ms_per_step": round(t, 2),
                     "images_per_s": round(n * batch / t * 1000, 1), "allreduce_bytes_per_step": sent[name],
                     "allreduce_mb_per_step": round(sum(sent[name].values()) / 2**20, 3),
                     "ms_per_step_rounds": [round(x, 2) for x in ms[name]]})
    single, shared = rows[0]["ms_per_step"], rows[1]["ms_per_step"]
    for row in rows:
        row["images_per_s_vs_1_process"] = round(row["images_per_s"] / rows[0]["images_per_s"], 3)
        # the most a DDP row could reach here: the independent runs' step time (cores and memory shared) plus
        # the bare all-reduce of its bytes, with no free core to overlap communication with compute
        sizes = list(row["allreduce_bytes_per_step"].values())
        comm = allreduce_ms(sizes, row["processes"]) if sizes else 0.0
        base = single if row["processes"] == 1 else shared
        row["allreduce_alone_ms"] = round(comm, 2)
        row["bound_vs_1_process"] = round(row["processes"] * single / (base + comm), 3)
    (out / f"ddp_{case}.json").write_text(json.dumps(rows, indent=2))
    return rows


def _batch(overrides: list[str]) -> int:
    return next((int(o.split("=")[1]) for o in overrides if o.startswith("dataset.batch_size=")), 64)


def ddp_markdown(rows: list[dict]) -> str:
    lines = ["| case | strategy | processes | ms/step | images/s | × 1 process | MB all-reduced/step "
             "| bare all-reduce ms | bound: × 1 process of independent runs + bare all-reduce |", "|" + "---|" * 9]
    lines += [f"| {r['case']} | {r['strategy']} | {r['processes']} | {r['ms_per_step']} | {r['images_per_s']} | "
              f"{r['images_per_s_vs_1_process']} | {r['allreduce_mb_per_step']} | {r['allreduce_alone_ms']} | "
              f"{r['bound_vs_1_process']} |" for r in rows]
    return "\n".join(lines) + "\n"


def components(args: argparse.Namespace, names: list[str], out: Path) -> None:
    """--components: ``--invocations`` invocations (separate processes, one results record each); --default-run: the
    default run timed with this tree and the baseline commit (one record); then benchmarks/README.md re-rendered."""
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    kind = "components" if args.components else "default_run"
    study = args.study or ("component_counts" if args.counts_only else study_name(kind, device))
    root = out / "results"
    if args.render:
        pass
    elif args.default_run:
        baseline = subprocess.run(["git", "rev-parse", args.baseline], capture_output=True, text=True,
                                  check=True).stdout.strip()
        results = default_run_study(baseline, args.default_run, args.repeats)
        settings = {"baseline": baseline, "steps": args.default_run, "repeats": args.repeats}
        print(f"record: {record(results, settings, study, root)}")
    elif args.invocations > 1:
        argv = sys.argv[:]
        while any(a.startswith("--invocations") for a in argv):  # this command without --invocations N
            i = next(i for i, a in enumerate(argv) if a.startswith("--invocations"))
            del argv[i:i + (1 if "=" in argv[i] else 2)]
        for i in range(args.invocations):
            print(f"invocation {i + 1} of {args.invocations}", flush=True)
            subprocess.run([sys.executable, *argv, "--invocations=1"], check=True)
    else:
        only = [c for c in args.only.split(",") if c]
        unknown = [c for c in only if c not in COMPONENTS]
        if unknown:
            raise SystemExit(f"--only: unknown component(s) {unknown}; valid: {', '.join(COMPONENTS)}")
        clock = time.perf_counter if args.clock == "wall" else time.thread_time
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                rounds = 0 if args.counts_only else args.rounds or COMPONENT_ROUNDS.get(name, 5)
                steps = args.steps or CASES[name][1]
                # counts are per step and exact: the DCGANs' few timed steps are enough for them too
                results[name] = run_components(name, args.set, rounds, args.warmup, device, Path(tmp), steps,
                                               clock, only, count_steps=min(20, steps))
        settings = {"clock": "none" if args.counts_only else args.clock,
                    "rounds": {n: 0 if args.counts_only else args.rounds or COMPONENT_ROUNDS.get(n, 5) for n in names},
                    "warmup": args.warmup, "steps": {n: args.steps or CASES[n][1] for n in names},
                    "overrides": args.set, "component_labels": {c: COMPONENTS[c][0] for c in only},
                    "stderr_is_terminal": sys.stderr.isatty()}
        print(f"record: {record(results, settings, study, root)}")
    from ganlab.results import get_view, read_records
    from ganlab.results.render import run as render
    from ganlab.results.tables import markdown_table

    records = read_records(root / study)
    views = ("default_run_time",) if kind == "default_run" else ("component_counts",) if args.counts_only else (
        "component_ratios", "components")
    for view in views:
        table = get_view(view)(records)
        print(markdown_table(table.header, table.rows), *table.notes, sep="\n\n", end="\n\n")
    readme = out / "README.md"
    marker = f"<!-- results: {(root / study).as_posix()} view="
    if readme.exists() and marker in readme.read_text():
        report = render(Path.cwd(), write=True, docs=[readme])
        print(f"{readme}: {len(report.changed)} results block(s) re-rendered")
    else:
        print(f"{readme} has no block '{marker}...' (add one to show these records there)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=None,
                        help="A/B alternations per case (default 10; with --components: 5, or 3 for the DCGANs)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each run")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default: per case)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--devices", type=int, default=1, help="DDP scaling mode with N CPU processes when > 1")
    parser.add_argument("--ddp-rounds", type=int, default=1, help="interleaved repeats of the DDP runs (--devices)")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides for every case")
    parser.add_argument("--out", default="benchmarks", help="folder for results (JSON and markdown)")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--components", action="store_true",
                        help="per-component table: every default component switched off in turn, a bare "
                             "LightningModule and the plain loop; a results record in benchmarks/results/STUDY/")
    parser.add_argument("--only", default=",".join(COMPONENTS),
                        help=f"with --components: the components to switch off, from {', '.join(COMPONENTS)}")
    parser.add_argument("--invocations", type=int, default=1,
                        help="with --components: run this many separate invocations (one record each), then render")
    parser.add_argument("--study", default=None,
                        help="with --components / --default-run: benchmarks/results/STUDY/ (default: "
                             "components-cpu-2core or default_run-cpu-2core on this machine)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (the numbers to publish, idle machine) or this thread's CPU time (roughly "
                             "independent of other processes' load; CPU runs with one compute thread only)")
    parser.add_argument("--counts-only", action="store_true",
                        help="with --components: only the Python calls and aten ops per step of every run (no timing, "
                             "the same on any machine); a record in benchmarks/results/component_counts/")
    parser.add_argument("--render", action="store_true",
                        help="with --components or --default-run: only rewrite benchmarks/README.md's blocks")
    parser.add_argument("--default-run", type=int, default=None, metavar="STEPS",
                        help="time the default run (ganlab-train trainer.max_steps=STEPS; 10000 is the real one) with "
                             "this tree and with --baseline, alternating; a record in benchmarks/results/default_run/")
    parser.add_argument("--baseline", default="HEAD~1", help="with --default-run: the commit to compare with")
    parser.add_argument("--repeats", type=int, default=2, help="with --default-run: runs of each tree")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [c for c in args.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; valid: {', '.join(CASES)}")
    if args.components or args.default_run:
        components(args, names, out)
        return
    if args.devices > 1:
        for name in names:
            rows = ddp_scaling(name, args.devices, args.steps or 40, args.set, out, args.ddp_rounds)
            for row in rows:
                print(row)
            print(ddp_markdown(rows))
        return
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result = run_case(name, args.set, args.rounds or 10, args.warmup, device, Path(tmp), args.steps)
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
