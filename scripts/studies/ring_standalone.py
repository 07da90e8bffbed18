"""A second opinion on the 8-Gaussian ring GAN, in plain PyTorch: this file imports nothing from ganlab.

Issue 32: ganlab's GAN covers all 8 ring modes in every seed, where VEEGAN's Table 1 and Metz et al.'s
Figure 1 show the plain GAN collapsing. This script trains the same GAN written from scratch, with the
settings of the Unrolled GAN authors' public toy notebook (docs/mode-collapse.md has the table):

- data: 8 Gaussians at angles 2*pi*k/8 on the circle of radius 1, std 0.01, a fresh batch every step
  (``--layout linspace``: the notebook's ``linspace(0, 2*pi, 8)``, whose first and last angles coincide:
  7 distinct centres, the one at angle 0 drawn twice as often);
- z 256-d standard normal, batch 512; G 256 -> 128 -> 128 -> 2 and D 2 -> 128 -> 128 -> 1, tanh hidden units;
- weights orthogonal with gain 1.4, biases 0 (``--init torch``: torch's default initialisation);
- the minimax loss, G minimizing log(1 - D(G(z))) (``--loss nonsaturating``: G maximizing log D(G(z)));
- simultaneous updates: both players' gradients at the same point, on the same real batch and the same z,
  then both steps (``--game alternating``: D steps first, then G against the new D on a new z);
- Adam, G lr 1e-3, D lr 1e-4, betas (0.5, 0.999), eps 1e-8, written out with TensorFlow's placement of
  eps (outside the bias correction of the second moment; ``--adam torch`` uses torch.optim.Adam);
- 25,000 steps.

The evaluation is the papers' (VEEGAN's public code, the same in PacGAN's): 2,500 samples from fresh z;
a sample is high quality within 3 std (0.03) of its nearest centre; a mode is captured when at least one
high-quality sample is nearest to it; reverse KL of the high-quality samples' mode histogram to uniform.
It runs every ``--every`` steps, so each record also holds the mode count along training.

One JSON record per seed, ``experiments/results/<study>/ring_standalone-s<seed>.json``, in the results
format that ``python -m ganlab.results check`` reads (study, run, command, commit, machine, date, metrics,
card), written by hand here; seeds whose record exists are skipped, so an interrupted study resumes.

    OMP_NUM_THREADS=1 python scripts/studies/ring_standalone.py --seeds 0-9
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]


def centres(modes: int = 8, radius: float = 1.0, layout: str = "even") -> Tensor:
    """[modes, 2] mixture centres: angles 2*pi*k/modes ("even") or linspace(0, 2*pi, modes) ("linspace")."""
    if layout == "even":
        angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    elif layout == "linspace":
        angles = torch.linspace(0, 2 * math.pi, modes, dtype=torch.float64)
    else:
        raise ValueError(f"--layout {layout!r}; valid: even, linspace")
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


def sample_data(means: Tensor, std: float, n: int, gen: torch.Generator) -> Tensor:
    """n points [n, 2]: a uniformly chosen centre plus std * N(0, I)."""
    k = torch.randint(0, means.shape[0], (n,), generator=gen)
    return means[k] + std * torch.randn(n, 2, generator=gen)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with tanh between them, none after the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def initialise(net: nn.Module, scheme: str, gain: float) -> None:
    """orthogonal: every weight orthogonal times ``gain``, every bias 0; torch: leave torch's default."""
    if scheme == "torch":
        return
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain=gain)
            nn.init.zeros_(m.bias)


class TFAdam:
    """Adam with eps added to sqrt(v) before the bias correction is folded into the step size (TensorFlow's
    and Keras 1/2's placement): p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float) -> None:
        self.params = [p for p in params]
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        lr_t = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            m.mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
            p.sub_(lr_t * m / (v.sqrt() + self.eps))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def mode_metrics(x: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, % high quality and reverse KL (nats; NaN when no sample is high quality)."""
    d2 = ((x[:, None, :].double() - means[None, :, :].double()) ** 2).sum(-1)  # [N, K]
    dist, nearest = d2.min(1)
    good = dist.sqrt() <= threshold * std
    counts = np.bincount(nearest[good].numpy(), minlength=means.shape[0]).astype(float)
    total = counts.sum()
    if total > 0:
        p = counts[counts > 0] / total
        rkl = float((p * np.log(p * means.shape[0])).sum())
    else:
        rkl = float("nan")
    return {"modes": int((counts > 0).sum()), "high_quality": 100.0 * float(good.double().mean()), "reverse_kl": rkl}


