"""Run every bad-input case in its own temporary folder and print the markdown table of docs/bad-input.md.

    python scripts/checks/bad_input_table.py > docs/bad-input.md      # regenerate the whole page
    python scripts/checks/bad_input_table.py --only "random bytes"    # run some cases (substring of `what`)

Adding a case is one line in CASES: the area, what is wrong, the command (``{bad}`` is a file
written from ``file=``, ``{ckpt}`` a good checkpoint), and ``expect="warning"`` for inputs that are
recovered from rather than refused. Every case folder starts with earlier outputs (``metrics.json``,
``samples.png``, ``notes.txt``); the table says whether they were left byte-identical.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]  # the repository
TOOLS = {"ganlab-eval": "ganlab.cli.evaluate", "ganlab-sample": "ganlab.cli.sample", "ganlab-train": "ganlab.cli.train",
         "ganlab-export": "ganlab.cli.export"}
# small evaluation settings, added to every ganlab-eval command (left out of the table)
FAST = ["num_samples=50", "real.max_images=100", "metrics=[fid]", "batch_size=50", "paths.cache_dir=cache"]
EARLIER = {"metrics.json": b'{"evaluations": [{"metrics": {"fid": 12.5}, "card": {}}]}',
           "samples.png": b"\x89PNG earlier grid", "notes.txt": b"written before this command"}

FileMaker = Callable[[dict], bytes]  # the good checkpoint dict -> the bytes of the bad file


@dataclass
class Case:
    area: str
    what: str
    argv: list[str]
    file: FileMaker | None = None  # written to bad.ckpt before the command
    expect: str = "error"  # "error": exit != 0 and one line; "warning": exit 0 and a warning naming the file
    setup: Callable[[Path, list[str]], None] | None = None  # extra preparation in the case folder
    env: dict[str, str] | None = None  # extra environment ({case} is replaced by the case folder)


@dataclass
class Result:
    returncode: int
    stderr: str
    message: str  # the error line, or the warning line for expect="warning"
    unchanged: bool  # the earlier files are byte-identical
    new_files: list[str]


def _bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def raw(data: bytes) -> FileMaker:
    return lambda good: data


def saved(obj: object) -> FileMaker:
    return lambda good: _bytes(obj)


def cut(fraction: float) -> FileMaker:
    """The good checkpoint, truncated."""
    return lambda good: (b := _bytes(good))[: int(len(b) * fraction)]


def noise(n: int) -> FileMaker:
    return lambda good: bytes(random.Random(0).getrandbits(8) for _ in range(n))  # seeded: a stable message


def npz(**arrays: object) -> FileMaker:
    """An .npz file of these arrays (FID statistics as pytorch-fid writes them)."""

    def make(good: dict) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    return make


def edited(edit: Callable[[dict], object]) -> FileMaker:
    """The good checkpoint with ``edit(stored config)`` applied."""

    def make(good: dict) -> bytes:
        bad = copy.deepcopy(good)
        edit(bad["ganlab"]["config"])
        return _bytes(bad)

    return make


class Payload:
    """Unpickling it would create pwned.txt: a file that tries to run code while it is loaded."""

    def __reduce__(self):
        return (Path.write_text, (Path("pwned.txt"), "code ran"))


def crafted_hub_cache(case_dir: Path, argv: list[str]) -> None:
    """torch.hub's cache (TORCH_HOME=torch_home) holds a pickle payload where the Inception download would be."""
    from ganlab.metrics.extractors.inception import INCEPTION_FILE

    cached = case_dir / "torch_home" / "hub" / "checkpoints" / INCEPTION_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(_bytes({"w": Payload()}))


def corrupt_cache(case_dir: Path, argv: list[str]) -> None:
    """Fill the reference cache with one evaluation, then truncate its entries."""
    run(argv[:1] + [a.replace("{ckpt}", "good.ckpt") for a in argv[1:] if not a.startswith("out=")]
        + ["out=first.json"], case_dir)
    for entry in (case_dir / "cache").glob("*.pt"):
        entry.write_bytes(entry.read_bytes()[:200])


EVAL, SAMPLE, TRAIN = ["ganlab-eval", *FAST], ["ganlab-sample"], ["ganlab-train", "trainer.max_steps=2"]
TINY_DCGAN = ["generator=dcgan", "discriminator=dcgan", "generator.width=8", "discriminator.width=8"]
TORCHVISION = {"_target_": "ganlab.data.torchvision_sets.load_torchvision", "_partial_": True, "name": "mnist",
               "root": "downloads", "resolution": 32, "channels": 1, "split": "train", "download": True}
FOREIGN = {"_target_": "pathlib.Path.write_text", "self": "pwned.txt", "data": "code ran"}

