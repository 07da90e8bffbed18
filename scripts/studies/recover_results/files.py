"""Records converted from the results files that earlier tools wrote (the tools recorded no commit)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from common import CPU, CPU_TORCH, H100, added_by, date_of, put, recovery

EXP, BENCH = "experiments/results", "benchmarks/results"
BASIS = "the commit that added {path} (the tool that wrote it recorded no commit)"


def scalars(row: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Numbers of a tool's row as metrics; everything else (names, settings) as params."""
    metrics = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    params = {k: v for k, v in row.items() if k not in metrics}
    return metrics, params


def converted(path: str, machine: str, command: str) -> dict[str, Any]:
    """put() keywords for records converted from ``path``."""
    commit = added_by(path)
    return dict(commit=commit, machine=machine, date=date_of(commit), command=command, source=path,
                commit_basis=BASIS.format(path=path), recovered=False)


@recovery
def cpu_overhead() -> int:
    path = "benchmarks/results-cpu-2core.json"
    data = json.loads(Path(path).read_text())
    machine = "cpu-2core, " + data["machine"].replace(", 2 threads", "")
    n = 0
    for order, row in enumerate(data["rows"]):
        metrics, params = scalars(row)
        params["order"] = order
        if "ratio_range" in params:
            lo, hi = params.pop("ratio_range")
            metrics.update(ratio_low=lo, ratio_high=hi)
        case = params.get("case", "evaluation")
        single = case == "dcgan_wgan_gp"  # data["note"]: a separate run with --steps 4
        command = ("python scripts/benchmark.py --cases dcgan_wgan_gp --steps 4" if single
                   else "python scripts/benchmark.py")
        run = "evaluation" if case.startswith("evaluation") else case
        put(BENCH, "cpu_overhead-cpu-2core", run, metrics, params=params, note=data["note"] if single else None,
            **converted(path, machine, command))
        n += 1
    return n


@recovery
def ddp() -> int:
    path = "benchmarks/ddp_mlp_mnist5k.json"
    rows = json.loads(Path(path).read_text())
    for row in rows:
        metrics, params = scalars(row)
        metrics.update({f"allreduce_bytes_{k}": v for k, v in params.pop("allreduce_bytes_per_step").items()})
        metrics.update({f"ms_per_step_round{i}": v for i, v in enumerate(params.pop("ms_per_step_rounds"))})
        put(BENCH, "ddp-cpu-2core", row["strategy"], metrics, params=params,
            **converted(path, CPU_TORCH, "python scripts/benchmark.py --devices 2 --cases mlp_mnist5k --ddp-rounds 3"))
    return len(rows)


@recovery
def threads() -> int:
    path = "benchmarks/threads-cpu-2core.json"
    data = json.loads(Path(path).read_text())
    for row in data["rows"]:
        metrics, params = scalars(row)
        params.pop("all_seconds")
        params["steps"] = data["steps"]
        load = "idle" if row["load"] == "as found" else "plus_run"
        put(BENCH, "threads-cpu-2core", f"{load}-{row['setting']}", metrics, params=params,
            **converted(path, CPU_TORCH, "python scripts/bench_threads.py --out benchmarks/threads-cpu-2core.json"))
    return len(data["rows"])


@recovery
def health_cost() -> int:
    path = "benchmarks/health-cpu-2core.json"
    data = json.loads(Path(path).read_text())
    metrics = {k: data[k] for k in ("ratio_on_off", "monitor_share", "default_run_share", "median_step_ratio")}
    metrics.update({f"ratio_round{i}": r for i, r in enumerate(data["ratios"])})
    for row in data["rows"]:
        tag = f"round{row['round']}_{'on' if row['health'] else 'off'}"
        metrics[f"{tag}_wall_s"] = row["wall_s"]
        metrics[f"{tag}_monitor_s"] = row["monitor_s"]
    put(BENCH, "health_cost-cpu-2core", "default_1000steps", metrics,
        params={"steps": data["steps"], "rounds": data["rounds"]},
        **converted(path, CPU_TORCH, "python scripts/bench_health.py --steps 1000 --rounds 2 "
                                     "--out benchmarks/health-cpu-2core.json"))
    return 1


@recovery
def ensemble_bench() -> int:
    n = 0
    for study in ("ensemble_bench-cpu", "ensemble_bench-cpu-idle"):
        path = f"{EXP}/{study}/ensemble.json"
        data = json.loads(Path(path).read_text())
        for row in data["rows"]:
            metrics, params = scalars(row)
            metrics.update({f"separate_ms_{i}": v for i, v in enumerate(params.pop("separate_ms_per_step"))})
            params["load"] = "idle (other jobs paused)" if study.endswith("idle") else "load average 6-10"
            put(EXP, study, row["case"], metrics, params=params,
                **converted(path, "cpu-2core, x86_64, torch 2.14.1+cu130, 1 thread",
                            "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python scripts/bench_ensemble.py --steps 40"))
            n += 1
    return n