def bce_logits(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of sigmoid(logits) against a constant target (0 or 1)."""
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def train(seed: int, a: argparse.Namespace, dump: Path | None = None) -> tuple[dict, list[dict]]:
    """One run: the last evaluation's metrics and the curve of evaluations [{step, modes, ...}]."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(10_000 + seed)  # the data stream
    data_means = centres(8, a.radius, a.layout)
    eval_means = centres(8, a.radius, "even")  # the papers' 8 centres, whatever the training layout
    g = mlp([a.z_dim, a.hidden, a.hidden, 2])
    d = mlp([2, a.hidden, a.hidden, 1])
    initialise(g, a.init, a.gain)
    initialise(d, a.init, a.gain)
    if a.adam == "tf":
        opt_g = TFAdam(g.parameters(), a.lr_g, (a.beta1, 0.999), a.eps)
        opt_d = TFAdam(d.parameters(), a.lr_d, (a.beta1, 0.999), a.eps)
    else:
        opt_g = torch.optim.Adam(g.parameters(), a.lr_g, betas=(a.beta1, 0.999), eps=a.eps)
        opt_d = torch.optim.Adam(d.parameters(), a.lr_d, betas=(a.beta1, 0.999), eps=a.eps)

    def g_loss(fake_logits: Tensor) -> Tensor:
        if a.loss == "minimax":
            return -bce_logits(fake_logits, 0.0)  # log(1 - D(G(z)))
        return bce_logits(fake_logits, 1.0)  # -log D(G(z))

    def d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return bce_logits(real_logits, 1.0) + bce_logits(fake_logits, 0.0)

    curve: list[dict] = []

    def evaluate(step: int) -> None:
        with torch.no_grad():
            x = g(torch.randn(a.eval_samples, a.z_dim))
        row = {"step": step, **mode_metrics(x, eval_means, a.std)}
        if math.isnan(row["reverse_kl"]):
            row["reverse_kl"] = None  # JSON has no NaN
        curve.append(row)
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            np.save(dump / f"s{seed}-step{step:06d}.npy", x.numpy())

    for step in range(a.steps):
        real = sample_data(data_means, a.std, a.batch, gen)
        z = torch.randn(a.batch, a.z_dim)
        if a.game == "simultaneous":  # both gradients at the same point, from the same reals and z
            fake = g(z)
            fake_logits = d(fake)
            lg = g_loss(fake_logits)
            ld = d_loss(d(real), fake_logits)
            opt_g.zero_grad()
            opt_d.zero_grad()
            g_grads = torch.autograd.grad(lg, list(g.parameters()), retain_graph=True)
            d_grads = torch.autograd.grad(ld, list(d.parameters()))
            for p, gr in zip(g.parameters(), g_grads, strict=True):
                p.grad = gr
            for p, gr in zip(d.parameters(), d_grads, strict=True):
                p.grad = gr
            opt_g.step()
            opt_d.step()
        else:  # alternating: D on the current fakes, then G on new z against the updated D
            opt_d.zero_grad()
            d_loss(d(real), d(g(z).detach())).backward()
            opt_d.step()
            opt_g.zero_grad()
            g_loss(d(g(torch.randn(a.batch, a.z_dim)))).backward()
            opt_g.step()
        if (step + 1) % a.every == 0 or step + 1 == a.steps:
            evaluate(step + 1)
    return curve[-1], curve


def parse_seeds(text: str) -> list[int]:
    """``0-9`` or ``0,3,7`` or ``0-4,10``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu-{cores}core, {platform.machine()}, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--study", default="ring_standalone-cpu")
    p.add_argument("--root", type=Path, default=REPO / "experiments" / "results")
    p.add_argument("--steps", type=int, default=25_000)
    p.add_argument("--every", type=int, default=1000, help="evaluate every this many steps")
    p.add_argument("--eval-samples", type=int, default=2500)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--z-dim", type=int, default=256)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--radius", type=float, default=1.0)
    p.add_argument("--std", type=float, default=0.01)
    p.add_argument("--layout", choices=["even", "linspace"], default="even")
    p.add_argument("--init", choices=["orthogonal", "torch"], default="orthogonal")
    p.add_argument("--gain", type=float, default=1.4)
    p.add_argument("--loss", choices=["minimax", "nonsaturating"], default="minimax")
    p.add_argument("--game", choices=["simultaneous", "alternating"], default="simultaneous")
    p.add_argument("--adam", choices=["tf", "torch"], default="tf")
    p.add_argument("--lr-g", type=float, default=1e-3)
    p.add_argument("--lr-d", type=float, default=1e-4)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--dump", type=Path, default=None, help="also save each evaluation's samples (.npy) here")
    p.add_argument("--no-record", action="store_true", help="print the metrics only (for timing)")
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    settings = {k: v for k, v in vars(a).items() if k not in ("seeds", "study", "root", "dump", "no_record")}
    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "scripts/studies/ring_standalone.py"))
    command = shlex.join(["python", "scripts/studies/ring_standalone.py", *(sys.argv[1:] if argv is None else argv)])
    for seed in parse_seeds(a.seeds):
        path = a.root / a.study / f"ring_standalone-s{seed}.json"
        if path.exists() and not a.no_record:
            print(f"seed {seed}: {path} exists, skipped", flush=True)
            continue
        t0 = time.perf_counter()
        last, curve = train(seed, a, a.dump)
        wall = time.perf_counter() - t0
        modes_along = " ".join(str(r["modes"]) for r in curve)
        print(f"seed {seed}: modes {last['modes']}, high quality {last['high_quality']:.2f} %, reverse KL "
              f"{last['reverse_kl']}, {wall:.0f} s; modes every {a.every} steps: {modes_along}", flush=True)
        if a.no_record:
            continue
        record = {
            "study": a.study, "run": f"ring_standalone-s{seed}", "command": command, "commit": commit,
            "machine": machine(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "metrics": {**last, "wall_s": wall, "steps": a.steps},
            "card": None,
            "params": {"seed": seed, **settings},
            "curve": curve,
        }
        if dirty:
            record["dirty"] = True
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
