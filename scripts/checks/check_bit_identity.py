"""Train fixed short CPU runs and compare their final G and D tensors with recorded SHA-256 hashes.

The reference hashes (``tests/data/bit_identity.json``) were recorded on the commit before the
architecture change (d48c9db) with the same 300-step commands, so a refactor that changes any
arithmetic of the game shows up here as a differing tensor. They were re-recorded once, on purpose,
when the data order was fixed (each epoch now draws its own permutation; before, every epoch repeated
epoch 0's): every case runs past one epoch, and up to that fix all nine were bit-identical to d48c9db.
They were re-recorded a second time, on purpose, when mnist5k got its test split (runs train on the 4,000
digits of ``dataset.source.split=train``, no longer on all 5,000); just before that, the nine cases with
``--extra dataset.source.split=all`` were bit-identical to the previous record.

    python scripts/checks/check_bit_identity.py                 # every case, compare with the record
    python scripts/checks/check_bit_identity.py --cases default pack2
    python scripts/checks/check_bit_identity.py --record        # rewrite the record (only on purpose)

Each case is ``ganlab-train seed=0 trainer.max_steps=300 metrics=none <overrides>``; the tensors are
read from the run's final ``checkpoints/last.ckpt``. ``metrics=none`` keeps the check about the game:
at d48c9db building a feature extractor drew from the global RNG and so shifted the training noise
(ganlab now builds callbacks without touching it, so the metrics never change a run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository
RECORD = ROOT / "tests" / "data" / "bit_identity.json"
STEPS = 300

# case -> overrides on top of `seed=0 trainer.max_steps=300 metrics=none`, in today's config names (the record was
# made with the names of d48c9db: unroll.steps=2, optim.simultaneous=true, +regularizer=r1)
CASES: dict[str, list[str]] = {
    "default": [],
    "dcgan_mnist5k": ["experiment=dcgan_mnist5k"],
    "wgan_gp": ["loss=wgan_gp"],
    "pack2": ["pack=2"],
    "unroll2": ["game=unrolled", "game.unroll.steps=2"],        # was unroll.steps=2
    "simultaneous": ["game=simultaneous"],                      # was optim.simultaneous=true
    "ema": ["ema.decay=0.99"],
    "projection": ["conditional=projection"],
    "r1": ["+regularizers=r1"],                                 # was +regularizer=r1
}


def tensor_hashes(ckpt_path: Path) -> dict[str, str]:
    """SHA-256 of every generator*/discriminator* tensor of a checkpoint, by state_dict key."""
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)["state_dict"]
    return {k: hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()
            for k, v in sorted(state.items()) if k.startswith(("generator", "discriminator"))}


def run_case(name: str, workdir: Path, extra: list[str] | None = None) -> dict[str, str]:
    run_dir = workdir / name
    # the record predates the default run's preset (experiment=mlp_mnist5k); ~experiment is the default of then
    preset = [] if any(o.startswith("experiment=") for o in CASES[name]) else ["~experiment"]
    cmd = [sys.executable, "-m", "ganlab.cli.train", "seed=0", f"trainer.max_steps={STEPS}", "metrics=none",
           *preset, *CASES[name], *(extra or []),
           f"hydra.run.dir={run_dir}"]
    if not (ROOT / "ganlab" / "cli").is_dir():  # the layout before ganlab/cli/
        cmd[2] = "ganlab.train"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # as recorded: CPU reductions may differ with the thread count
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"case {name} failed ({' '.join(cmd[2:])}):\n{done.stderr[-2000:]}")
    return tensor_hashes(run_dir / "checkpoints" / "last.ckpt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--record", action="store_true", help="write the hashes as the new reference")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every case, e.g. "
                        "dataset.source.split=all (the 5,000 digits of the record made before mnist5k's test split)")
    args = parser.parse_args()
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            hashes = run_case(name, Path(tmp), args.extra)
            if args.record:
                record[name] = hashes
                print(f"{name}: recorded {len(hashes)} tensors")
                continue
            ref = record.get(name)
            if ref is None:
                raise SystemExit(f"no recorded hashes for case {name}; run with --record on the reference commit")
            differ = [k for k in ref if hashes.get(k) != ref[k]] + [k for k in hashes if k not in ref]
            status = "identical" if not differ else f"DIFFERENT ({len(differ)}: {', '.join(differ[:4])})"
            print(f"{name}: {len(ref)} tensors {status}")
            if differ:
                failed.append(name)
    if args.record:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        return
    print(f"{len(args.cases) - len(failed)}/{len(args.cases)} cases bit-identical")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
