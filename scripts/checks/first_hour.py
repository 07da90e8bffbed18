"""Replay a new user's first hour with tiny budgets; exit non-zero, with a one-line reason, on any failure.

    python scripts/checks/first_hour.py                  # this checkout, in a temporary folder with an empty home
    python scripts/checks/first_hour.py --fresh-venv     # first: a new venv and `pip install -e ".[dev]"` (slow)
    python scripts/checks/first_hour.py --cpu            # the same by the CPU-only path of docs/install.md
    python scripts/checks/first_hour.py --keep --workdir /tmp/first-hour   # keep the runs to look at

Steps: (optionally) the install; `--help`, `--cfg job` and a typo answered fast and in one line; the quick
start (`ganlab-train debug=fast`); a dozen cookbook commands from README.md and docs/ at `debug=fast`
size (losses, games, regularizers, EMA and augmentation, conditional, PacGAN, a 2-D toy set, a preset, a
seed sweep, resume by checkpoint and by `resume=auto`, `ganlab-eval`, `ganlab-sample`); TensorBoard
started on a free port and asked over its HTTP API for the scalars, images, config text and HParams of the
quick-start run; `ganlab-compare` over the runs. A summary table of step, seconds and ok closes the run.

Without ``--fresh-venv`` the commands run as ``python -m ganlab.cli.NAME`` with this checkout first on
PYTHONPATH; with it, as the venv's console scripts (``ganlab-train`` ...). HOME points at an empty folder,
so caches (reference features) start empty as on a new machine. OMP_NUM_THREADS is passed on only when set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the repository
TINY = ["debug=fast", "metrics.num_samples=200", "metrics.batch_size=100"]


class StepFailed(Exception):
    """A step's one-line reason."""


@dataclass
class Result:
    name: str
    seconds: float
    ok: bool
    note: str = ""


class Walkthrough:
    """Runs the steps in ``workdir``; ``tool(name)`` is the command that starts a ganlab tool."""

    def __init__(self, workdir: Path, python: str, console_scripts: Path | None, timeout: int) -> None:
        self.workdir, self.python, self.scripts, self.timeout = workdir, python, console_scripts, timeout
        self.results: list[Result] = []
        self.env = {k: v for k, v in os.environ.items() if k not in ("GANLAB_CACHE", "PYTHONPATH")}
        self.env.update(HOME=str(workdir / "home"), HYDRA_FULL_ERROR="0", MPLBACKEND="Agg")
        if console_scripts is None:
            self.env["PYTHONPATH"] = str(ROOT)
        (workdir / "home").mkdir(parents=True, exist_ok=True)

    def tool(self, name: str) -> list[str]:
        module = {"train": "train", "eval": "evaluate", "sample": "sample", "compare": "compare"}[name]
        if self.scripts is not None:
            return [str(self.scripts / f"ganlab-{name}")]
        return [self.python, "-m", f"ganlab.cli.{module}"]

    def run(self, cmd: list[str], expect: int = 0, timeout: int | None = None) -> str:
        """Run ``cmd`` in the workdir; its output, or StepFailed with the last line of its errors."""
        try:
            proc = subprocess.run(cmd, cwd=self.workdir, env=self.env, capture_output=True, text=True,
                                  timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired as e:
            raise StepFailed(f"timed out after {e.timeout:.0f} s: {' '.join(cmd[-4:])}") from e
        out = proc.stdout + proc.stderr
        (self.workdir / "logs").mkdir(exist_ok=True)
        with (self.workdir / "logs" / "commands.log").open("a") as f:
            f.write(f"$ {' '.join(cmd)}\n{out}\n[exit {proc.returncode}]\n\n")
        if proc.returncode != expect:
            last = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["(no output)"]
            raise StepFailed(f"exit {proc.returncode} (expected {expect}): {last[-1][:200]}")
        return out

    def step(self, name: str, action: Callable[[], str | None]) -> None:
        start = time.perf_counter()
        try:
            note = action() or ""
            self.results.append(Result(name, time.perf_counter() - start, True, note))
        except StepFailed as e:
            self.results.append(Result(name, time.perf_counter() - start, False, str(e)))
        r = self.results[-1]
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.seconds:7.1f} s  {name}{'  (' + r.note + ')' if r.note else ''}",
              flush=True)

    # ------------------------------------------------------------------ the steps
    def train(self, run: str, *overrides: str, expect: int = 0) -> str:
        return self.run([*self.tool("train"), *overrides, f"hydra.run.dir=outputs/{run}"], expect=expect)

    def check_run(self, run: str, steps: int) -> str:
        """The run's last checkpoint is at ``steps`` and it wrote its final sample grid."""
        path = self.workdir / "outputs" / run
        grids = sorted((path / "samples").glob("samples_*.png"))
        if not (path / "checkpoints" / "last.ckpt").is_file():
            raise StepFailed(f"{run}: no checkpoints/last.ckpt")
        if grids and grids[-1].name != f"samples_{steps:07d}.png":
            raise StepFailed(f"{run}: last sample grid {grids[-1].name}, expected samples_{steps:07d}.png")
        return f"{len(grids)} grid(s)" if grids else "no image grid (2-D data)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: dict | None = None, timeout: float = 30) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read())


