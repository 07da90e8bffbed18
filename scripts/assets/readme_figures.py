"""The README's pictures of the default run: a sample grid and the FID / class-KL / speckle curves.

    python scripts/assets/readme_figures.py RUN_DIR [RUN_DIR ...] --out docs/images

RUN_DIR are finished runs of the same configuration (e.g. the default run, seeds 1-3). The grid is
drawn with ``ganlab-sample`` from the first run's final checkpoint (64 samples, noise seed 0, the EMA
generator when the run has one); the curves are the training-time ``val/*`` scalars of every run, read
with ganlab-compare's reader, one line per run. Rerun it after retuning the default to refresh them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ganlab.runs.read import read_run

CURVES = (("val/fid", "FID (digit features v2, 2,000 samples)"),
          ("val/class_kl", "class KL to real (nats)"),
          ("val/speckle_vs_real", "speckle / real speckle"))


def sample_grid(run: Path, out: Path) -> Path:
    """64 samples of the run's final checkpoint as an 8x8 grid PNG."""
    ckpt = run / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        raise SystemExit(f"readme_figures: {ckpt} does not exist; pass a finished run directory")
    path = out / "default_samples.png"
    cmd = [sys.executable, "-m", "ganlab.cli.sample", f"ckpt={ckpt}", f"out={path}", "n=64", "nrow=8",
           "files=false", "interpolation.rows=0", "overwrite=true", "device=cpu"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def curves(runs: list[Path], out: Path) -> Path:
    """One figure, a panel per headline scalar, a line per run."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg

    data = [read_run(r) for r in runs]
    fig = Figure(figsize=(10, 3), layout="constrained")
    axes = fig.subplots(1, len(CURVES))
    for ax, (tag, title) in zip(axes, CURVES, strict=True):
        for run in data:
            points = run.curves.get(tag, {})
            if points:
                steps = sorted(points)
                label = f"seed {run.overrides['seed']}" if "seed" in run.overrides else run.path.name
                ax.plot(steps, [points[s] for s in steps], marker="o", ms=3, label=label)
        ax.set(title=title, xlabel="step", yscale="linear" if tag == "val/class_kl" else "log")
        ax.title.set_fontsize(9)
    axes[0].legend(fontsize=7)
    path = out / "default_curves.png"
    fig.savefig(path, dpi=100)
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--out", type=Path, default=Path("docs/images"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(sample_grid(args.runs[0], args.out))
    print(curves(args.runs, args.out))


if __name__ == "__main__":
    main()
