"""Truncation sweeps of the default run's recipe and the DCGAN preset, short CPU runs (docs/sampling.md).

    python scripts/studies/truncation.py --work /tmp/truncation

Trains (or continues, in WORK/<folder>) the default recipe to 3,000 steps (``default``, seed 0),
``experiment=dcgan_mnist5k`` for 2,000 of its 3,000 steps (seed 0) and the whole default run of seed 4
(``default10k``: the run of experiments/README's train-split table; a folder already holding its 10,000-step
checkpoint is used as it is), one thread; after each, for its last checkpoint
``ganlab-eval ... truncation.psi=[1.0,...,0.3]`` writes one results record and its figure to
experiments/results/truncation-cpu/<name>_psi.json / .png (view ``truncation``), and ``ganlab-sample`` writes a
spherical latent walk as GIF and MP4 to docs/images/walk_<name>_interp.gif / .mp4 (``truncation.psi=0.8``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from pathlib import Path

from ganlab.rundir import checkpoint_step

# name -> (run folder, overrides, steps): default is the default recipe stopped at 3,000 steps, default10k a whole
# default run (seed 4, one of the default run's out-of-sample seeds)
RUNS = {"default": ("default", ["seed=0"], 3000),
        "dcgan": ("dcgan", ["experiment=dcgan_mnist5k", "seed=0"], 2000),
        "default10k": ("default10k", ["seed=4"], 10000)}
PSI = "[1.0,0.9,0.8,0.7,0.6,0.5,0.4,0.3]"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(argv: list[str]) -> None:
    print("+", shlex.join(argv), flush=True)
    subprocess.run(argv, env=ENV, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="where the runs are trained (not committed)")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    args = parser.parse_args()
    for name in args.runs:
        folder, overrides, steps = RUNS[name]
        run_dir = args.work / folder
        ckpt = run_dir / "checkpoints" / "last.ckpt"
        done = checkpoint_step(ckpt) if ckpt.is_file() else 0
        if done < steps:  # train, or continue the run in its folder to ``steps``
            resume = [f"ckpt_path={ckpt}"] if done else []
            run(["ganlab-train", *overrides, f"trainer.max_steps={steps}", *resume, "threads=1",
                 f"hydra.run.dir={run_dir}"])
        elif done > steps:
            raise SystemExit(f"{ckpt} is at step {done}, past {name}'s {steps}; train {name} in another --work")
        if not (Path("experiments/results/truncation-cpu") / f"{name}_psi.json").is_file():
            run(["ganlab-eval", f"ckpt={ckpt}", "metrics=[fid,prdc]", "num_samples=5000", "threads=1",
                 f"truncation.psi={PSI}", f"record=truncation-cpu/{name}_psi", f"out={run_dir / 'eval.json'}"])
        for fmt in ("gif", "mp4"):
            walk = Path("docs/images") / f"walk_{name}.png"
            if not walk.with_name(f"{walk.stem}_interp.{fmt}").is_file():
                run(["ganlab-sample", f"ckpt={ckpt}", f"out={walk}", "n=16", "nrow=8", "files=false",
                     "truncation.psi=0.8", "interpolation.rows=9", "interpolation.steps=16",
                     "interpolation.mode=spherical", f"interpolation.format={fmt}", "interpolation.fps=12",
                     "overwrite=true", "threads=1"])


if __name__ == "__main__":
    main()