CASES = [
    Case("CLI", "ganlab-eval without ckpt=", ["ganlab-eval"]),
    Case("CLI", "ganlab-sample without ckpt=", ["ganlab-sample"]),
    Case("CLI", "checkpoint file missing", [*EVAL, "ckpt=missing.ckpt"]),
    Case("checkpoint", "empty file", [*EVAL, "ckpt={bad}"], file=raw(b"")),
    Case("checkpoint", "truncated file (first half)", [*EVAL, "ckpt={bad}"], file=cut(0.5)),
    Case("checkpoint", "random bytes", [*EVAL, "ckpt={bad}"], file=noise(4096)),
    Case("checkpoint", "pickle payload (__reduce__ writes a file)", [*EVAL, "ckpt={bad}"],
         file=saved({"state_dict": {}, "ganlab": {"config": Payload()}})),
    Case("checkpoint", "a list", [*EVAL, "ckpt={bad}"], file=saved([1, 2, 3])),
    Case("checkpoint", "a tensor", [*EVAL, "ckpt={bad}"], file=saved(torch.zeros(3))),
    Case("checkpoint", "a dict without state_dict", [*EVAL, "ckpt={bad}"], file=saved({"epoch": 1})),
    Case("checkpoint", "stored generator config is an int", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c.update(generator=3))),
    Case("checkpoint", "foreign _target_ (generator)", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c.update(generator=FOREIGN))),
    Case("checkpoint", "foreign _target_ nested, _partial_", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["generator"].update(act={"_target_": "os.system", "_partial_": True}))),
    Case("checkpoint", "ganlab module that is not a component", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["generator"].update(_target_="ganlab.cli.train.main"))),
    Case("checkpoint", "allowed prefix reaching pathlib", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["generator"].update(_target_="ganlab.data.folder.Path.write_text"))),
    Case("checkpoint", "foreign _target_ (dataset.feature)", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["dataset"].update(feature=FOREIGN))),
    Case("checkpoint", "interpolation in the stored config", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["generator"].update(hidden="${oc.env:HOME}"))),
    Case("checkpoint", "weights do not fit the stored config", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["generator"].update(hidden=[16, 16]))),
    Case("checkpoint", "ganlab-sample, foreign _target_", [*SAMPLE, "ckpt={bad}", "out=grid.png"],
         file=edited(lambda c: c.update(generator=FOREIGN))),
    Case("CLI", "ganlab-sample onto earlier samples.png", [*SAMPLE, "ckpt={ckpt}"]),
    Case("checkpoint", "ganlab-export of a file that is not a checkpoint", ["ganlab-export", "ckpt={bad}",
                                                                             "format=onnx"], file=noise(4096)),
    Case("CLI", "ganlab-export in an unknown format", ["ganlab-export", "ckpt={ckpt}", "format=pickle"]),
    Case("statistics", "real.stats of another feature size", [*EVAL, "ckpt={ckpt}", "real.stats={bad}"],
         file=npz(mu=np.zeros(64), sigma=np.eye(64))),
    Case("statistics", "real.stats without mu and sigma", [*EVAL, "ckpt={ckpt}", "real.stats={bad}"],
         file=npz(mean=np.zeros(4))),
    Case("weights", "digit classifier weights: random bytes", [*EVAL, "ckpt={ckpt}", "feature=digits",
         "feature.weights={bad}"], file=noise(2048)),
    Case("weights", "Inception weights: a list", [*EVAL, "ckpt={ckpt}", "feature=inception",
         "paths.inception_weights={bad}"], file=saved([1, 2])),
    Case("cache", "truncated reference-feature cache entry", [*EVAL, "ckpt={ckpt}", "out=second.json"],
         expect="warning", setup=corrupt_cache),
    Case("data", "image folder missing", [*TRAIN, "dataset=folder", "dataset.source.path=no_such_folder"]),
    Case("config", "seed is not a number", [*TRAIN, "seed=abc"]),
    Case("config", "unknown logger", [*TRAIN, "logger=[tensorboard,comet]"]),
    Case("config", "one evaluation sample", [*TRAIN, "metrics.num_samples=1"]),
    Case("config", "fewer evaluation samples than DDP processes",
         [*TRAIN, "trainer=ddp", "trainer.devices=5", "metrics.num_samples=4", "metrics.batch_size=4"]),
    Case("config", "per-network DDP asked to search for unused parameters",
         [*TRAIN, "trainer=ddp", "+trainer.strategy.find_unused_parameters=true"]),
    Case("config", "G resolution differs from the data's", [*TRAIN, "generator.resolution=64"]),
    Case("config", "batch does not split into PacGAN packs", [*TRAIN, "pack=3"]),
    Case("config", "simultaneous game with several D steps", [*TRAIN, "game=simultaneous", "game.n_critic=2"]),
    Case("config", "EMA decay out of range", [*TRAIN, "ema.decay=2"]),
    Case("config", "schedule of a hyperparameter the run does not have",
         [*TRAIN, "+schedules.gamma={target:regularizers.r1.gamma,start:1}"]),
    Case("config", "unrolled game with zero look-ahead steps", [*TRAIN, "game=unrolled", "game.unroll.steps=0"]),
    Case("config", "unrolled game with an optimizer it cannot replay",
         [*TRAIN, "game=unrolled", "+optim.d.amsgrad=true"]),
    Case("config", "toy 2-D data with FID", [*TRAIN, "dataset=ring", "generator.out_activation=none"]),
    Case("config", "DCGAN at a resolution that is not a power of two",
         [*TRAIN, "generator=dcgan", "discriminator=dcgan", "dataset.resolution=28"]),
    Case("resume", "ckpt_path missing", [*TRAIN, "ckpt_path=missing.ckpt"]),
    Case("resume", "ckpt_path of another architecture", [*TRAIN, "ckpt_path={ckpt}", "generator.hidden=[8,8]"]),
    Case("run dir", "hydra.run.dir is a folder that already holds files", [*TRAIN, "hydra.run.dir=."]),
    Case("fine-tuning", "init_from of another architecture", [*TRAIN, "init_from={ckpt}"]),
    Case("fine-tuning", "FreezeD with more blocks than D has", [*TRAIN, "freeze.d_blocks=4"]),
    Case("config", "gradient accumulation over zero micro-batches", [*TRAIN, "optim.accumulate=0"]),
    Case("config", "accumulation that does not divide the batch", [*TRAIN, "optim.accumulate=3"]),
    Case("sampling", "truncation.psi of 0", [*EVAL, "ckpt={ckpt}", "truncation.psi=0"]),
    Case("sampling", "a truncation sweep with psi above 1", [*EVAL, "ckpt={ckpt}", "truncation.psi=[1.0,1.5]"]),
    Case("sampling", "truncation.threshold of 0", [*SAMPLE, "ckpt={ckpt}", "truncation.threshold=0"]),
    # the checks before work (ganlab/checks): domains, +keys, required values, the built objects
    Case("config", "negative learning rate", [*TRAIN, "optim.g.lr=-1e-4"]),
    Case("config", "a value past its documented range", [*TRAIN, "optim.beta1=1.5"]),
    Case("config", "a string where a number is expected", [*TRAIN, "health.every_n_steps=often"]),
    Case("config", "a name that is not an option", [*TRAIN, "generator.activation=gelu"]),
    Case("config", "an optimizer argument Adam does not take", [*TRAIN, "+optim.g.foo=1"]),
    Case("config", "typo in a group added with +", [*TRAIN, "+regularizer=r1"]),
    Case("config", "a key that does not exist (without +)", [*TRAIN, "lss=hinge"]),
    Case("config", "an option a group does not have", [*TRAIN, "loss=nope"]),
    Case("config", "metrics on, but no evaluation batch", [*TRAIN, "metrics.limit_val_batches=0"]),

    Case("data", "batch larger than the data", [*TRAIN, "dataset.batch_size=8000"]),
    Case("data", "image folder dataset without a path", [*TRAIN, "dataset=folder"]),
    Case("training", "diverges (non-finite loss)", [*TRAIN, "optim.g.lr=1e10", "optim.d.lr=1e10",
                                                     "trainer.log_every_n_steps=1", "metrics=none"]),
    Case("training", "an error no check foresees (a callback that raises)",
         [*TRAIN, "+callbacks.boom._target_=helpers.Boom", "metrics=none", "hydra.run.dir=run"]),
    Case("together", "gradient penalty with BatchNorm in D", [*TRAIN, "+regularizers=r1", *TINY_DCGAN, "metrics=none"],
         expect="warning"),
    Case("together", "Wasserstein loss without a Lipschitz constraint",
         [*TRAIN, "loss=wasserstein", "~regularizers.clip", "metrics=none"], expect="warning"),
    Case("together", "evaluation every N steps in a shorter run", [*TRAIN, "metrics.every_n_steps=100"],
         expect="warning"),
    Case("together", "best.ckpt kept in the wrong direction for its metric",
         [*TRAIN, "callbacks.model_checkpoint.mode=max", "metrics.every_n_steps=2", "metrics.num_samples=200",
          "metrics.batch_size=100"], expect="warning"),
    # reads: files from elsewhere are data
    Case("checkpoint", "stored dataset source asks for a download", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["dataset"].update(name="mnist", source=TORCHVISION))),
    Case("checkpoint", "stored dataset source names a function that is not a factory", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["dataset"].update(source={"_target_": "ganlab.data.folder.scan_folder",
                                                           "_partial_": True, "path": "/"}))),
    Case("checkpoint", "stored dataset source with an argument its factory does not take", [*EVAL, "ckpt={bad}"],
         file=edited(lambda c: c["dataset"]["source"].update(cache="/tmp/x"))),
    Case("weights", "Inception weights in torch.hub's cache are a pickle payload",
         [*EVAL, "ckpt={ckpt}", "feature=inception"], setup=crafted_hub_cache, env={"TORCH_HOME": "{case}/torch_home"}),
]


