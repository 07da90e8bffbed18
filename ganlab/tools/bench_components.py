"""What each part of ganlab's training step costs: every default component switched off in turn, beside two references.

For one benchmark case (``ganlab.tools.bench.CASES``) each round runs, as separate short ``Trainer.fit`` runs:

- ``ganlab``: the run with every default (callbacks, logger, health monitor, evaluation, EMA, ...);
- ``bare``: a bare LightningModule with manual optimization doing the plain loop's arithmetic, no callbacks, no
  logger: what Lightning itself costs, which ganlab cannot remove;
- ``no_<component>``: the ganlab run with one component switched off (``COMPONENTS``).

Every run has the plain loop (``ganlab.tools.bench.PlainLoop``) interleaved step by step, so each run's step time is
read as a ratio to the plain step measured beside it, and drifts in machine speed between runs cancel. The order of
the runs rotates between rounds. A component's cost is the ganlab run's ratio less the run without it, times the plain
step. Results records (one per invocation) go to ``benchmarks/results/<study>/``;
``ganlab.results.views.bench`` renders them (the median of the invocations, with their range) as the tables of
benchmarks/README.md (views ``components``, ``component_ratios``, ``default_run_time``).
"""

from __future__ import annotations

import datetime
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from ganlab import console
from ganlab.tools.bench import CASES, PlainLoop, StepTimer, compose_case, fit_ganlab, time_ganlab

# component -> (label in the table, overrides that switch it off)
COMPONENTS: dict[str, tuple[str, list[str]]] = {
    "checkpoint": ("checkpoint policy", ["~callbacks.model_checkpoint"]),
    "health": ("health monitor", ["health=none"]),
    "samples": ("sample grids", ["~callbacks.samples"]),
    "evaluation": ("evaluation (FID callback)", ["metrics=none"]),
    "progress": ("progress bar", ["~callbacks.progress_bar"]),
    "run_info": ("run info", ["~callbacks.run_info"]),
    "divergence": ("divergence guard", ["~callbacks.divergence"]),
    "logging": ("logging (TensorBoard logger)", ["~logger"]),
    "schedules": ("schedules (hyperparameters, LR schedulers)",
                  ["model.schedules.entries={}", "optim.g_scheduler=null", "optim.d_scheduler=null"]),
    "ema": ("EMA of G", ["ema.decay=null", "ema.half_life_images=null"]),
}


class _Endless:
    """The plain loop's data path for Lightning: one gathered real batch [n_critic * N, ...] per training step."""

    def __init__(self, plain: PlainLoop) -> None:
        self.plain = plain

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            yield self.plain.real_batch()