@recovery
def zoo_v1() -> int:
    """The H100 zoo: the JSON holds each combination's mean and std over 3 seeds only (no per-run records)."""
    n = 0
    zoo = "python scripts/zoo_compare.py --steps 1500 --seeds 0 1 2 --set trainer=gpu"
    for path, command in (("benchmarks/zoo-h100.json", f"{zoo} --jobs 27"),
                          ("benchmarks/zoo-h100-ema-bcr.json",
                           f"{zoo} --jobs 9 --only ema_0.99 ema_start bcr_translation")):
        data = json.loads(Path(path).read_text())
        for order, row in enumerate(data["rows"]):
            metrics, params = scalars(row)
            params.update(steps=data["steps"], seed_list=data["seeds"], order=order)
            put(EXP, "zoo_v1-h100", row["name"], metrics, params=params, per_run=False,
                card={"feature": "digit_classifier (v1)", "num_samples": 2000, "real": "all 5,000 mnist5k digits",
                      "fid": "training-time val/fid at step 1,500"},
                **converted(path, H100 + ", 16 CPU cores, torch 2.11.0+cu130", command))
            n += 1
    return n


def reproduce(study: str, folder: str, command: str, machine: str | None = None) -> int:
    """One record per run of a ``ganlab-reproduce`` report (its ``reproduce.json``), published block kept."""
    path = f"{EXP}/{folder}/reproduce.json"
    data = json.loads(Path(path).read_text())
    if "runs" in data:  # one preset's report: the preset is named by its runs
        data = {data["runs"][0]["name"]: data}
    n = 0
    for preset, block in data.items():
        mach = machine or {"x86_64 CPU, 2 cores": CPU}.get(block["machine"], block["machine"] + " x1")
        for run in block["runs"]:
            put(EXP, study, f"{preset}-s{run['seed']}", dict(run["values"], wall_s=run["wall_s"], steps=run["steps"]),
                params={"preset": preset, "seed": run["seed"], "ok": run["ok"], "budget": block["budget"],
                        "protocol_steps": block["protocol_steps"], "reduced": block["reduced"],
                        "overrides": " ".join(block.get("overrides") or []) or None},
                published=block["published"] or None,
                **converted(path, mach, command.format(preset=preset)))
            n += 1
    return n


@recovery
def reproductions() -> int:
    n = reproduce("veegan_gan-cpu", "veegan_gan-cpu", "ganlab-reproduce veegan_gan_ring veegan_gan_grid --seeds 5 "
                  "--jobs 2")
    n += reproduce("veegan_unrolled-cpu", "veegan_unrolled-cpu", "ganlab-reproduce veegan_unrolled_ring "
                   "veegan_unrolled_grid --seeds 5 --jobs 2")
    n += reproduce("veegan_gan_authors_code-cpu", "veegan_gan_authors_code-cpu",
                   "ganlab-reproduce veegan_gan_grid --seeds 5 --jobs 2 --set loss=minimax optim.simultaneous=true "
                   "generator.init=orthogonal generator.init_gain=1.4 discriminator.init=orthogonal "
                   "discriminator.init_gain=1.4")
    n += reproduce("veegan_gan_ensemble-cpu", "veegan_gan_ensemble-cpu",
                   "ganlab-reproduce veegan_gan_ring --seeds 8 --ensemble --threads 1")
    n += reproduce("veegan_gan_ensemble-budget2500-cpu", "veegan_gan_ensemble-budget2500-cpu",
                   "ganlab-reproduce veegan_gan_ring --seeds 8 --ensemble --budget 2500")
    n += reproduce("pacgan-budget10000-cpu", "pacgan-budget10000-cpu",
                   "ganlab-reproduce pacgan_gan_ring pacgan2_ring pacgan_gan_grid pacgan4_grid --seeds 3 "
                   "--budget 10000 --jobs 2")
    for budget in ("budget10000", "budget5000"):
        n += reproduce(f"stacked_mnist5k-h100/{budget}", f"stacked_mnist5k-h100/{budget}",
                       f"ganlab-reproduce stacked_mnist5k stacked_mnist5k_pacgan2 --seeds 3 --budget {budget[6:]} "
                       "--jobs 6 --set trainer=gpu metrics.every_n_steps=1000")
    n += reproduce("stacked_mnist5k-h100/budget5000-unrolled", "stacked_mnist5k-h100/budget5000-unrolled",
                   "ganlab-reproduce stacked_mnist5k_unrolled --seeds 3 --budget 5000 --jobs 3 --set trainer=gpu "
                   "metrics.every_n_steps=1000")
    n += reproduce("stacked_mnist5k-budget600-h100", "stacked_mnist5k-budget600-h100",
                   "ganlab-reproduce stacked_mnist5k stacked_mnist5k_pacgan2 stacked_mnist5k_unrolled --seeds 3 "
                   "--budget 600 --set trainer=gpu")
    return n


