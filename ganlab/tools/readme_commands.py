"""Run every `ganlab-*` command of the README's quick start and cookbook with a tiny budget.

    python scripts/checks/check_readme_commands.py            # all of them (minutes on 2 CPU cores)
    python scripts/checks/check_readme_commands.py --list     # what would run and what is skipped, and why
    python scripts/checks/check_readme_commands.py --only 0 5 # by index in --list

Commands are taken from the ```bash blocks of README.md before "## How it fits together"
(continuation lines joined, comments dropped). Each runs in a temporary folder with a tiny budget
appended (overrides of the same keys in the command are dropped); checkpoint and run-directory
paths are replaced by those of the first training run. Skipped, with the reason printed: commands
that need files from outside (torchvision downloads, an image folder, the Inception weights), GPUs
or several processes, and multi-run sweeps. Exit status 1 when a command that ran failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository
README = REPO / "README.md"
END_OF_COOKBOOK = "## How it fits together"

# appended to every ganlab-train command (keys already in the command are replaced)
TINY_TRAIN = [
    "trainer.max_steps=2",
    "metrics.every_n_steps=2",
    "metrics.num_samples=100",
    "metrics.batch_size=50",
    "callbacks.samples.every_n_steps=2",
    "~callbacks.progress_bar",
    "+trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]
TINY_EVAL = ["num_samples=100", "batch_size=50", "real.max_images=200"]
TINY_SAMPLE = ["n=16", "interpolation.rows=2", "interpolation.steps=3"]

# (reason, predicate on the tokens) for commands that cannot run here
SKIPS = [
    ("a multi-run sweep (-m)", lambda t: "-m" in t or "--multirun" in t),
    ("needs torchvision files or a download (dataset=mnist/fashion_mnist/cifar10)",
     lambda t: any(re.fullmatch(r"dataset=(mnist|fashion_mnist|cifar10)", a) for a in t)),
    ("needs an image folder (dataset=folder)", lambda t: "dataset=folder" in t),
    ("needs the Inception weights", lambda t: any(a.startswith("paths.inception_weights=") or a == "feature=inception"
                                                  for a in t)),
    ("needs a GPU", lambda t: "trainer=gpu" in t),
    ("needs several devices (trainer=ddp trainer.devices=4)", lambda t: "trainer=ddp" in t),
]

# per-command adjustments: (predicate, overrides appended after the tiny budget)
ADJUST = [
    # resume: the first run's checkpoint is at step 2, so continue to step 4
    (lambda t: any(a.startswith("ckpt_path=") for a in t), ["trainer.max_steps=4"]),
    # no evaluation: metrics=none ties every_n_steps to max_steps and evaluates nothing
    (lambda t: "metrics=none" in t, ["metrics.every_n_steps=2", "metrics.num_samples=0"]),
]


@dataclass
class Command:
    line: str                   # as written in the README (continuations joined)
    tokens: list[str]
    skip: str | None = None
    argv: list[str] = field(default_factory=list)


def readme_commands(text: str) -> list[Command]:
    """The ganlab-* command lines of the bash blocks before END_OF_COOKBOOK."""
    text = text.split(END_OF_COOKBOOK)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens and tokens[0].startswith("ganlab-"):
                commands.append(Command(" ".join(line.split("  #")[0].split()), tokens))
    for c in commands:
        c.skip = "; ".join(reason for reason, applies in SKIPS if applies(c.tokens)) or None
    return commands


def _key(token: str) -> str:
    return token.lstrip("+~").split("=")[0]


def with_budget(tokens: list[str], budget: list[str]) -> list[str]:
    """tokens with budget appended; overrides of the same keys in tokens are dropped."""
    keys = {_key(b) for b in budget}
    return [t for t in tokens if _key(t) not in keys] + budget


def plan(c: Command, tmp: Path, i: int, first_run: Path) -> list[str]:
    """The argv to run for command c (the i-th), in tmp; first_run is the first training run's folder."""
    prog, args = c.tokens[0], c.tokens[1:]
    ckpt = first_run / "checkpoints" / "last.ckpt"
    args = [re.sub(r"^(ckpt_path|ckpt|init_from)=outputs/.*\.ckpt$", rf"\1={ckpt}", a) for a in args]
    if prog == "ganlab-train":
        budget = TINY_TRAIN + [f"paths.cache_dir={tmp / 'cache'}", f"hydra.run.dir={tmp / 'runs' / f'run{i}'}"]
        for applies, extra in ADJUST:
            if applies(c.tokens):
                budget = with_budget(budget, extra)
        args = with_budget(args, budget)
    elif prog == "ganlab-eval":
        args = with_budget(args, TINY_EVAL + [f"paths.cache_dir={tmp / 'cache'}", f"out={tmp / 'metrics.json'}"])
    elif prog == "ganlab-sample":
        args = with_budget(args, TINY_SAMPLE + ["overwrite=true"])
    elif prog == "ganlab-export":
        args = with_budget(args, [f"out={tmp / f'export{i}'}", "overwrite=true"])
    elif prog == "ganlab-compare":
        args = [str(tmp / "runs") if re.match(r"(multirun|outputs)/", a) else a for a in args]
        args = [str(tmp / a) if a.endswith(".html") else a for a in args]
    elif prog == "ganlab-diagnose":
        args = [str(first_run) if re.match(r"(multirun|outputs)/", a) else a for a in args] + ["--out", str(tmp)]
    elif prog == "ganlab-reproduce":
        args = [a for a in args if not a.startswith("--")][:1] + [
            "--seeds", "1", "--budget", "2", "--jobs", "1", "--out", str(tmp / "reproduce"),
            # ganlab-reproduce itself removes the progress bar and sets max_steps and every_n_steps from --budget
            "--set", "metrics.num_samples=100", "metrics.batch_size=50", "callbacks.samples.every_n_steps=2",
            f"paths.cache_dir={tmp / 'cache'}"]
    module = {"ganlab-train": "train", "ganlab-eval": "evaluate", "ganlab-sample": "sample",
              "ganlab-compare": "compare", "ganlab-reproduce": "reproduce", "ganlab-diagnose": "diagnose",
              "ganlab-export": "export"}[prog]
    return [sys.executable, "-m", f"ganlab.cli.{module}", *args]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="print the commands and skip reasons, run nothing")
    p.add_argument("--only", type=int, nargs="*", help="run only these indices (the first training run always runs)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per command")
    args = p.parse_args(argv)
    commands = readme_commands(README.read_text(encoding="utf-8"))
    tmp = Path(tempfile.mkdtemp(prefix="ganlab-readme-"))
    # the first runnable ganlab-train command makes the checkpoint and run folder later commands use
    first = next(i for i, c in enumerate(commands) if c.tokens[0] == "ganlab-train" and not c.skip)
    first_run = tmp / "runs" / f"run{first}"
    order = [first] + [i for i in range(len(commands)) if i != first]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "GANLAB_CACHE": str(tmp)}
    ran, failed, skipped = 0, [], 0
    for i in order:
        c = commands[i]
        if c.skip or (args.only is not None and i not in args.only and i != first):
            skipped += 1
            print(f"[{i:2d}] SKIP  {c.line}\n       ({c.skip or 'not selected with --only'})", flush=True)
            continue
        c.argv = plan(c, tmp, i, first_run)
        if args.list:
            print(f"[{i:2d}] RUN   {c.line}\n       -> {shlex.join(c.argv[3:])}")
            continue
        t0 = time.time()
        try:
            proc = subprocess.run(c.argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=args.timeout)
            rc, out = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            rc, out = 124, f"timed out after {args.timeout} s"
        ran += 1
        status = "ok  " if rc == 0 else "FAIL"
        print(f"[{i:2d}] {status}  {c.line}  ({time.time() - t0:.0f} s)", flush=True)
        if rc != 0:
            failed.append(c.line)
            print("       " + "\n       ".join(out.strip().splitlines()[-15:]), flush=True)
    if not args.list:
        print(f"\n{ran} ran, {ran - len(failed)} passed, {len(failed)} failed, {skipped} skipped"
              + (f" (work dir kept: {tmp})" if failed else ""))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
