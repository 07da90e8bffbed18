"""Benchmark: ganlab's training step (real Trainer, default logging and callbacks) vs a plain PyTorch loop.

Both sides run the same networks, batch, losses, regularizers and optimizers on data already in
memory, alternating A B A B ... in one process after warm-up; the reference loop is written here
by hand on purpose: it is the physical baseline that framework overhead is measured against.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from ganlab.assembly import build_callbacks, build_module
from ganlab.config import compose
from ganlab.data.base import to_model_space
from ganlab.loggers import build_loggers
from ganlab.nets.freeze import frozen
from ganlab.perf import apply_perf

# name -> (overrides, timed steps per round); the seed MLP's 50 steps (after the warm-up) and the toy's 150 hold one
# and three logging steps (every 50 steps), so the mean step time includes their share
CASES: dict[str, tuple[list[str], int]] = {
    "mlp_mnist5k": (["dataset.batch_size=64"], 50),
    "dcgan32_mnist5k": (["generator=dcgan", "discriminator=dcgan", "dataset.batch_size=64"], 6),
    "toy_ring_veegan": (["dataset=ring", "metrics=none", "dataset.batch_size=512", "generator.z_dim=256",
                         "generator.hidden=[128,128]", "generator.activation=tanh", "generator.out_activation=none",
                         "discriminator.hidden=[128,128]", "discriminator.activation=tanh",
                         "optim.g.lr=1e-3", "optim.d.lr=1e-4"], 150),
    "dcgan_wgan_gp": (["generator=dcgan", "discriminator=dcgan", "discriminator.batchnorm=false", "loss=wgan_gp",
                       "game.n_critic=5", "optim.g.betas=[0.0,0.9]", "optim.d.betas=[0.0,0.9]",
                       "optim.g.lr=1e-4", "optim.d.lr=1e-4", "dataset.batch_size=64"], 4),
}


def compose_case(overrides: Sequence[str], output_dir: Path) -> DictConfig:
    return compose([f"paths.output_dir={output_dir}", *overrides])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainLoop:
    """The reference: the same networks, losses, regularizers, optimizers and EMA in a hand-written loop.

    ``iterate`` is one game iteration on a real batch with the optimizers and backward it is given, so the
    bare LightningModule of ``ganlab.tools.bench_components`` runs exactly this arithmetic through Lightning.
    """

    def __init__(self, cfg: DictConfig, device: torch.device, clock: Callable[[], float] = time.perf_counter) -> None:
        self.device, self.clock = device, clock
        self.generator = instantiate(cfg.generator).to(device)
        self.discriminator = instantiate(cfg.discriminator).to(device)
        self.fmt = apply_perf(self.generator, self.discriminator, **(cfg.get("perf") or {}))
        self.loss = instantiate(cfg.loss)
        self.regs = {k: instantiate(v) for k, v in (cfg.get("regularizers") or {}).items()}
        self.opt_g = instantiate(cfg.optim.g)(self.generator.parameters())
        self.opt_d = instantiate(cfg.optim.d)(self.discriminator.parameters())
        self.x = instantiate(cfg.dataset.source)().x.to(device)
        self.n_critic, self.batch = cfg.game.n_critic, cfg.dataset.batch_size
        self.bf16 = "bf16" in str(cfg.trainer.precision)
        self.perm, self.pos = torch.randperm(self.x.shape[0], device=device), 0
        # G's weight average when the run keeps one (ema.decay): parameter lists made once, as a hand-written loop
        # would; the decay of each step from the run's own rule (a pure function of the step)
        rule = instantiate(cfg.ema) if cfg.get("ema") else None
        self.ema_rule = rule if rule is not None and rule.enabled else None
        self.steps_done = 0
        if self.ema_rule is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
            self.ema_pairs = (list(self.generator_ema.parameters()), list(self.generator.parameters()))
            self.ema_buffers = list(zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True))

    def real_batch(self) -> Tensor:
        """The next n_critic * batch real samples [n_critic * N, ...] in model space (one gather by index)."""
        x, n = self.x, self.n_critic * self.batch
        if self.pos + n > x.shape[0]:
            self.perm, self.pos = torch.randperm(x.shape[0], device=self.device), 0
        real_all = x[self.perm[self.pos : self.pos + n]]
        real_all = to_model_space(real_all).contiguous(memory_format=self.fmt) if x.dim() == 4 else real_all
        self.pos += n
        return real_all

    def iterate(self, real_all: Tensor, opt_g, opt_d, backward: Callable[[Tensor], None]) -> None:
        """One game iteration: n_critic D updates (one real chunk each), one G update, the EMA update."""
        g, d = self.generator, self.discriminator
        for real in real_all.chunk(self.n_critic):
            with torch.no_grad():
                fake = g(torch.randn(self.batch, g.z_dim, device=self.device))
            d_loss = self.loss.d_loss(d(real), d(fake))
            for reg in self.regs.values():
                penalty = reg(d, real, fake)
                if penalty is not None:
                    d_loss = d_loss + reg.weight * penalty
            opt_d.zero_grad(set_to_none=True)
            backward(d_loss)
            opt_d.step()
            for reg in self.regs.values():
                reg.after_d_step(d)
        fake = g(torch.randn(self.batch, g.z_dim, device=self.device))
        with frozen(d):
            # RpGAN pairs each fake with D's logit of a real (no gradient: the reals do not depend on G)
            with torch.no_grad():
                paired = d(real) if getattr(self.loss, "pairs_real", False) else None
            g_loss = self.loss.g_loss(d(fake), paired)
        opt_g.zero_grad(set_to_none=True)
        backward(g_loss)
        opt_g.step()
        if self.ema_rule is not None:
            with torch.no_grad():
                torch._foreach_lerp_(*self.ema_pairs, 1.0 - self.ema_rule.decay_at(self.steps_done))
                for b_ema, b in self.ema_buffers:
                    b_ema.copy_(b)
        self.steps_done += 1

    def step(self) -> float:
        """One game iteration; returns its time in seconds (``clock``: wall or this thread's CPU time)."""
        t0 = self.clock()
        real_all = self.real_batch()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            self.iterate(real_all, self.opt_g, self.opt_d, Tensor.backward)
        sync(self.device)
        return self.clock() - t0


class StepTimer(pl.Callback):
    """Time of every training step (loop overhead and data fetch included), by ``clock``.

    With ``plain``, one step of the reference loop runs right after each step, outside this step's
    timing: A B A B at step granularity, so drifts in machine speed cancel in the ratio.

    Args:
        device: synchronised before each reading (CUDA).
        plain: the reference loop to interleave, or None.
        clock: ``time.perf_counter`` (wall time: what the final numbers use, on an idle machine) or
            ``time.thread_time`` (this thread's CPU time: roughly independent of other processes' load,
            for a shared CPU machine with one compute thread; meaningless for GPU work).
    """

    def __init__(self, device: torch.device, plain: PlainLoop | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.device, self.plain, self.clock = device, plain, clock
        self.steps: list[float] = []
        self.data: list[float] = []
        self.plain_steps: list[float] = []
        self._end: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._end is not None:
            self.data.append(self.clock() - self._end)  # fetch of this batch + loop overhead

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        sync(self.device)
        now = self.clock()
        if self._end is not None:
            self.steps.append(now - self._end)
        if self.plain is not None:
            self.plain_steps.append(self.plain.step())
        self._end = self.clock()


def trainer_switches(callbacks: Sequence[pl.Callback]) -> dict[str, bool]:
    """Trainer flags that match the callbacks a run has: Lightning adds its own checkpoint callback unless
    told not to, and refuses a progress-bar callback when ``enable_progress_bar`` is false."""
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.callbacks.progress.progress_bar import ProgressBar

    return {"enable_checkpointing": any(isinstance(c, ModelCheckpoint) for c in callbacks),
            "enable_progress_bar": any(isinstance(c, ProgressBar) for c in callbacks)}


def time_ganlab(cfg: DictConfig, steps: int, warmup: int, device: torch.device, interleave: bool = True,
                clock: Callable[[], float] = time.perf_counter,
                reference: DictConfig | None = None) -> tuple[list[float], list[float], list[float]]:
    """Per-step seconds of ganlab and of the interleaved plain loop (after warm-up), and data waits.

    ``reference``: the config the plain loop is built from (default ``cfg``), e.g. the full run's when ``cfg``
    has a component switched off, so that every run is read against the same reference arithmetic.
    """
    plain = PlainLoop(reference if reference is not None else cfg, device, clock) if interleave else None
    timer = StepTimer(device, plain, clock)
    fit_ganlab(cfg, timer, warmup + steps)
    return timer.steps[warmup - 1:], timer.plain_steps[warmup:], timer.data[warmup - 1:]


def fit_ganlab(cfg: DictConfig, probe: pl.Callback, max_steps: int) -> pl.Trainer:
    """``max_steps`` steps of the run of ``cfg`` as ganlab-train builds it (module, data, callbacks, logger), with
    ``probe`` as one more callback."""
    datamodule = instantiate(cfg.datamodule)
    model = build_module(cfg)
    logger = build_loggers(cfg.get("logger")) or False
    callbacks = [*build_callbacks(cfg), probe]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger, max_steps=max_steps,
                          enable_model_summary=False, **trainer_switches(callbacks))
    trainer.fit(model, datamodule=datamodule)
    return trainer


@dataclass
class CaseResult:
    name: str
    batch: int
    ganlab_ms: list[float] = field(default_factory=list)
    plain_ms: list[float] = field(default_factory=list)
    data_ms: list[float] = field(default_factory=list)
    peak_mb: dict[str, float] = field(default_factory=dict)
    round_ratios: list[float] = field(default_factory=list)  # median ganlab / median plain, per run

    def row(self) -> dict:
        g, p = statistics.median(self.ganlab_ms), statistics.median(self.plain_ms)
        ratios = self.round_ratios
        return {"case": self.name, "batch": self.batch, "ganlab_ms": round(g, 3), "plain_ms": round(p, 3),
                "ratio": round(statistics.median(ratios), 3),
                "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                "ganlab_img_s": round(self.batch / g * 1000, 1),
                "plain_img_s": round(self.batch / p * 1000, 1), "data_ms": round(statistics.median(self.data_ms), 3),
                "data_share": round(statistics.median(self.data_ms) / g, 4), **self.peak_mb,
                "steps_timed": len(self.ganlab_ms)}


def run_case(name: str, extra: Sequence[str], rounds: int, warmup: int, device: torch.device, out: Path,
             steps: int | None = None) -> CaseResult:
    """``rounds`` ganlab runs, each step followed by one plain-loop step; ratio = median over rounds."""
    overrides, default_steps = CASES[name]
    steps = steps or default_steps
    accel = "gpu" if device.type == "cuda" else "cpu"
    cfg = compose_case([*overrides, f"trainer.accelerator={accel}", "~callbacks.progress_bar", *extra], out / name)
    result = CaseResult(name, cfg.dataset.batch_size)
    for _ in range(rounds):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        step_s, plain_s, data_s = time_ganlab(cfg, steps, warmup, device)
        result.ganlab_ms += [t * 1000 for t in step_s]
        result.plain_ms += [t * 1000 for t in plain_s]
        result.data_ms += [t * 1000 for t in data_s]
        result.round_ratios.append(statistics.median(step_s) / statistics.median(plain_s))
        if device.type == "cuda":  # both sides share the process: one peak for the pair
            result.peak_mb["peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def markdown(rows: list[dict], title: str) -> str:
    cols = ["case", "batch", "ganlab_ms", "plain_ms", "ratio", "ratio_range", "ganlab_img_s", "plain_img_s",
            "data_ms", "data_share"]
    cols += [c for c in ("peak_mb",) if any(c in r for r in rows)]
    lines = [f"{title}\n", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


class StepTimesFile(StepTimer):
    """StepTimer for subprocess runs (DDP mode): rank 0 writes its step times to a JSON file."""

    def __init__(self, out: str) -> None:
        super().__init__(torch.device("cpu"))
        self.out = Path(out)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            import json

            self.out.write_text(json.dumps({"steps_ms": [t * 1000 for t in self.steps],
                                            "world_size": trainer.world_size}))


class AllreduceBytes(pl.Callback):
    """Bytes of gradients all-reduced per training step, per DDP wrapper; every rank writes ``out/rank{R}.json``.

    Registers ``ganlab.ddp.counting_allreduce`` (torch's default all-reduce, counted) on the strategy's
    wrappers at the start of training: GANDDPStrategy's ``generator`` and ``discriminator``, or
    Lightning's single ``module``. Counts gradient buckets only (not find_unused_parameters' used-map).
    """

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.steps: list[dict[str, int]] = []  # per training step: wrapper name -> bytes

    def on_train_start(self, trainer, pl_module) -> None:
        from ganlab.ddp import AllreduceCount, counting_allreduce, ddp_wrappers

        self.totals: dict[str, int] = {}
        self.wrappers = ddp_wrappers(trainer.strategy)
        for name, ddp in self.wrappers.items():
            ddp.register_comm_hook(AllreduceCount(name, self.totals), counting_allreduce)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append({name: self.totals.get(name, 0) for name in self.wrappers})
        self.totals.clear()

    def on_train_end(self, trainer, pl_module) -> None:
        import json

        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(
            {"world_size": trainer.world_size, "strategy": type(trainer.strategy).__name__, "steps": self.steps}))


def _allreduce_worker(rank: int, world: int, port: int, sizes: list[int], repeats: int, out: str) -> None:
    import json
    import os

    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        tensors = [torch.randn(n // 4) for n in sizes]  # float32 gradients of those byte counts
        for t in tensors:  # warm-up: gloo's first call per size sets up its buffers
            dist.all_reduce(t)
        dist.barrier()
        start = time.perf_counter()
        for _ in range(repeats):
            for t in tensors:
                dist.all_reduce(t)
        seconds = (time.perf_counter() - start) / repeats
        if rank == 0:
            Path(out).write_text(json.dumps({"ms": seconds * 1000}))
    finally:
        dist.destroy_process_group()


def allreduce_ms(sizes: Sequence[int], world: int = 2, repeats: int = 30) -> float:
    """Milliseconds for ``world`` CPU processes (gloo, one thread each) to all-reduce tensors of ``sizes`` bytes
    once each, with nothing else running in them: the communication a DDP step cannot do faster when no core is
    free to overlap it with compute (DDP sends buckets of the same total size)."""
    import json
    import socket
    import tempfile

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/allreduce.json"
        mp.spawn(_allreduce_worker, args=(world, port, list(sizes), repeats, out), nprocs=world)
        return json.loads(Path(out).read_text())["ms"]


def eval_cost(out: Path, device: torch.device) -> dict:
    """Seconds of one training-time evaluation of the default run, and its share of that run's time.

    Times what the Evaluation callback (FeatureMetrics) does: the real reference once (no cache), then per evaluation
    ``metrics.num_samples`` generated samples -> features -> FID.
    """
    from ganlab.metrics.extraction import extract, generated_batches, real_reference
    from ganlab.metrics.reference_cache import ReferenceCache
    from ganlab.metrics.scoring.suite import compute_metrics

    cfg = compose_case(["~callbacks.progress_bar"], out / "eval")
    generator = instantiate(cfg.generator).to(device).eval()
    feature = instantiate(cfg.dataset.feature).to(device)
    data = instantiate(cfg.dataset.source)()
    t = time.perf_counter()
    real, _, _ = real_reference(data, feature, ReferenceCache(None), batch_size=cfg.metrics.batch_size, device=device)
    real_s = time.perf_counter() - t
    seconds = []
    for _ in range(3):
        t = time.perf_counter()
        with torch.no_grad():
            fake = extract(feature, generated_batches(generator, cfg.metrics.num_samples, cfg.metrics.batch_size,
                                                      device=device), device=device)
        compute_metrics(real, fake, ["fid"])
        seconds.append(time.perf_counter() - t)
    per_eval = statistics.median(seconds)
    evals = cfg.trainer.max_steps // cfg.metrics.every_n_steps
    return {"num_samples": cfg.metrics.num_samples, "real_reference_s": round(real_s, 3),
            "eval_s": round(per_eval, 3), "evals_per_default_run": evals,
            "eval_total_s": round(real_s + evals * per_eval, 2)}
