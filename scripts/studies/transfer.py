"""Limited-data transfer on mnist5k: pretrain on digits 0-4, then 500 images of digits 5-9 three ways, 3 seeds.

    python scripts/studies/transfer.py --work /tmp/transfer        # train and evaluate what is missing
    python scripts/studies/transfer.py --work /tmp/transfer --table-only

Runs go to WORK/ (checkpoints are not committed); one results record per run goes to
experiments/results/transfer_mnist5k/<run>.json, and the table (ganlab.studies.transfer_table) is printed.
Arms, all ``experiment=transfer_target`` at its step budget and seeds 0..2:

- scratch: fresh weights;
- finetune: ``init_from=WORK/pretrain/checkpoints/last.ckpt`` (G, D and EMA of ``experiment=transfer_pretrain``);
- freezed: the same plus ``freeze.d_blocks=1`` (FreezeD: D's first hidden layer fixed).

Every run and evaluation is a subprocess with one thread (a shared 2-core machine), one at a time. The pretrained
checkpoint itself is evaluated too (arm ``pretrained``: what the digits 0-4 model scores on digits 5-9).
Evaluation: ``ganlab-eval real.split=heldout``: the 2,000 digits 5-9 outside the 500 training images.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ganlab.records import command_line, write_record
from ganlab.studies import transfer_table

STUDY = "transfer_mnist5k"
RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "results" / STUDY
ARMS = {"scratch": [], "finetune": ["init_from={pretrained}"], "freezed": ["init_from={pretrained}",
                                                                          "freeze.d_blocks=1"]}
EVAL = ["real.split=heldout", "metrics=[fid,prdc]", "num_samples=2000", "threads=1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(argv: list[str]) -> None:
    print("+", shlex.join(argv), flush=True)
    subprocess.run(argv, env=ENV, check=True, stdout=subprocess.DEVNULL)


def train(run_dir: Path, overrides: list[str]) -> list[str]:
    """Train into ``run_dir`` unless its last.ckpt exists; returns the command."""
    argv = ["ganlab-train", *overrides, "threads=1", f"hydra.run.dir={run_dir}"]
    if not (run_dir / "checkpoints" / "last.ckpt").is_file():
        run(argv)
    return argv


def evaluate(run_dir: Path) -> tuple[list[str], dict]:
    """ganlab-eval of the run's last.ckpt against the held-out digits (once); returns the command and its record."""
    out = run_dir / "heldout_eval.json"
    argv = ["ganlab-eval", f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", *EVAL, f"out={out}"]
    if not out.is_file():
        run(argv)
    return argv, json.loads(out.read_text())["evaluations"][-1]


def record(name: str, arm: str, seed: int, train_argv: list[str], eval_argv: list[str], evaluation: dict) -> None:
    metrics = {k: v for k, v in evaluation["metrics"].items() if isinstance(v, (int, float))}
    path = write_record(RESULTS, STUDY, name, metrics, command_line(), card=evaluation["card"], arm=arm, seed=seed,
                        commands={"train": shlex.join(train_argv), "eval": shlex.join(eval_argv)})
    print(f"wrote {path}: fid {metrics['fid']:.2f} precision {metrics['precision']:.3f} "
          f"recall {metrics['recall']:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="where the runs are trained (not committed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if not args.table_only:
        pre_dir = args.work / "pretrain"
        pre_argv = train(pre_dir, ["experiment=transfer_pretrain", "seed=0"])
        pretrained = pre_dir / "checkpoints" / "last.ckpt"
        eval_argv, evaluation = evaluate(pre_dir)
        record("pretrained_s0", "pretrained", 0, pre_argv, eval_argv, evaluation)
        for seed in args.seeds:
            for arm in args.arms:
                run_dir = args.work / f"{arm}_s{seed}"
                extra = [o.format(pretrained=pretrained) for o in ARMS[arm]]
                train_argv = train(run_dir, ["experiment=transfer_target", f"seed={seed}", "metrics=none", *extra])
                eval_argv, evaluation = evaluate(run_dir)
                record(f"{arm}_s{seed}", arm, seed, train_argv, eval_argv, evaluation)
    sys.stdout.write(transfer_table(RESULTS))


if __name__ == "__main__":
    main()
