"""Time K seeds of one preset as a seed ensemble (ensemble.size=K, one process) against K sequential runs.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python scripts/bench/bench_ensemble.py            # veegan_gan_ring, mlp_mnist5k
    python scripts/bench/bench_ensemble.py --cases veegan_gan_ring --members 8 --steps 60

Every run is ``ganlab-train experiment=CASE`` (in this process, one after another) with ``metrics=none
health=none``, no logger and no sample grids, for ``--steps`` steps; ``ganlab.tools.bench.StepTimesFile`` records
each step's time. The throughput ratio is seed-steps per second of the ensemble over those of the K separate
runs: sum over runs of their median step time / the ensemble's median step time. Wall times (start-up included)
are reported beside it. Writes --out/ensemble.json and ensemble.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ganlab.cli.train import train
from ganlab.config import compose

BASE = ["metrics=none", "health=none", "~logger", "~callbacks.progress_bar", "~callbacks.samples",
        "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def timed_run(case: str, steps: int, out: Path, extra: list[str]) -> tuple[float, float]:
    """(median ms per step after 5 warm-up steps, wall seconds) of one ganlab-train run."""
    times = out / "times.json"
    cfg = compose([f"experiment={case}", *BASE, f"trainer.max_steps={steps}", f"paths.output_dir={out}",
                   "+callbacks.timer._target_=ganlab.tools.bench.StepTimesFile", f"+callbacks.timer.out={times}",
                   *extra])
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train(cfg)
    wall = time.perf_counter() - start
    return statistics.median(json.loads(times.read_text())["steps_ms"][5:]), wall


def bench(case: str, members: int, steps: int, tmp: Path) -> dict:
    separate = [timed_run(case, steps, tmp / case / f"seed{s}", [f"seed={s}"]) for s in range(members)]
    ens_ms, ens_wall = timed_run(case, steps, tmp / case / "ensemble", [f"ensemble.size={members}"])
    seq_ms, seq_wall = sum(ms for ms, _ in separate), sum(w for _, w in separate)
    return {"case": case, "members": members, "steps": steps,
            "separate_ms_per_step": [round(ms, 2) for ms, _ in separate], "sequential_ms": round(seq_ms, 1),
            "ensemble_ms": round(ens_ms, 1), "throughput_ratio": round(seq_ms / ens_ms, 2),
            "sequential_wall_s": round(seq_wall, 1), "ensemble_wall_s": round(ens_wall, 1),
            "wall_ratio": round(seq_wall / ens_wall, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="veegan_gan_ring,mlp_mnist5k")
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--steps", type=int, default=60, help="steps per run (the first 5 untimed)")
    p.add_argument("--out", default="benchmarks")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            rows.append(bench(case, args.members, args.steps, Path(tmp)))
            print(rows[-1], flush=True)
    cols = ["case", "members", "steps", "sequential_ms", "ensemble_ms", "throughput_ratio", "sequential_wall_s",
            "ensemble_wall_s", "wall_ratio"]
    title = f"CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}: K seeds in sequence vs one ensemble"
    table = "\n".join([title, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                       *("| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)]) + "\n"
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ensemble.md").write_text(table)
    (out / "ensemble.json").write_text(json.dumps({"title": title, "rows": rows, "config": OmegaConf.to_yaml(
        OmegaConf.create({"base": BASE}))}, indent=1))


if __name__ == "__main__":
    main()