def tensorboard(w: Walkthrough, run: str) -> str:
    """Start TensorBoard on a free port; ask its HTTP API for the quick-start run's scalars, images, text, hparams."""
    port = free_port()
    python = str(w.scripts / "python") if w.scripts else w.python
    cmd = [python, "-m", "tensorboard.main", "--logdir", str(w.workdir / "outputs"), "--port", str(port),
           "--host", "127.0.0.1"]
    log = (w.workdir / "logs" / "tensorboard.log").open("w")
    proc = subprocess.Popen(cmd, cwd=w.workdir, env=w.env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                runs = http(f"{base}/data/runs")
                if any(r.startswith(run) for r in runs):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StepFailed(f"TensorBoard did not answer on port {port} (see logs/tensorboard.log)")
            time.sleep(1)
        key = f"{run}/tensorboard"
        scalars = http(f"{base}/data/plugin/scalars/tags").get(key, {})
        images = http(f"{base}/data/plugin/images/tags").get(key, {})
        text = http(f"{base}/data/plugin/text/tags").get(key, [])
        hparams = http(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        missing = [t for t in ("train/d_loss", "train/g_loss", "val/fid") if t not in scalars]
        missing += [t for t in ("samples", "real") if t not in images]
        missing += [] if any(t.startswith("config") for t in text) else ["config text"]  # config/text_summary
        if not hparams.get("hparamInfos"):
            missing.append("hparams")
        if missing:
            raise StepFailed(f"TensorBoard lacks {', '.join(missing)} for {key}")
        points = http(f"{base}/data/plugin/scalars/scalars?run={key}&tag=train/d_loss")
        return (f"{len(scalars)} scalar tags, {len(images)} image tags, {len(hparams['hparamInfos'])} hparams; "
                f"train/d_loss at steps {[p[1] for p in points][:3]}...")
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # docs/install.md, "CPU-only machines"


def fresh_venv(workdir: Path, cpu_index: str | None = None) -> tuple[str, Path, float]:
    """A new venv with ganlab installed as the README says (first the CPU builds of torch and torchvision from
    ``cpu_index``, as docs/install.md says, when given); its python, its scripts folder and its size in GiB."""
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    steps = [[*pip, "-e", f"{ROOT}[dev]"]]
    if cpu_index:
        steps.insert(0, [*pip, "torch>=2.2,<=2.14.1", "torchvision>=0.17,<=0.29.1", "--index-url", cpu_index])
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            raise StepFailed(f"{' '.join(cmd[3:])} failed: {last}")
    if cpu_index:  # the CPU path is only worth its name if no CUDA torch came back with ganlab's requirements
        check = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__); "
                                "import torchvision"], capture_output=True, text=True)
        version = check.stdout.strip()
        if check.returncode:
            raise StepFailed(f"CPU path: torch {version} installed, but `import torchvision` failed: "
                             f"{check.stderr.strip().splitlines()[-1]} (torchvision must come from the same index)")
        if "+cpu" not in version:
            raise StepFailed(f"CPU path: torch {version} installed, not a CPU build (+cpu)")
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink()) / 2**30
    return str(venv / "bin" / "python"), venv / "bin", size


