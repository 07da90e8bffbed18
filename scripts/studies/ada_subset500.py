"""ADA on the 500-image mnist5k subset: the default MLP with and without ``augment=ada``, several seeds.

    python scripts/studies/ada_subset500.py --out runs/ada500                 # train what is missing, then summarise
    python scripts/studies/ada_subset500.py --out runs/ada500 --summary-only  # tables and figure from existing runs
    python scripts/studies/ada_subset500.py --out runs/ada500 --seeds 0 --arms ada   # train one arm of one seed

Both arms are ``ganlab-train datamodule.subset=500 augment=ada trainer.max_steps=STEPS
metrics.every_n_steps=1000 seed=S`` plus, without ADA, ``augment.ada.target=null`` (p stays 0: no
augmentation, bit-identical to a run without it, but r_t is measured and logged) and, with ADA,
``augment.ada.speed_img=100000``. Runs go to ``OUT/{base,ada}_s{S}``; a finished run is not rerun.
Writes ``OUT/ada_subset500.json``, ``OUT/ada_subset500.md`` and ``OUT/ada_subset500.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ARMS = {"base": ["augment.ada.target=null"], "ada": ["augment.ada.speed_img=100000"]}
LABELS = {"base": "no augmentation", "ada": "augment=ada (speed_img=100000)"}


def command(arm: str, seed: int, steps: int, out: Path) -> list[str]:
    # batch 64: the default recipe's batch when these runs were measured (it is 128 since)
    return [sys.executable, "-m", "ganlab.cli.train", "datamodule.subset=500", "augment=ada", "dataset.batch_size=64",
            f"trainer.max_steps={steps}", "metrics.every_n_steps=1000", f"seed={seed}", *ARMS[arm],
            f"hydra.run.dir={out / f'{arm}_s{seed}'}"]


def train(arm: str, seed: int, steps: int, out: Path) -> None:
    run = out / f"{arm}_s{seed}"
    if (run / "checkpoints" / "last.ckpt").is_file() and curves(run).get("val/fid", {}).get(steps) is not None:
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run(command(arm, seed, steps, out), env=env, check=True, stdout=subprocess.DEVNULL)


def curves(run: Path) -> dict[str, dict[int, float]]:
    from ganlab.runs.read import read_run

    return read_run(run).curves if (run / "tensorboard").is_dir() else {}


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def window_mean(curve: dict[int, float], lo: int, hi: int) -> float:
    return statistics.mean(v for s, v in curve.items() if lo < s <= hi)


def summarise(out: Path, seeds: list[int], steps: int) -> dict:
    runs = {arm: {s: curves(out / f"{arm}_s{s}") for s in seeds} for arm in ARMS}
    windows = [(lo, lo + 2000) for lo in range(0, steps, 2000)]
    result: dict = {"steps": steps, "seeds": seeds, "commands": {a: " ".join(command(a, 0, steps, out)[1:])
                                                                 for a in ARMS}, "arms": {}}
    for arm, by_seed in runs.items():
        fid_final = [c["val/fid"][steps] for c in by_seed.values()]
        fid_best = [min(c["val/fid"].values()) for c in by_seed.values()]
        rt = {f"{lo}-{hi}": [window_mean(c["train/ada_rt"], lo, hi) for c in by_seed.values()] for lo, hi in windows}
        p = [c["train/ada_p"][max(c["train/ada_p"])] for c in by_seed.values()]
        covered = [c["val/classes_covered"][steps] for c in by_seed.values() if "val/classes_covered" in c]
        result["arms"][arm] = {"fid_final": fid_final, "fid_best": fid_best, "rt_by_window": rt, "p_final": p,
                               "classes_covered_final": covered,
                               "fid_by_step": {s: [c["val/fid"][s] for c in by_seed.values()]
                                               for s in sorted(next(iter(by_seed.values()))["val/fid"])}}
    return result


def markdown(result: dict) -> str:
    arms = result["arms"]
    lines = [f"Default MLP, `datamodule.subset=500`, {result['steps']:,} steps, seeds {result['seeds']} "
             f"(mean ± sample std over seeds).", "",
             "| | " + " | ".join(LABELS[a] for a in arms) + " |", "| --- |" + " --- |" * len(arms)]
    lines.append("| val/fid at the end | " + " | ".join(mean_std(arms[a]["fid_final"]) for a in arms) + " |")
    lines.append("| best val/fid of the run | " + " | ".join(mean_std(arms[a]["fid_best"]) for a in arms) + " |")
    lines.append("| classes covered at the end | " + " | ".join(
        ", ".join(f"{v:.0f}" for v in arms[a]["classes_covered_final"]) for a in arms) + " |")
    lines.append("| p at the end | " + " | ".join(", ".join(f"{v:.3f}" for v in arms[a]["p_final"]) for a in arms)
                 + " |")
    for window in next(iter(arms.values()))["rt_by_window"]:
        cells = []
        for a in arms:
            per_seed = arms[a]["rt_by_window"][window]
            cells.append(f"{statistics.mean(per_seed):.2f} ({', '.join(f'{v:.2f}' for v in per_seed)})")
        lines.append(f"| mean r_t, steps {window} (per seed) | " + " | ".join(cells) + " |")
    steps = list(next(iter(arms.values()))["fid_by_step"])
    lines += ["", "val/fid by step (mean over seeds):", "",
              "| step | " + " | ".join(f"{int(s):,}" for s in steps) + " |", "| --- |" + " --- |" * len(steps)]
    for a in arms:
        lines.append(f"| {LABELS[a]} | " + " | ".join(f"{statistics.mean(arms[a]['fid_by_step'][s]):.0f}"
                                                     for s in steps) + " |")
    return "\n".join(lines) + "\n"


def plot(out: Path, seeds: list[int]) -> Path:
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: Agg, no global state
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig = Figure(figsize=(8, 6), dpi=100, layout="constrained")
    ax_rt, ax_fid = fig.subplots(2, 1, sharex=True)
    for i, arm in enumerate(ARMS):
        for j, s in enumerate(seeds):
            c = curves(out / f"{arm}_s{s}")
            steps = np.array(sorted(c["train/ada_rt"]))
            rt = np.array([c["train/ada_rt"][t] for t in steps])
            smooth = np.convolve(rt, np.ones(10) / 10, mode="valid")  # 10 logged points = 500 steps
            label = LABELS[arm] if j == 0 else None
            ax_rt.plot(steps[9:], smooth, color=f"C{i}", linewidth=1, alpha=0.8, label=label)
            if arm == "ada":
                ax_rt.plot(steps, [c["train/ada_p"][t] for t in steps], color="C2", linewidth=1,
                           label="ADA p" if j == 0 else None)
            fid = sorted(c["val/fid"].items())
            ax_fid.plot(*zip(*fid, strict=True), color=f"C{i}", marker="o", markersize=3, linewidth=1, label=label)
    ax_rt.axhline(0.6, color="grey", linestyle=":", label="target 0.6")
    ax_rt.set(ylabel="r_t (mean of 500 steps)", title="r_t = E[sign D(x_real)], one line per seed")
    ax_fid.set(ylabel="val/fid", xlabel="training step", yscale="log", title="FID (digit features v2)")
    ax_fid.set_yticks([50, 100, 200, 400, 800])
    ax_fid.yaxis.set_major_formatter(ScalarFormatter())  # plain numbers, not mathtext powers of ten
    ax_fid.yaxis.set_minor_formatter(NullFormatter())
    ax_rt.legend(fontsize=8)
    ax_fid.legend(fontsize=8)
    path = out / "ada_subset500.png"
    fig.savefig(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS),
                        help="train only these arms (the summary reads every arm found)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    if not args.summary_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: train(*job, args.steps, args.out),
                          [(arm, s) for s in args.seeds for arm in args.arms]))
    missing = [f"{a}_s{s}" for s in args.seeds for a in ARMS
               if not (args.out / f"{a}_s{s}" / "checkpoints" / "last.ckpt").is_file()]
    if missing:
        print(f"no summary yet: {', '.join(missing)} not trained under {args.out}")
        return
    result = summarise(args.out, args.seeds, args.steps)
    (args.out / "ada_subset500.json").write_text(json.dumps(result, indent=1))
    (args.out / "ada_subset500.md").write_text(markdown(result))
    print(markdown(result))
    print(f"wrote {plot(args.out, args.seeds)}")


if __name__ == "__main__":
    main()
