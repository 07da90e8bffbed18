"""The ring GAN's samples along training, from the .npy files ``ring_standalone.py --dump DIR`` saves.

    python scripts/studies/ring_standalone.py --seeds 3 --no-record --dump /tmp/ring
    python scripts/studies/ring_standalone_figure.py /tmp/ring --seed 3 --steps 1000,5000,10000,15000,20000,25000 \
        --out docs/images/ring_standalone_s3.png

One panel per step: the 2,500 samples over the 8 centres, each centre's 3-std circle drawn, and the panel's
title giving the step, the modes captured and the high-quality share (the papers' rule).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dump", type=Path)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--steps", default="1000,5000,10000,15000,20000,25000")
    p.add_argument("--std", type=float, default=0.01)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = np.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])
    steps = [int(s) for s in a.steps.split(",")]
    fig, axes = plt.subplots(1, len(steps), figsize=(2.4 * len(steps), 2.7))
    for ax, step in zip(np.atleast_1d(axes), steps, strict=True):
        x = np.load(a.dump / f"s{a.seed}-step{step:06d}.npy")
        dist = np.sqrt(((x[:, None, :] - means[None]) ** 2).sum(-1))
        good = dist.min(1) <= 3 * a.std
        modes = len(set(dist.argmin(1)[good].tolist()))
        ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.3, color="tab:blue", rasterized=True)
        for m in means:
            ax.add_patch(plt.Circle(m, 3 * a.std, fill=False, color="tab:red", lw=0.6))
        ax.scatter(means[:, 0], means[:, 1], s=8, marker="x", color="tab:red", lw=0.6)
        ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal", xticks=[], yticks=[])
        ax.set_title(f"step {step:,}\n{modes} modes, {100 * good.mean():.1f} % hq", fontsize=8)
    fig.suptitle(f"stand-alone ring GAN, seed {a.seed} (authors' notebook settings)", fontsize=9)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(a.out)


if __name__ == "__main__":
    main()