@lru_cache(maxsize=1)
def good_checkpoint() -> dict:
    """A checkpoint laid out as ganlab-train writes it (tiny MLP G, mnist5k), made without training."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from ganlab.config import compose

    cfg = compose(["generator.hidden=[32,64]", "discriminator.hidden=[64,32]", "paths.output_dir=."])
    config = OmegaConf.to_container(cfg, resolve=True)
    config = {k: config[k] for k in ("generator", "dataset", "seed")}  # what ganlab-eval and ganlab-sample read
    torch.manual_seed(0)
    g = instantiate(config["generator"])
    state = {f"generator.{k}": v for k, v in g.state_dict().items()}
    return {"state_dict": state, "global_step": 0, "ganlab": {"config": config}}


def run(argv: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HYDRA_FULL_ERROR="0")
    env.update({k: v.replace("{case}", str(cwd)) for k, v in (extra_env or {}).items()})
    # tests/ for the test-only callback of the unexpected-error case (helpers.Boom)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", TOOLS[argv[0]], *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _snapshot(folder: Path) -> dict[str, str]:
    """Hashes of the folder's files; the reference cache is not an output (a damaged entry is replaced)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).parts[0] != "cache"}


def run_case(case: Case, folder: Path) -> Result:
    """Run ``case`` in the empty folder ``folder``."""
    for name, data in EARLIER.items():
        (folder / name).write_bytes(data)
    argv = [a.replace("{bad}", "bad.ckpt").replace("{ckpt}", "good.ckpt") for a in case.argv]
    if any("{ckpt}" in a for a in case.argv):
        (folder / "good.ckpt").write_bytes(_bytes(good_checkpoint()))
    if case.file is not None:
        (folder / "bad.ckpt").write_bytes(case.file(good_checkpoint()))
    if case.setup is not None:
        case.setup(folder, case.argv)
    before = _snapshot(folder)
    proc = run(argv, folder, case.env)
    after = _snapshot(folder)
    lines = proc.stderr.strip().splitlines()
    if case.expect == "warning":
        found = [ln for ln in (proc.stdout + proc.stderr).splitlines() if re.search(r"(?i)\bwarning\b|discard", ln)]
        message = found[0].split(" - ", 1)[-1] if found else "(no warning)"
        if (folder / "first.json").is_file() and (folder / "second.json").is_file():  # the corrupt_cache case
            same = [json.loads((folder / f).read_text())["evaluations"][0]["metrics"]
                    for f in ("first.json", "second.json")]
            message += " (metrics then equal the clean run's)" if same[0] == same[1] else " (METRICS DIFFER)"
    else:
        message = lines[-1] if lines else "(no message)"
    unchanged = all(after.get(name) == digest for name, digest in before.items())
    return Result(proc.returncode, proc.stderr, message, unchanged, sorted(set(after) - set(before)))


def _command(case: Case) -> str:
    shown = [a for a in case.argv if a not in FAST and a != "trainer.max_steps=2"]
    return "`" + " ".join(a.replace("{bad}", "bad.ckpt").replace("{ckpt}", "good.ckpt") for a in shown) + "`"


def table(cases: list[Case]) -> str:
    rows = ["| area | bad input | command | exit | message | earlier files |", "| --- | --- | --- | --- | --- | --- |"]
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="ganlab-bad-input-") as tmp:
            r = run_case(case, Path(tmp))
        earlier = "unchanged" if r.unchanged else "**CHANGED**"
        if r.new_files and case.expect == "error" and case.argv[0] != "ganlab-train":
            earlier += f"; new: {', '.join(r.new_files[:3])}"
        message = r.message.replace(tmp, "<tmp>").replace("|", "\\|")
        rows.append(f"| {case.area} | {case.what} | {_command(case)} | {r.returncode} | {message} | {earlier} |")
        print(f"  {case.what}: exit {r.returncode}", file=sys.stderr)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run the cases whose description contains this")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or any(o in c.what for o in args.only)]
    print(table(cases))


if __name__ == "__main__":
    main()