class BareModule(pl.LightningModule):
    """The plain loop's arithmetic (``PlainLoop.iterate``) as a LightningModule with manual optimization."""

    def __init__(self, plain: PlainLoop) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.plain = plain
        self.generator, self.discriminator = plain.generator, plain.discriminator

    def configure_optimizers(self):
        return [self.plain.opt_g, self.plain.opt_d]

    def training_step(self, batch: Tensor, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        self.plain.iterate(batch, opt_g, opt_d, self.manual_backward)


def fit_bare(cfg: DictConfig, probe: pl.Callback, steps: int, device: torch.device) -> pl.Trainer:
    """``steps`` game iterations of the bare LightningModule (no callback but ``probe``, no logger)."""
    plain = PlainLoop(cfg, device)
    # Lightning counts every optimizer step of manual optimization: n_critic D steps + 1 G step per iteration
    trainer = pl.Trainer(accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                         precision=cfg.trainer.precision, max_steps=steps * (plain.n_critic + 1),
                         max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[probe], num_sanity_val_steps=0,
                         default_root_dir=cfg.paths.output_dir)
    trainer.fit(BareModule(plain), train_dataloaders=_Endless(plain))
    return trainer


def time_bare(cfg: DictConfig, steps: int, warmup: int, device: torch.device,
              clock: Callable[[], float] = time.perf_counter) -> tuple[list[float], list[float]]:
    """Per-step seconds of the bare LightningModule and of the interleaved plain loop (after warm-up)."""
    timer = StepTimer(device, PlainLoop(cfg, device, clock), clock)
    fit_bare(cfg, timer, warmup + steps, device)
    return timer.steps[warmup - 1:], timer.plain_steps[warmup:]


class _AtenOps(TorchDispatchMode):
    """Counts the aten operations run under it (forward, backward and optimizer kernels alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


class Counts:
    """Python function calls (``sys.setprofile`` call events) and aten operations between ``start`` and ``stop``:
    the same numbers on any machine under any load, unlike times."""

    def start(self) -> None:
        self.calls = 0
        self.ops = _AtenOps()

        def profile(frame, event, arg) -> None:
            if event == "call":
                self.calls += 1

        self.ops.__enter__()
        sys.setprofile(profile)

    def stop(self) -> None:
        sys.setprofile(None)
        self.ops.__exit__(None, None, None)


class StepCounts(pl.Callback):
    """``Counts`` over ``steps`` training steps after ``warmup``, from the end of one step to the end of another, so
    the window holds every per-step piece once per step (Lightning's bookkeeping and the batch fetch included)."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps, self.seen, self.counts = warmup, steps, 0, Counts()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        if self.seen == self.warmup:
            self.counts.start()
        elif self.seen == self.warmup + self.steps:
            self.counts.stop()

    def per_step(self) -> dict[str, float]:
        return {"calls": self.counts.calls / self.steps, "ops": self.counts.ops.count / self.steps}


def count_run(name: str, cfg: DictConfig, reference: DictConfig, warmup: int, steps: int,
              device: torch.device) -> dict[str, float]:
    """Python calls and aten ops per step of one run (``ganlab``, ``bare``, ``plain`` or ``no_<component>``), over
    ``steps`` steps after ``warmup`` (steps 4 to 23 hold no logging step: every 50 steps)."""
    if name == "plain":
        plain, counts = PlainLoop(reference, device), Counts()
        for _ in range(warmup):
            plain.step()
        counts.start()
        for _ in range(steps):
            plain.step()
        counts.stop()
        return {"calls": counts.calls / steps, "ops": counts.ops.count / steps}
    probe = StepCounts(warmup, steps)
    if name == "bare":
        fit_bare(reference, probe, warmup + steps + 1, device)
    else:
        fit_ganlab(cfg, probe, warmup + steps + 1)
    return probe.per_step()


def _key(override: str) -> str:
    return override.lstrip("~+").split("=", 1)[0]


def variant_configs(case: str, extra: Sequence[str], out: Path, device: torch.device,
                    components: Sequence[str] = tuple(COMPONENTS)) -> tuple[DictConfig, dict[str, DictConfig | None]]:
    """The case's full config and, per component, the config with it switched off (None: not on in this case)."""
    overrides, _ = CASES[case]
    accel = "gpu" if device.type == "cuda" else "cpu"
    base = [*overrides, f"trainer.accelerator={accel}", *extra]
    full = compose_case(base, out / case)
    resolved = OmegaConf.to_container(full, resolve=True)
    variants: dict[str, DictConfig | None] = {}
    for name in components:
        off = COMPONENTS[name][1]
        keys = {_key(o) for o in off}
        cfg = compose_case([o for o in base if _key(o) not in keys] + off, out / case)
        variants[name] = None if OmegaConf.to_container(cfg, resolve=True) == resolved else cfg
    return full, variants


def _ratios(step_s: list[float], plain_s: list[float]) -> dict[str, float]:
    """One run's readings: medians (the typical step; logging steps left out) and means (their share included)."""
    m, p = statistics.median(step_s), statistics.median(plain_s)
    mean, plain_mean = statistics.fmean(step_s), statistics.fmean(plain_s)
    return {"ms": m * 1000, "plain_ms": p * 1000, "ratio": m / p, "mean_ms": mean * 1000,
            "plain_mean_ms": plain_mean * 1000, "mean_ratio": mean / plain_mean}


def run_components(case: str, extra: Sequence[str], rounds: int, warmup: int, device: torch.device, out: Path,
                   steps: int | None = None, clock: Callable[[], float] = time.perf_counter,
                   components: Sequence[str] = tuple(COMPONENTS), log: Callable[[str], None] = print,
                   count_steps: int = 20) -> dict:
    """``rounds`` rounds of the ganlab run, the bare LightningModule and each ``no_<component>`` run, each with the
    plain loop interleaved, then one counting run of each (``count_steps`` steps; 0: none); returns the per-run
    readings (``raw``) and the case's summary (``summary``)."""
    steps = steps or CASES[case][1]
    console.configure(verbose=False)  # as ganlab-train runs: Lightning's notices filtered
    full, variants = variant_configs(case, extra, out, device, components)
    runs: dict[str, DictConfig | None] = {"ganlab": full, "bare": full,
                                          **{f"no_{k}": v for k, v in variants.items() if v is not None}}
    raw: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:  # rotated: no run always follows another
            if name == "bare":
                step_s, plain_s = time_bare(runs[name], steps, warmup, device, clock)
            else:
                step_s, plain_s, _ = time_ganlab(runs[name], steps, warmup, device, clock=clock, reference=full)
            raw[name].append(_ratios(step_s, plain_s))
        log(f"{case}: round {r + 1}/{rounds}: " + ", ".join(f"{n} {raw[n][-1]['ratio']:.3f}" for n in order))
    summary = summarize(raw) if rounds else {}  # rounds=0: the counts only
    if count_steps:  # Python calls and aten ops per step (deterministic: once per run), steps 4 to 3 + count_steps
        summary["counts"] = {name: count_run(name, cfg, full, 3, count_steps, device)
                             for name, cfg in {"plain": full, **runs}.items()}
    summary["not_on"] = [k for k, v in variants.items() if v is None]
    summary["batch"] = full.dataset.batch_size
    return {"raw": raw, "summary": summary}


def summarize(raw: dict[str, list[dict[str, float]]]) -> dict:
    """Per-run ratios to the plain step -> ms/step per run, each component's cost, ganlab / plain and / bare.

    ``*_ms`` are typical steps (medians: logging steps left out), ``*_mean_ms`` include the logging steps' share
    (means over the timed steps, which hold whole logging periods for the MLP cases)."""
    plain_ms = statistics.median(x["plain_ms"] for runs in raw.values() for x in runs)
    plain_mean_ms = statistics.median(x["plain_mean_ms"] for runs in raw.values() for x in runs)
    full = [x["ratio"] for x in raw["ganlab"]]
    out: dict = {"plain_ms": plain_ms, "plain_mean_ms": plain_mean_ms, "ratio_plain": statistics.median(full),
                 "ratio_plain_range": [min(full), max(full)],
                 "mean_ratio_plain": statistics.median(x["mean_ratio"] for x in raw["ganlab"])}
    for name, runs in raw.items():
        out[f"{name}_ms"] = statistics.median(x["ratio"] for x in runs) * plain_ms
        out[f"{name}_mean_ms"] = statistics.median(x["mean_ratio"] for x in runs) * plain_mean_ms
    per_round = [g["ratio"] / b["ratio"] for g, b in zip(raw["ganlab"], raw["bare"], strict=True)]
    out["ratio_bare"], out["ratio_bare_range"] = statistics.median(per_round), [min(per_round), max(per_round)]
    out["mean_ratio_bare"] = statistics.median(
        g["mean_ratio"] / b["mean_ratio"] for g, b in zip(raw["ganlab"], raw["bare"], strict=True))
    out["costs"] = {}
    for name in raw:
        if name.startswith("no_"):
            pairs = list(zip(raw["ganlab"], raw[name], strict=True))
            diffs = [(g["ratio"] - v["ratio"]) * plain_ms for g, v in pairs]
            mean_diffs = [(g["mean_ratio"] - v["mean_ratio"]) * plain_mean_ms for g, v in pairs]
            cost, mean_cost = statistics.median(diffs), statistics.median(mean_diffs)
            out["costs"][name[3:]] = {"ms": cost, "share": cost / out["ganlab_ms"],
                                      "range_ms": [min(diffs), max(diffs)], "mean_ms": mean_cost,
                                      "mean_share": mean_cost / out["ganlab_mean_ms"]}
    return out


def time_default_run(root: Path, steps: int, workdir: Path, extra: Sequence[str] = ()) -> dict[str, float]:
    """Wall and CPU seconds (the child process's user + system time) of ``python -m ganlab.cli.train
    trainer.max_steps=STEPS`` with the code and configs of the tree at ``root``."""
    import resource

    cmd = [sys.executable, "-m", "ganlab.cli.train", f"trainer.max_steps={steps}", f"hydra.run.dir={workdir}", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} (in {root}) failed:\n{proc.stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


def default_run_study(baseline: str, steps: int, repeats: int,
                      log: Callable[[str], None] = print) -> dict[str, dict]:
    """The default run's wall time with this tree and with commit ``baseline`` (``git archive`` into a temporary
    folder), alternating this, baseline, this, ... ``repeats`` times each; medians and every reading."""
    import tempfile

    root = Path(__file__).resolve().parents[2]  # the checkout holding ganlab/
    readings: dict[str, list[dict[str, float]]] = {"this": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "archive", baseline], cwd=root, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        # the real reference features are computed by the first run and cached for all: computed before timing
        time_default_run(root, 2, Path(tmp) / "warmup", ["metrics.every_n_steps=2"])
        for i in range(repeats):
            for name, tree in (("this", root), ("baseline", base)):
                readings[name].append(time_default_run(tree, steps, Path(tmp) / f"{name}{i}"))
                log(f"default run, {name}, repeat {i + 1}/{repeats}: {readings[name][-1]}")
    summary = {f"{name}_{key}": statistics.median(r[key] for r in runs) for name, runs in readings.items()
               for key in ("wall_s", "cpu_s")}
    summary["wall_ratio"] = summary["this_wall_s"] / summary["baseline_wall_s"]
    summary["cpu_ratio"] = summary["this_cpu_s"] / summary["baseline_cpu_s"]
    return {"default_run": {"summary": summary, "raw": readings}}


# ---------------------------------------------------------------------------------------- results records
def metrics_of(results: dict[str, dict]) -> dict[str, float]:
    """Flat ``{name: number}`` of every case's summary: ``CASE/ratio_plain``, ``CASE/no_health_ms``,
    ``CASE/cost/health_ms``, ``CASE/calls_per_step/ganlab``, ..."""
    metrics: dict[str, float] = {}
    for case, result in results.items():
        s = result["summary"]
        for key, value in s.items():
            if isinstance(value, float):
                metrics[f"{case}/{key}"] = round(value, 5)
        for name, cost in s.get("costs", {}).items():
            for key in ("ms", "share", "mean_ms", "mean_share"):
                metrics[f"{case}/cost/{name}_{key}"] = round(cost[key], 5)
        for name, counts in s.get("counts", {}).items():
            for key, value in counts.items():
                metrics[f"{case}/{key}_per_step/{name}"] = round(value, 2)
    return metrics


def study_name(kind: str, device: torch.device) -> str:
    """``components-cpu-2core`` or ``components-<GPU name>``: one study folder per kind and machine."""
    if device.type == "cuda":
        return f"{kind}-" + "".join(c if c.isalnum() else "_" for c in torch.cuda.get_device_name(device)).lower()
    return f"{kind}-cpu-{os.cpu_count()}core"


def record(results: dict[str, dict], settings: dict, study: str, root: str | Path = "benchmarks/results") -> Path:
    """One results record for this invocation, ``<root>/<study>/<date-time>.json`` (ganlab.results.write_record):
    the flat metrics, each case's summary (``cases``) and every run's readings (``raw``)."""
    from ganlab.results import write_record

    run = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return write_record(study, run, metrics_of(results), root=root, settings=settings,
                        cases={case: r["summary"] for case, r in results.items()},
                        raw={case: r["raw"] for case, r in results.items()})
