"""Views of the benchmarks (benchmarks/README.md, benchmarks/gpu-h100.md, docs/configuration.md, docs/install.md)."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view
from ganlab.results.tables import num

LABELS = {"mlp_mnist5k": "mlp_mnist5k (seed MLP)", "toy_ring_veegan": "toy_ring_veegan (VEEGAN MLP)",
          "dcgan_wgan_gp": "dcgan_wgan_gp (n_critic 5)"}


@view("cpu_overhead", header=["case", "batch", "ganlab ms/step", "plain ms/step", "ratio (range over 10 runs)",
                              "ganlab img/s", "data_ms (share)"])
def cpu_overhead(records: list[Record]) -> Table:
    """scripts/benchmark.py on the CPU: ganlab's training step against the plain PyTorch loop."""
    cases = sorted((r for r in records if r["run"] != "evaluation"), key=lambda r: r["params"]["order"])
    rows = []
    for r in cases:
        m, case = r["metrics"], r["params"]["case"]
        rows.append([LABELS.get(case, case), m["batch"], num(m["ganlab_ms"]), num(m["plain_ms"]),
                     f"{m['ratio']:.3f} ({m['ratio_low']:.3f}–{m['ratio_high']:.3f})", num(m["ganlab_img_s"], 0),
                     f"{m['data_ms']:.2f} ({m['data_share']:.1%})".replace("%", " %")])
    return Table(rows=rows, records=cases)


@view("eval_cost", header=["training-time evaluation (default run of then)", "value"])
def eval_cost(records: list[Record]) -> Table:
    """The benchmark's estimate of training-time evaluation's share of the default run."""
    r = next(r for r in records if r["run"] == "evaluation")
    m = r["metrics"]
    rows = [[f"one evaluation of {m['num_samples']:,.0f} samples", f"{m['eval_s']:.3f} s"],
            ["the real reference (once per dataset and extractor, then cached)", f"{m['real_reference_s']:.3f} s"],
            [f"{m['evals_per_default_run']:.0f} evaluations and the reference", f"{m['eval_total_s']:.2f} s"],
            ["share of the default run's time (the benchmark's estimate)",
             f"{m['share_of_default_run']:.2%}".replace("%", " %")]]
    return Table(rows=rows, records=[r])


DDP = {"single": "1 process", "independent": "2 independent runs at once",
       "per_network": "`trainer=ddp` (G and D wrapped separately)",
       "whole_module": "`trainer=ddp_whole` (one wrapper, `find_unused_parameters`)"}


@view("ddp", header=["run", "processes", "ms/step", "images/s", "× 1 process", "MB all-reduced/step",
                     "bare all-reduce of those bytes", "bound"])
def ddp(records: list[Record]) -> list[list[Any]]:
    """scripts/benchmark.py --devices 2: DDP strategies against one process and two independent ones."""
    rows = []
    for strategy, label in DDP.items():
        m = next(r for r in records if r["run"] == strategy)["metrics"]
        ratio = f"{m['images_per_s_vs_1_process']:.2f}"
        rows.append([label, m["processes"], num(m["ms_per_step"]), num(m["images_per_s"], 0),
                     f"**{ratio}**" if strategy == "per_network" else ratio,
                     f"{m['allreduce_mb_per_step']:.2f}" if m["allreduce_mb_per_step"] else "0",
                     f"{m['allreduce_alone_ms']:.1f} ms" if m["allreduce_alone_ms"] else "–",
                     f"{m['bound_vs_1_process']:.2f}"])
    return rows


@view("threads", header=["load", "`threads=auto` (chose)", "`threads=1`", "`threads=2`"])
def threads(records: list[Record]) -> list[list[Any]]:
    """scripts/bench_threads.py: training time of the default run with auto and fixed thread counts."""
    rows = []
    for load, label in (("idle", "idle ({busy:.1f} cores busy)"), ("plus_run", "+ a second training run with 2 "
                                                                               "threads ({busy:.1f} busy)")):
        cells = []
        busy = 0.0
        for setting in ("auto", "1", "2"):
            m = next(r for r in records if r["run"] == f"{load}-{setting}")["metrics"]
            busy = m["busy_at_start"]
            chose = f" ({m['threads']:.0f})" if setting == "auto" else ""
            cells.append(f"{m['seconds']:.1f} s{chose}, {m['ratio_to_best_fixed']:.2f}x")
        rows.append([label.format(busy=busy), *cells])
    return rows


@view("startup", header=["case", "before: wall s (CPU s)", "after: wall s (CPU s)"])
def startup(records: list[Record]) -> list[list[Any]]:
    """scripts/bench_startup.py before and after the lazy imports (median of 3 runs, under load)."""
    by = {(r["params"]["when"], r["params"]["order"]): r for r in records}
    rows = []
    for order in sorted({o for _, o in by}):
        cells = [f"{by[(w, order)]['metrics']['wall_s']:.1f} ({by[(w, order)]['metrics']['cpu_s']:.1f})"
                 for w in ("before", "after")]
        rows.append([by[("before", order)]["params"]["case"], *cells])
    return rows


@view("ensemble_bench", header=["case", "members", "steps", "sequential_ms", "ensemble_ms", "throughput_ratio",
                                "sequential_wall_s", "ensemble_wall_s", "wall_ratio"])
def ensemble_bench(records: list[Record]) -> list[list[Any]]:
    """scripts/bench_ensemble.py: K seeds as K sequential runs and as one ensemble (one CPU thread)."""
    rows = []
    for r in sorted(records, key=lambda r: r["run"] != "veegan_gan_ring"):
        m = r["metrics"]
        rows.append([r["run"], f"{m['members']:.0f}", f"{m['steps']:.0f}", m["sequential_ms"], m["ensemble_ms"],
                     m["throughput_ratio"], m["sequential_wall_s"], m["ensemble_wall_s"], m["wall_ratio"]])
    return rows


@view("gpu_switches", header=["option", "case", "ganlab img/s", "plain img/s", "ratio (ganlab / plain time)"])
def gpu_switches(records: list[Record]) -> list[list[Any]]:
    """scripts/gpu_check.sh on one H100: each GPU switch on the DCGAN cases."""
    return [[r["params"]["option"], r["params"]["case"], num(r["metrics"]["ganlab_img_s"], 0, sep=False),
             num(r["metrics"]["plain_img_s"], 0, sep=False), f"{r['metrics']['ratio']:.3f}"]
            for r in sorted(records, key=lambda r: r["params"]["order"])]


@view("historical")
def historical(records: list[Record]) -> Table:
    """A table kept verbatim as recovered from history (its record holds the cells: no per-run records)."""
    if len(records) != 1 or "table" not in records[0]:
        raise ValueError("view 'historical' needs exactly one record with a 'table' {header, rows}")
    t = records[0]["table"]
    return Table(header=t["header"], rows=t["rows"])