@recovery
def stacked_curves() -> int:
    """The mode and D-loss curves of the H100 Stacked-MNIST runs (curves.json: values by step)."""
    path = f"{EXP}/stacked_mnist5k-h100/curves.json"
    data = json.loads(Path(path).read_text())
    names = {"u/first": ("stacked_mnist5k_unrolled_first_order-s0", "stacked_mnist5k_unrolled", 0,
                         "ganlab-train experiment=stacked_mnist5k_unrolled unroll.second_order=false trainer=gpu "
                         "trainer.max_steps=5000 metrics.every_n_steps=1000 seed=0"),
             "u/second": ("stacked_mnist5k_unrolled_every500-s0", "stacked_mnist5k_unrolled", 0,
                          "ganlab-train experiment=stacked_mnist5k_unrolled trainer=gpu metrics.every_n_steps=500 "
                          "seed=0")}
    n = 0
    for key, curves in data.items():
        if key in names:
            run, preset, seed, command = names[key]
        else:  # r/budget5000/PRESET/seedS: the 5,000-step reproduce runs
            _, budget, preset, s = key.split("/")
            seed = int(s.removeprefix("seed"))
            run, command = f"{preset}-{budget}-s{seed}", (f"ganlab-reproduce {preset} --seeds 3 --budget 5000 "
                                                          "--set trainer=gpu metrics.every_n_steps=1000")
        last = max(curves["val/modes"], key=int)
        series = {tag: {int(k): v for k, v in s.items()} for tag, s in curves.items()}
        put(EXP, "stacked_mnist5k-h100/curves", run.replace("/", "-"),
            {"modes": curves["val/modes"][last], "reverse_kl": curves["val/reverse_kl"][last], "step": int(last)},
            params={"preset": preset, "seed": seed, "second_order": key != "u/first"}, series=series,
            **converted(path, H100, command))
        n += 1
    return n


@recovery
def calibration() -> int:
    path = f"{EXP}/calibration/calibration.json"
    data = json.loads(Path(path).read_text())
    n = 0
    for space, rows in data.items():
        version = "v1" if "(v1)" in space else "v2"
        for row in rows:
            metrics, params = scalars(row)
            strength = metrics.pop("strength")
            params.update(strength=strength, feature=space, version=version)
            put(EXP, "calibration", f"{version}-{row['family']}-{strength:g}", metrics, params=params,
                card={"feature": space, "num_samples": 2500, "real": "all 5,000 mnist5k digits"},
                **converted(path, CPU, "python scripts/calibrate_features.py --versions v1 v2 "
                                       "--out experiments/results/calibration"))
            n += 1
    return n


def csv_rows(path: str) -> list[dict[str, Any]]:
    """Rows of a ``ganlab-compare --csv`` file with numbers parsed (empty cells dropped)."""
    out = []
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        parsed = {}
        for k, v in row.items():
            if v in ("", None):
                continue
            try:
                parsed[k] = float(v)
            except ValueError:
                parsed[k] = v
        out.append(parsed)
    return out


@recovery
def default_run() -> int:
    """ganlab-eval of the default run's 3 seeds and the old default (eval.csv), and the tuning sweep (sweep.csv)."""
    path = f"{EXP}/default_run/eval.csv"
    n = 0
    for row in csv_rows(path):
        name = row.pop("run")
        old = name.startswith("old default")
        seed = int(name.rsplit(" ", 1)[1])
        put(EXP, "default_run", f"{'old_default' if old else 'default'}-s{seed}", row,
            params={"recipe": "old default (~experiment)" if old else "default", "seed": seed,
                    "data_order": "after the fix"},
            card={"feature": "digit_classifier_v2 (v2)", "num_samples": 10000, "real": "all 5,000 mnist5k digits",
                  "noise_seed": 0},
            **converted(path, CPU, f"ganlab-train {'~experiment ' if old else ''}seed={seed} threads=1 "
                                   "hydra.run.dir=RUN && ganlab-eval ckpt=RUN/checkpoints/last.ckpt "
                                   "num_samples=10000 out=RUN/eval"))
        n += 1
    path = f"{EXP}/default_run/sweep.csv"
    for row in csv_rows(path):
        name = row.pop("run")
        params = {k: row.pop(k) for k in ("ema.decay", "loss", "optim.d.lr", "optim.g.lr", "seed") if k in row}
        params.update(run_dir=name, data_order="before the fix")
        put(EXP, "default_run/sweep", name.replace("/", "-").replace(",", "-"), row, params=params,
            card={"feature": "digit_classifier_v2 (v2)", "eval_num_samples": 10000,
                  "train_fid": "val/fid, 2,000 samples"},
            **converted(path, CPU, "ganlab-train ~experiment (overrides in params) && ganlab-eval "
                                   "ckpt=RUN/checkpoints/last.ckpt metrics=[fid] num_samples=10000 "
                                   "&& ganlab-compare DIRS --runs --csv"))
        n += 1
    return n

