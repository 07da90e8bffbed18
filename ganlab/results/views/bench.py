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


# ---------------------------------------------------------------------------- per-component cost (--components)
CASE_LABELS = {"mlp_mnist5k": "seed MLP (batch 64)", "toy_ring_veegan": "toy ring (VEEGAN MLP, batch 512)",
               "dcgan32_mnist5k": "DCGAN 32 (batch 64)", "dcgan_wgan_gp": "DCGAN WGAN-GP (n_critic 5, batch 64)"}
CASE_ORDER = ("mlp_mnist5k", "toy_ring_veegan", "dcgan32_mnist5k", "dcgan_wgan_gp")
# issue 33's targets: ganlab / plain loop per case, ganlab / bare LightningModule in every case
TARGET_PLAIN = {"mlp_mnist5k": 1.05, "dcgan32_mnist5k": 1.05, "dcgan_wgan_gp": 1.05, "toy_ring_veegan": 1.10}
TARGET_BARE = 1.02


def newest_group(records: list[Record]) -> list[Record]:
    """The invocations one table is the median of: the records of the newest record's commit, machine and clock."""
    def key(r: Record) -> tuple:
        return r["commit"], r["machine"], r.get("settings", {}).get("clock", "wall")

    newest = key(max(records, key=lambda r: r["date"]))
    return [r for r in records if key(r) == newest]


def spread(values: list[float], fmt: str) -> str:
    """'18.20 (17.90–18.50)': the median of the invocations and their range (the median alone for one)."""
    values = sorted(values)
    n = len(values)
    mid = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return fmt.format(mid) if n == 1 else f"{fmt.format(mid)} ({fmt.format(values[0])}–{fmt.format(values[-1])})"


def _cases(group: list[Record]) -> list[tuple[str, list[dict]]]:
    """(case, its summaries from the invocations that measured it), in the issue's order."""
    found = {c for r in group for c in r["cases"]}
    order = [c for c in CASE_ORDER if c in found] + sorted(found - set(CASE_ORDER))
    return [(c, [r["cases"][c] for r in group if c in r["cases"]]) for c in order]


def _clock_note(group: list[Record]) -> list[str]:
    clock = group[0].get("settings", {}).get("clock", "wall")
    what = ("wall time" if clock == "wall" else "the training thread's CPU time (`--clock cpu`: a shared machine; "
            "not the numbers to publish)")
    commands = ", ".join(sorted({f"`{r['command']}`" for r in group}))
    return [f"Median of the invocations that measured each case ({len(group)} record(s): {commands}), with their "
            f"range; clock: {what}."]


@view("component_ratios", header=["case", "ganlab ms/step", "plain ms/step", "ganlab / plain (target)",
                                  f"ganlab / bare LightningModule (target ≤ {TARGET_BARE})",
                                  "ganlab / plain, logging steps included"])
def component_ratios(records: list[Record]) -> Table:
    """scripts/bench/benchmark.py --components: ganlab against the plain loop and the bare LightningModule, per case."""
    group = newest_group(records)
    rows = []
    for case, s in _cases(group):
        rows.append([CASE_LABELS.get(case, case), spread([c["ganlab_ms"] for c in s], "{:.2f}"),
                     spread([c["plain_ms"] for c in s], "{:.2f}"),
                     f"{spread([c['ratio_plain'] for c in s], '{:.3f}')} (≤ {TARGET_PLAIN.get(case, '–')})",
                     spread([c["ratio_bare"] for c in s], "{:.3f}"), spread([c["mean_ratio_plain"] for c in s],
                                                                            "{:.3f}")])
    return Table(rows=rows, notes=_clock_note(group), records=group)


def _count(cases: list[dict], run: str, less: str | None, kind: str) -> str:
    """Python calls or aten ops per step of ``run`` (less those of ``less``): the same in every invocation."""
    found = [c["counts"][run][kind] - (c["counts"][less][kind] if less else 0) for c in cases if "counts" in c]
    return f"{sorted(found)[len(found) // 2]:{'+' if less else ''}.0f}" if found else ""


@view("components", header=["case", "run", "ms/step", "% of ganlab's step", "mean ms/step, logging steps included",
                            "%", "Python calls/step", "aten ops/step"])