def walk(w: Walkthrough) -> None:
    tiny_mlp = ["generator.hidden=[64,128]", "discriminator.hidden=[128,64]"]

    def fast(cmd: list[str], limit: float, expect: int = 0, contains: str = "") -> Callable[[], str]:
        def action() -> str:
            start = time.perf_counter()
            out = w.run(cmd, expect=expect)
            seconds = time.perf_counter() - start
            if contains and contains not in out:
                raise StepFailed(f"output lacks {contains!r}")
            return f"{seconds:.1f} s" + (f", over the {limit:.0f} s goal" if seconds > limit else "")
        return action

    w.step("ganlab-train --help", fast([*w.tool("train"), "--help"], 3, contains="== Configuration groups =="))
    # the default run's length, as its recipe (the default experiment) sets it
    steps = yaml.safe_load((ROOT / "conf" / "experiment" / "mlp_mnist5k.yaml").read_text())["trainer"]["max_steps"]
    w.step("ganlab-train --cfg job", fast([*w.tool("train"), "--cfg", "job"], 3, contains=f"max_steps: {steps}"))
    w.step("ganlab-train lss=hinge (typo: one line)",
           fast([*w.tool("train"), "lss=hinge", "hydra.run.dir=outputs/typo"], 3, expect=1))
    w.step("ganlab-train generator.resolution=64 (one line)",
           fast([*w.tool("train"), "generator.resolution=64", "hydra.run.dir=outputs/bad"], 3, expect=1,
                contains="ganlab-train: error: generator.resolution=64 does not match"))

    # the quick start: a 20-step check of the setup with every output kind
    w.step("quick start: ganlab-train debug=fast",
           lambda: (w.train("quick", "debug=fast"), w.check_run("quick", 20))[1])

    cookbook = {  # README.md / docs/*.md commands at debug=fast size (name -> overrides)
        "loss=hinge generator=dcgan discriminator=dcgan": ["loss=hinge", "generator=dcgan", "discriminator=dcgan"],
        "loss=wasserstein optim=rmsprop": ["loss=wasserstein", "optim=rmsprop", *tiny_mlp],
        "loss=wgan_gp": ["loss=wgan_gp", *tiny_mlp],
        "game=unrolled game.unroll.steps=2": ["game=unrolled", "game.unroll.steps=2", *tiny_mlp],
        "+regularizers=[r1,bcr]": ["+regularizers=[r1,bcr]", *tiny_mlp],
        "ema.decay=0.999 augment=diffaugment": ["ema.decay=0.999", "augment=diffaugment", *tiny_mlp],
        "conditional=projection": ["conditional=projection", *tiny_mlp],
        "pack=2": ["pack=2", *tiny_mlp],
        "dataset=ring metrics=modes": ["dataset=ring", "generator.out_activation=none", "metrics=modes"],
        "experiment=dcgan_mnist5k": ["experiment=dcgan_mnist5k"],
    }
    for i, (name, overrides) in enumerate(cookbook.items()):
        run = f"cookbook{i:02d}"
        w.step(f"ganlab-train {name}", lambda r=run, o=overrides: (w.train(r, *TINY, *o), w.check_run(r, 20))[1])

    def sweep() -> str:
        w.run([*w.tool("train"), "-m", *TINY, *tiny_mlp, "seed=0,1", "hydra.sweep.dir=outputs/sweep"])
        runs = json.loads((w.workdir / "outputs" / "sweep" / "summary.json").read_text())["runs"]
        bad = [r["run"] for r in runs if r.get("status") in ("failed", "unknown")]
        if len(runs) != 2 or bad:
            raise StepFailed(f"summary.json lists {len(runs)} runs, not finished: {bad}")
        return "2 runs in summary.json"
    w.step("ganlab-train -m seed=0,1 (sweep)", sweep)

    def resume() -> str:
        out = w.train("resumed", *TINY, "trainer.max_steps=30", "ckpt_path=outputs/quick/checkpoints/last.ckpt")
        if "Training for 10 more steps (resuming at step 20 of 30" not in out:
            raise StepFailed("no 'Training for 10 more steps' line")
        return w.check_run("resumed", 30)
    w.step("resume: ckpt_path=... trainer.max_steps=30", resume)

    def resume_auto() -> str:
        w.run([*w.tool("train"), *TINY, *tiny_mlp, "trainer.max_steps=10", "hydra.run.dir=outputs/auto"])
        out = w.run([*w.tool("train"), *TINY, *tiny_mlp, "trainer.max_steps=16", "resume=auto",
                     "hydra.run.dir=outputs/auto"])
        if "resuming at step 10 of 16" not in out:
            raise StepFailed("resume=auto did not continue at step 10")
        return w.check_run("auto", 16)
    w.step("resume=auto", resume_auto)

    def evaluate() -> str:
        w.run([*w.tool("eval"), "ckpt=outputs/quick/checkpoints/last.ckpt", "num_samples=500", "metrics=[fid,kid]",
               "kid.subset_size=100"])
        record = json.loads((w.workdir / "outputs/quick/checkpoints/metrics.json").read_text())["evaluations"][-1]
        return f"fid {record['metrics']['fid']:.1f}"
    w.step("ganlab-eval ckpt=... num_samples=500", evaluate)

    def sample() -> str:
        w.run([*w.tool("sample"), "ckpt=outputs/quick/checkpoints/last.ckpt", "out=outputs/quick_samples.png"])
        if not (w.workdir / "outputs" / "quick_samples.png").is_file():
            raise StepFailed("no grid written")
        return "grid, files and interpolation strip"
    w.step("ganlab-sample ckpt=...", sample)

    w.step("TensorBoard HTTP API: scalars, images, text, hparams", lambda: tensorboard(w, "quick"))

    def compare() -> str:
        out = w.run([*w.tool("compare"), "outputs", "--plot", "val/fid", "--out", "outputs/plots"])
        rows = [ln for ln in out.splitlines() if "quick" in ln or "cookbook" in ln]
        if not rows:
            raise StepFailed("the table lists none of the runs")
        return f"{len(out.splitlines())} lines, widest {max(len(ln) for ln in out.splitlines())} columns"
    w.step("ganlab-compare outputs --plot val/fid", compare)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh-venv", action="store_true", help="install into a new venv first (minutes, GBs)")
    parser.add_argument("--cpu", action="store_true", help="--fresh-venv by docs/install.md's CPU-only path")
    parser.add_argument("--cpu-index", default=CPU_INDEX, help="the CPU wheel index for --cpu")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (always kept on failure)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one command may take")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ganlab-first-hour-"))
    workdir.mkdir(parents=True, exist_ok=True)
    python, scripts = sys.executable, None
    start = time.perf_counter()
    if args.fresh_venv or args.cpu:
        name = "fresh venv: " + ("CPU torch + " if args.cpu else "") + "pip install -e .[dev]"
        t = time.perf_counter()
        try:
            python, scripts, size = fresh_venv(workdir, args.cpu_index if args.cpu else None)
            install = Result(f"{name} ({size:.1f} GiB)", time.perf_counter() - t, True)
        except (StepFailed, subprocess.CalledProcessError) as e:
            install = Result(name, time.perf_counter() - t, False, str(e))
    w = Walkthrough(workdir, python, scripts, args.timeout)
    if args.fresh_venv or args.cpu:
        w.results.append(install)
    if all(r.ok for r in w.results):
        walk(w)
    print(f"\n{'step':<58} {'seconds':>8}  ok")
    for r in w.results:
        print(f"{r.name[:58]:<58} {r.seconds:>8.1f}  {'yes' if r.ok else 'NO'}")
    failed = [r for r in w.results if not r.ok]
    print(f"{len(w.results) - len(failed)} passed, {len(failed)} failed in {time.perf_counter() - start:.0f} s "
          f"(runs and logs in {workdir})" if args.keep or failed else
          f"{len(w.results) - len(failed)} passed, {len(failed)} failed in {time.perf_counter() - start:.0f} s")
    if not (args.keep or failed or args.workdir):
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print(f"first_hour: {failed[0].name}: {failed[0].note}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
