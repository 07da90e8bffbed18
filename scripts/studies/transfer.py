"""Limited-data transfer on mnist5k: pretrain on digits 0-4, then 500 images of digits 5-9 three ways, 3 seeds.

    python scripts/studies/transfer.py --work /tmp/transfer          # train and evaluate what is missing
    python -m ganlab.results render                                  # the table in docs/finetuning.md

Runs go to WORK/ (checkpoints are not committed); one results record per run goes to
experiments/results/transfer_mnist5k-cpu/<run>.json (view ``transfer``, ganlab/results/views/finetune.py).
Arms, all ``experiment=transfer_target`` at its step budget, seeds 0..2:

- scratch: fresh weights;
- finetune: ``init_from=WORK/pretrain/checkpoints/last.ckpt`` (G, D and EMA of ``experiment=transfer_pretrain``);
- freezed: the same plus ``freeze.d_blocks=1`` (FreezeD: D's first hidden layer fixed).

The pretrained checkpoint itself is evaluated on digits 5-9 too (arm ``pretrained``, with
``+real.source.classes=[5,6,7,8,9]`` and no copy check: it never saw a digit 5-9). Every ganlab-eval measures
the samples against the 500 digits 5-9 of mnist5k's test split (``fid_test``, ``precision_test``,
``recall_test``) and checks them for near-copies of the images the run trained on (``copy_share``, ``ct``).
Every run and evaluation is a subprocess with one thread (a shared 2-core machine), one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
from pathlib import Path

from ganlab.results import write_record

STUDY = "transfer_mnist5k-cpu"
ARMS = {"scratch": [], "finetune": ["init_from={pretrained}"],
        "freezed": ["init_from={pretrained}", "freeze.d_blocks=1"]}
EVAL = ["metrics=[fid,prdc]", "num_samples=2000", "threads=1"]
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


def evaluate(run_dir: Path, extra: list[str] = ()) -> tuple[list[str], dict]:
    """ganlab-eval of the run's last.ckpt (once); returns the command and the evaluation it appended."""
    out = run_dir / "eval.json"
    argv = ["ganlab-eval", f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", *EVAL, *extra, f"out={out}"]
    if not out.is_file():
        run(argv)
    return argv, json.loads(out.read_text())["evaluations"][-1]


def record(root: Path, name: str, arm: str, seed: int, train_argv: list[str], eval_argv: list[str],
           evaluation: dict) -> None:
    if (root / STUDY / f"{name}.json").is_file():  # written when that run was measured; kept as it is
        return
    metrics = {k: v for k, v in evaluation["metrics"].items() if isinstance(v, (int, float))}
    path = write_record(STUDY, name, metrics, card=evaluation["card"], root=root,
                        params={"arm": arm, "seed": seed},
                        commands={"train": shlex.join(train_argv), "eval": shlex.join(eval_argv)})
    print(f"wrote {path}: fid_test {metrics['fid_test']:.2f} precision_test {metrics['precision_test']:.3f} "
          f"recall_test {metrics['recall_test']:.3f} copy_share {metrics.get('copy_share')}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="where the runs are trained (not committed)")
    parser.add_argument("--root", type=Path, default=Path("experiments/results"), help="results root")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    args = parser.parse_args()
    pre_dir = args.work / "pretrain"
    pre_argv = train(pre_dir, ["experiment=transfer_pretrain", "seed=0"])
    pretrained = pre_dir / "checkpoints" / "last.ckpt"
    eval_argv, evaluation = evaluate(pre_dir, ["+real.source.classes=[5,6,7,8,9]", "memorization.enabled=false"])
    record(args.root, "pretrained-s0", "pretrained", 0, pre_argv, eval_argv, evaluation)
    for seed in args.seeds:
        for arm in args.arms:
            run_dir = args.work / f"{arm}_s{seed}"
            extra = [o.format(pretrained=pretrained) for o in ARMS[arm]]
            train_argv = train(run_dir, ["experiment=transfer_target", f"seed={seed}", *extra])
            eval_argv, evaluation = evaluate(run_dir)
            record(args.root, f"{arm}-s{seed}", arm, seed, train_argv, eval_argv, evaluation)


if __name__ == "__main__":
    main()