def components(records: list[Record]) -> Table:
    """scripts/bench/benchmark.py --components: per case, the plain loop, the bare LightningModule, ganlab with every
    default on, and what switching each default component off saves (ms/step and % of ganlab's step; the counts
    are deterministic)."""
    group = newest_group(records)
    rows = []
    for case, s in _cases(group):
        label = CASE_LABELS.get(case, case)
        for name, key in (("plain PyTorch loop", "plain"), ("bare LightningModule (Lightning alone)", "bare"),
                          ("**ganlab, every default on**", "ganlab")):
            cells = []
            for suffix in ("_ms", "_mean_ms"):
                cells += [spread([c[key + suffix] for c in s], "{:.2f}"),
                          spread([c[key + suffix] / c["ganlab" + suffix] * 100 for c in s], "{:.1f}")]
            rows.append([label, name, *cells, _count(s, key, None, "calls"), _count(s, key, None, "ops")])
        labels = group[0].get("settings", {}).get("component_labels", {})
        for comp in labels or sorted({k for c in s for k in c["costs"]}):
            what = f"− {labels.get(comp, comp)}"
            costs = [c["costs"][comp] for c in s if comp in c["costs"]]
            if not costs:
                rows.append([label, what, "not on in this case", "", "", "", "", ""])
                continue
            rows.append([label, what, *(spread([x[key] * scale for x in costs], fmt) for key, scale, fmt in
                                        (("ms", 1, "{:+.3f}"), ("share", 100, "{:+.2f}"), ("mean_ms", 1, "{:+.3f}"),
                                         ("mean_share", 100, "{:+.2f}"))),
                         _count(s, "ganlab", f"no_{comp}", "calls"), _count(s, "ganlab", f"no_{comp}", "ops")])
    return Table(rows=rows, notes=_clock_note(group), records=group)


@view("default_run_time", header=["default run", "wall s", "CPU s (user + system)"])
def default_run_time(records: list[Record]) -> Table:
    """scripts/bench/benchmark.py --default-run: the default run's time with the measured commit and a baseline."""
    group = newest_group(records)
    runs = [r["cases"]["default_run"] for r in group]
    base = group[0]["settings"]["baseline"][:7]
    rows = [[f"before (`{base}`)", spread([c["baseline_wall_s"] for c in runs], "{:.1f}"),
             spread([c["baseline_cpu_s"] for c in runs], "{:.1f}")],
            [f"after (`{group[0]['commit'][:7]}`)", spread([c["this_wall_s"] for c in runs], "{:.1f}"),
             spread([c["this_cpu_s"] for c in runs], "{:.1f}")],
            ["after / before", spread([c["wall_ratio"] for c in runs], "{:.3f}"),
             spread([c["cpu_ratio"] for c in runs], "{:.3f}")]]
    steps = group[0]["settings"]["steps"]
    return Table(rows=rows, records=group, notes=[
        f"`ganlab-train trainer.max_steps={steps}` with each commit's code and configs, alternating, "
        f"{group[0]['settings']['repeats']} runs each per invocation; medians."])


@view("component_counts")
def component_counts(records: list[Record]) -> Table:
    """scripts/bench/benchmark.py --components --counts-only at several commits: Python calls and aten ops per step
    of each run (the same on any machine and under any load), one pair of columns per commit, oldest first; a
    component's row is what it adds (ganlab's count less the run without it)."""
    def first_date(commit: str) -> str:
        return min(r["date"] for r in records if r["commit"] == commit)

    commits = sorted({r["commit"] for r in records}, key=first_date)
    newest = {c: max((r for r in records if r["commit"] == c), key=lambda r: r["date"]) for c in commits}
    header = ["case", "run"]
    header += [f"{kind} (`{c[:7]}`)" for c in commits for kind in ("Python calls/step", "aten ops/step")]
    labels: dict[str, str] = {}
    for r in newest.values():
        labels.update(r.get("settings", {}).get("component_labels", {}))
    names = {"plain": "plain PyTorch loop", "bare": "bare LightningModule", "ganlab": "ganlab, every default on",
             **{f"no_{k}": f"− {label}" for k, label in labels.items()}}
    rows = []
    for case in [c for c in CASE_ORDER if any(c in r["cases"] for r in newest.values())]:
        for name, what in names.items():
            cells = []
            for c in commits:
                counts = newest[c]["cases"].get(case, {}).get("counts", {})
                if name not in counts:
                    cells += ["", ""]
                elif name.startswith("no_"):  # what the component adds to ganlab's step
                    cells += [f"{counts['ganlab'][k] - counts[name][k]:+.0f}" for k in ("calls", "ops")]
                else:
                    cells += [f"{counts[name][k]:.0f}" for k in ("calls", "ops")]
            if any(cells):
                rows.append([CASE_LABELS.get(case, case), what, *cells])
    return Table(header=header, rows=rows, records=list(newest.values()),
                 notes=["Counted over up to 20 non-logging steps after a 3-step warm-up of one run each "
                        "(`sys.setprofile` call events, a `TorchDispatchMode`); a component not on in a case has no "
                        "row."])
