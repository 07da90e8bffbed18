"""The memorization check on known copies of mnist5k training digits: one results record per set.

    python scripts/studies/copy_calibration.py              # experiments/results/copy_calibration-cpu/
    python scripts/studies/copy_calibration.py --n 1000 --seed 1

Each set (ganlab.metrics.calibration.copies.SETS) is scored against the 4,000 training digits with the copy
threshold fitted on one half of the 1,000 test digits; the other half gives the false-alarm rate.
"""

from __future__ import annotations

import argparse

from ganlab.metrics.calibration.copies import copy_calibration
from ganlab.results import write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per set")
    parser.add_argument("--seed", type=int, default=1, help="seed of the distortions")
    parser.add_argument("--study", default="copy_calibration-cpu")
    args = parser.parse_args()
    card = {"space": "pixels", "max_shift": 1, "rate": 0.03, "cells": 10, "train": "mnist5k train split (4,000)",
            "heldout": "mnist5k test split (1,000): threshold fitted on one half, copy_share_heldout the other",
            "n": args.n, "seed": args.seed}
    for row in copy_calibration(n=args.n, seed=args.seed):
        name = row["set"].replace(" ", "_").replace(".", "p")
        metrics = {k: v for k, v in row.items() if isinstance(v, float)}
        params = {"set": row["set"], "what": row["what"], "required": row["required"]}
        path = write_record(args.study, name, metrics, card=card, params=params, overwrite=True)
        print(f"{row['set']:>22}: {100 * row['copy_share']:5.1f} % flagged, C_T {row['ct']:7.2f}  -> {path}")


if __name__ == "__main__":
    main()
