"""Views of the loggers' cost (docs/loggers.md): the default run with all four loggers vs TensorBoard alone."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, view


@view("loggers_cost", header=["measure", "all four / TensorBoard alone"])
def loggers_cost(records: list[Record]) -> list[list[Any]]:
    """scripts/bench/bench_loggers.py: whole-process, fit and steady-step ratios, the extra start-up and per-step
    time, the extrapolation to the 10,000-step default run and the disk the backends wrote."""
    r = records[-1]
    m, p = r["metrics"], r["params"]
    rounds = sorted(k for k in m if k.startswith("process_ratio_round"))
    disk = ", ".join(f"{name} {m[f'mb_{key}']:.2f} MB" for name, key in
                     (("TensorBoard", "tensorboard"), ("CSV", "csv"), ("MLflow", "mlruns"), ("W&B", "wandb"))
                     if f"mb_{key}" in m)
    return [[f"whole process, {p['steps']}-step runs (per round)",
             f"{m['process_ratio']:.3f} ({', '.join(f'{m[k]:.3f}' for k in rounds)})"],
            ["CPU time of the whole process (W&B's service included)",
             f"{m['cpu_ratio']:.3f} ({m['extra_cpu_s']:+.1f} s)"],
            ["trainer.fit (backends start inside it)", f"{m['fit_ratio']:.3f}"],
            ["steady-state training step", f"{m['step_ratio']:.3f}"],
            ["extra fixed time (imports, start, shutdown)", f"{m['extra_startup_s']:+.1f} s"],
            ["extra time per step", f"{m['extra_ms_per_step']:+.2f} ms (TensorBoard alone: "
                                    f"{m['tb_ms_per_step']:.1f} ms)"],
            [f"extrapolated to the {p['default_steps']:,}-step default run", f"**{m['default_run_ratio']:.3f}**"],
            [f"written by the four loggers in {p['steps']} steps", disk]]
