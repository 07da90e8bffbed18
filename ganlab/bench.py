"""Benchmark: ganlab's training step (real Trainer, default logging and callbacks) vs a plain PyTorch loop.

Both sides run the same networks, batch, losses, regularizers and optimizers on data already in
memory, alternating A B A B ... in one process after warm-up; the reference loop is written here
by hand on purpose: it is the physical baseline that framework overhead is measured against.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from ganlab.config import build_callbacks, build_module
from ganlab.data.base import to_model_space
from ganlab.module import frozen
from ganlab.perf import apply_perf
from ganlab.train import CONFIG_DIR

# name -> (overrides, timed steps per round)
CASES: dict[str, tuple[list[str], int]] = {
    "mlp_mnist5k": (["dataset.batch_size=64"], 60),
    "dcgan32_mnist5k": (["generator=dcgan", "discriminator=dcgan", "dataset.batch_size=64"], 12),
    "toy_ring_veegan": (["dataset=ring", "metrics=none", "dataset.batch_size=512", "generator.z_dim=256",
                         "generator.hidden=[128,128]", "generator.activation=tanh", "generator.out_activation=none",
                         "discriminator.hidden=[128,128]", "discriminator.activation=tanh",
                         "optim.g.lr=1e-3", "optim.d.lr=1e-4"], 200),
    "dcgan_wgan_gp": (["generator=dcgan", "discriminator=dcgan", "discriminator.batchnorm=false", "loss=wgan_gp",
                       "optim.n_critic=5", "optim.g.betas=[0.0,0.9]", "optim.d.betas=[0.0,0.9]",
                       "optim.g.lr=1e-4", "optim.d.lr=1e-4", "dataset.batch_size=64"], 4),
}


def compose_case(overrides: Sequence[str], output_dir: Path) -> DictConfig:
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={output_dir}", *overrides])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(pl.Callback):
    """Wall time of every training step, loop overhead and data fetch included; data wait separately."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.steps, self.data = device, [], []
        self._end: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._end is not None:
            self.data.append(time.perf_counter() - self._end)  # fetch of this batch + loop overhead

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        sync(self.device)
        now = time.perf_counter()
        if self._end is not None:
            self.steps.append(now - self._end)
        self._end = now


def time_ganlab(cfg: DictConfig, steps: int, warmup: int, device: torch.device) -> tuple[list[float], list[float]]:
    """Per-step seconds of ganlab (after warm-up) and the data/overhead share of each step."""
    datamodule = instantiate(cfg.dataset.datamodule)
    model = build_module(cfg)
    timer = StepTimer(device)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = instantiate(cfg.trainer, callbacks=[*build_callbacks(cfg), timer], logger=logger,
                          max_steps=warmup + steps, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    return timer.steps[warmup - 1:], timer.data[warmup - 1:]


def time_plain(cfg: DictConfig, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Per-step seconds of a hand-written loop doing the same arithmetic."""
    generator, discriminator = instantiate(cfg.generator).to(device), instantiate(cfg.discriminator).to(device)
    fmt = apply_perf(generator, discriminator, **(cfg.get("perf") or {}))
    loss = instantiate(cfg.loss)
    regs = {k: instantiate(v) for k, v in (cfg.get("regularizers") or {}).items()}
    opt_g = instantiate(cfg.optim.g)(generator.parameters())
    opt_d = instantiate(cfg.optim.d)(discriminator.parameters())
    data = instantiate(cfg.dataset.source)()
    x = data.x.to(device)
    n_critic, batch, z_dim = cfg.optim.n_critic, cfg.dataset.batch_size, generator.z_dim
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled="bf16" in str(cfg.trainer.precision))
    times, perm, pos = [], torch.randperm(x.shape[0], device=device), 0
    for _ in range(warmup + steps):
        t0 = time.perf_counter()
        if pos + n_critic * batch > x.shape[0]:
            perm, pos = torch.randperm(x.shape[0], device=device), 0
        real_all = to_model_space(x[perm[pos : pos + n_critic * batch]]).contiguous(memory_format=fmt) \
            if x.dim() == 4 else x[perm[pos : pos + n_critic * batch]]
        pos += n_critic * batch
        with autocast:
            for real in real_all.chunk(n_critic):
                with torch.no_grad():
                    fake = generator(torch.randn(batch, z_dim, device=device))
                d_loss = loss.d_loss(discriminator(real), discriminator(fake))
                for reg in regs.values():
                    penalty = reg(discriminator, real, fake)
                    if penalty is not None:
                        d_loss = d_loss + reg.weight * penalty
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                for reg in regs.values():
                    reg.after_d_step(discriminator)
            fake = generator(torch.randn(batch, z_dim, device=device))
            with frozen(discriminator):
                g_loss = loss.g_loss(discriminator(fake))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times[warmup:]


@dataclass
class CaseResult:
    name: str
    batch: int
    ganlab_ms: list[float] = field(default_factory=list)
    plain_ms: list[float] = field(default_factory=list)
    data_ms: list[float] = field(default_factory=list)
    peak_mb: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict:
        g, p = statistics.median(self.ganlab_ms), statistics.median(self.plain_ms)
        return {"case": self.name, "batch": self.batch, "ganlab_ms": round(g, 3), "plain_ms": round(p, 3),
                "ratio": round(g / p, 3), "ganlab_img_s": round(self.batch / g * 1000, 1),
                "plain_img_s": round(self.batch / p * 1000, 1), "data_ms": round(statistics.median(self.data_ms), 3),
                "data_share": round(statistics.median(self.data_ms) / g, 4), **self.peak_mb,
                "steps_timed": len(self.ganlab_ms)}


def run_case(name: str, extra: Sequence[str], rounds: int, warmup: int, device: torch.device, out: Path,
             steps: int | None = None) -> CaseResult:
    """Alternate ganlab and the plain loop ``rounds`` times; medians over all timed steps."""
    overrides, default_steps = CASES[name]
    steps = steps or default_steps
    accel = "gpu" if device.type == "cuda" else "cpu"
    cfg = compose_case([*overrides, f"trainer.accelerator={accel}", "~callbacks.progress_bar", *extra], out / name)
    result = CaseResult(name, cfg.dataset.batch_size)
    for _ in range(rounds):
        for side in ("ganlab", "plain"):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            if side == "ganlab":
                step_s, data_s = time_ganlab(cfg, steps, warmup, device)
                result.ganlab_ms += [t * 1000 for t in step_s]
                result.data_ms += [t * 1000 for t in data_s]
            else:
                result.plain_ms += [t * 1000 for t in time_plain(cfg, steps, warmup, device)]
            if device.type == "cuda":
                result.peak_mb[f"{side}_peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def markdown(rows: list[dict], title: str) -> str:
    cols = ["case", "batch", "ganlab_ms", "plain_ms", "ratio", "ganlab_img_s", "plain_img_s", "data_ms", "data_share"]
    cols += [c for c in ("ganlab_peak_mb", "plain_peak_mb") if any(c in r for r in rows)]
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
