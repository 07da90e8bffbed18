"""The zoo's tricks side by side on mnist5k at one step budget: every combination x seeds, in parallel.

    python scripts/studies/zoo_compare.py --out outputs/zoo --steps 1500 --seeds 0 1 --jobs 2
    python scripts/studies/zoo_compare.py --out /tmp/zoo --steps 4 --only baseline ema --set generator.width=8

Each combination is a list of ganlab-train overrides on top of ``experiment=dcgan_mnist5k`` (or its
own preset). Runs land in OUT/<name>/seed<k>; the table (FID at the last step and best FID, mean ±
std over seeds, digit-classifier features, training-time protocol) is printed and written to
OUT/zoo.md and OUT/zoo.json. The per-run scalars stay readable with ganlab-compare OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ganlab.runs.read import find_runs, read_run

BASE = ["experiment=dcgan_mnist5k"]
COMBOS: dict[str, list[str]] = {
    "baseline": [],
    "ema": ["ema.decay=0.999"],
    "ema_0.99": ["ema.decay=0.99"],
    "ema_start": ["ema.decay=0.999", "ema.start=1000"],
    "diffaugment": ["augment=diffaugment"],
    "instance_noise": ["augment=instance_noise"],
    "spectral_norm_d": ["discriminator.spectral_norm=true"],
    "hinge_sn_d": ["loss=hinge", "discriminator.spectral_norm=true"],
    "r1": ["+regularizers=r1"],
    "dragan": ["+regularizers=dragan"],
    "bcr": ["+regularizers=bcr"],
    "bcr_translation": ["+regularizers=bcr", "regularizers.bcr.augment.policy=translation"],
    "label_smoothing": ["loss.real_target=0.9"],
    "feature_matching": ["+g_terms=feature_matching"],
    "minibatch_stddev": ["minibatch=stddev"],
    "minibatch_discrimination": ["minibatch=discrimination"],
    "pacgan2": ["pack=2"],
    "projection": ["conditional=projection"],
    "acgan": ["conditional=acgan"],
    "sngan_preset": ["experiment=sngan_mnist5k"],
    "wgan_gp_preset": ["experiment=wgan_gp_mnist5k"],
}


def run_one(name: str, seed: int, args: argparse.Namespace) -> tuple[str, int, int, float]:
    out = args.out / name / f"seed{seed}"
    overrides = COMBOS[name]
    base = [] if any(o.startswith("experiment=") for o in overrides) else BASE
    cmd = [sys.executable, "-m", "ganlab.cli.train", *base, *overrides, f"seed={seed}",
           f"trainer.max_steps={args.steps}",
           f"metrics.every_n_steps={args.eval_every or args.steps // 3}", f"hydra.run.dir={out}",
           "~callbacks.model_checkpoint", "+trainer.enable_checkpointing=false", "~callbacks.progress_bar",
           "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", *args.set]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.log").write_text(proc.stdout + proc.stderr)
    return name, seed, proc.returncode, time.perf_counter() - t


def summarize(out: Path, names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        runs = [read_run(p) for p in find_runs([out / name])] if (out / name).is_dir() else []
        finals = [r.values["val/fid_final"] for r in runs if "val/fid_final" in r.values]
        bests = [r.values["val/fid_best"] for r in runs if "val/fid_best" in r.values]
        walls = [r.values["wall_s"] for r in runs if "wall_s" in r.values]
        rows.append({
            "name": name, "overrides": " ".join(COMBOS[name]) or "(experiment=dcgan_mnist5k)", "seeds": len(finals),
            "fid_final": statistics.fmean(finals) if finals else None,
            "fid_final_std": statistics.stdev(finals) if len(finals) > 1 else None,
            "fid_best": statistics.fmean(bests) if bests else None,
            "wall_s": statistics.fmean(walls) if walls else None,
        })
    return rows


def markdown(rows: list[dict], steps: int) -> str:
    def f(v: float | None, digits: int = 1) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    lines = [f"| combination | overrides | FID at step {steps} (mean ± std) | best FID | seeds | s/run |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        pm = f" ± {f(r['fid_final_std'])}" if r["fid_final_std"] is not None else ""
        lines.append(f"| {r['name']} | `{r['overrides']}` | {f(r['fid_final'])}{pm} | {f(r['fid_best'])} | "
                     f"{r['seeds']} | {f(r['wall_s'], 0)} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("outputs/zoo"))
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--eval-every", type=int, default=0, help="evaluation interval (default: steps // 3)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--jobs", type=int, default=1, help="runs at a time")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    p.add_argument("--only", nargs="+", default=None, choices=list(COMBOS), metavar="NAME")
    p.add_argument("--set", nargs="*", default=[], help="extra overrides for every run")
    args = p.parse_args()
    names = args.only or list(COMBOS)
    existing = [n for n in names if (args.out / n).exists()]
    if existing:
        print(f"{args.out} already holds runs of {', '.join(existing)}; choose another --out", file=sys.stderr)
        return 2
    jobs = [(n, s) for n in names for s in args.seeds]
    failed = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for name, seed, rc, wall in pool.map(lambda j: run_one(*j, args), jobs):
            print(f"{name} seed {seed}: rc={rc} {wall:.0f} s", flush=True)
            if rc != 0:
                failed.append(f"{name}/seed{seed}")
    rows = summarize(args.out, names)
    table = markdown(rows, args.steps)
    print(table)
    (args.out / "zoo.md").write_text(table + "\n")
    (args.out / "zoo.json").write_text(json.dumps({"steps": args.steps, "seeds": args.seeds, "set": args.set,
                                                   "failed": failed, "rows": rows}, indent=1))
    if failed:
        print(f"failed runs (see their train.log): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
