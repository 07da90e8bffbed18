"""Cost of the health monitor: the default run's training with and without it, in one process.

    python scripts/bench/bench_health.py                      # 2,000 steps each way, 2 rounds (A B A B)
    python scripts/bench/bench_health.py --steps 500 --rounds 1 --set health.every_n_steps=100

Each round trains ``ganlab-train``'s default config (MLP on mnist5k, FID evaluation and every default
callback on) for ``--steps`` steps with the monitor (health=default) and without it (health=none),
alternating which goes first, and times ``trainer.fit``. Printed: the wall times, the ratio with / without
(median over rounds), the seconds spent inside the monitor's own hooks as a share of the run (a direct
measurement, less noisy on a shared machine than the difference of two wall times), and that share
extrapolated to the whole default run (``--default-steps``, 10,000; start-up once, one check per
``health.every_n_steps``, the per-step work every step).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from ganlab.assembly import build_callbacks, build_module
from ganlab.callbacks.health import HealthMonitor
from ganlab.config import build, compose
from ganlab.loggers import build_loggers

HOOKS = ("on_train_start", "on_train_batch_end", "on_validation_end", "on_train_end")
# inside on_train_batch_end / on_train_end: the checks themselves (timed apart, for the extrapolation)
NESTED = ("_check",)


def timed_hooks(monitor: HealthMonitor) -> dict[str, float]:
    """Wrap the monitor's hooks to add their wall time to the returned dict (seconds per hook; ``_check`` and
    ``checks`` count the checks, which the hooks' times include)."""
    spent = dict.fromkeys(HOOKS + NESTED, 0.0)
    spent["checks"] = 0
    check = monitor._check

    def counted(*args, **kwargs):
        spent["checks"] += 1
        return check(*args, **kwargs)

    monitor._check = counted
    for name in HOOKS + NESTED:
        hook = getattr(monitor, name)

        def wrapped(*args, _hook=hook, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _hook(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - t

        setattr(monitor, name, wrapped)
    return spent


class StepTimes(pl.Callback):
    """Wall time between consecutive training-step ends (the last callback: everything of the step included)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def run(steps: int, health: bool, extra: list[str], out: Path) -> dict:
    """Train the default config for ``steps`` steps; wall seconds of ``fit`` and of the monitor's hooks."""
    cfg = compose([f"paths.output_dir={out}", f"trainer.max_steps={steps}", "~callbacks.progress_bar",
                   "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
                   *([] if health else ["health=none"]),
                   *(o for o in extra if health or not o.lstrip("+~").startswith("health."))])
    torch.manual_seed(cfg.seed)
    datamodule = build(cfg.datamodule, "datamodule")
    datamodule.setup("fit")
    model = build_module(cfg)
    callbacks = build_callbacks(cfg)
    spent = {}
    for cb in callbacks:
        if isinstance(cb, HealthMonitor):
            spent = timed_hooks(cb)
    timer = StepTimes()
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, timer], logger=build_loggers(cfg.logger))
    t = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "monitor_s": sum(spent.get(h, 0.0) for h in HOOKS), "hooks_s": spent,
            "steps": trainer.global_step, "median_step_ms": 1000 * statistics.median(timer.times)}


def extrapolate(row: dict, steps: int, every: int) -> float:
    """The monitor's share of a ``steps``-step run checked every ``every`` steps, from one measured run: its
    start-up, its mean check, and its per-step work (hooks minus checks), against the run's mean step time."""
    h = row["hooks_s"]
    per_check = h["_check"] / max(h["checks"], 1)
    per_step = (h["on_train_batch_end"] + h["on_train_end"] - h["_check"]) / row["steps"]
    step_s = (row["wall_s"] - row["monitor_s"]) / row["steps"]
    cost = h["on_train_start"] + (steps // every) * per_check + steps * per_step
    return cost / (steps * step_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides (health.* ones: the monitored run only)")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--default-steps", type=int, default=10_000,
                        help="length of the default run for the extrapolation (trainer.max_steps of the default)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            for health in order:
                res = run(args.steps, health, args.set, Path(tmp) / f"r{r}_{int(health)}")
                rows.append({"round": r, "health": health, **res})
                print(f"round {r} health={'on ' if health else 'off'}: fit {res['wall_s']:.1f} s, "
                      f"median step {res['median_step_ms']:.2f} ms"
                      + (f", inside the monitor {res['monitor_s']:.2f} s" if health else ""), flush=True)
    on = [x for x in rows if x["health"]]
    off = [x for x in rows if not x["health"]]
    ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(on, off, strict=True)]
    share = statistics.median(x["monitor_s"] / x["wall_s"] for x in on)
    step_ratio = statistics.median(a["median_step_ms"] / b["median_step_ms"] for a, b in zip(on, off, strict=True))
    every = next((int(o.split("=", 1)[1]) for o in args.set if o.startswith("health.every_n_steps=")), 500)
    default_run = statistics.median(extrapolate(x, args.default_steps, every) for x in on)
    summary = {"steps": args.steps, "rounds": args.rounds, "overrides": args.set,
               "ratio_on_off": statistics.median(ratios), "ratios": ratios,
               "monitor_share": share, "default_run_share": default_run, "median_step_ratio": step_ratio,
               "rows": rows}
    per_round = ", ".join(f"{x:.3f}" for x in ratios)
    print(f"median step (the checks excluded) with / without the monitor: {step_ratio:.3f}")
    print(f"with / without the monitor: {summary['ratio_on_off']:.3f} (per round {per_round}); "
          f"time inside the monitor: {100 * share:.2f} % of the run; extrapolated to the "
          f"{args.default_steps:,}-step default run (checks every {every} steps): {100 * default_run:.2f} %")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
