"""Test-only callbacks and networks, importable by ganlab-train subprocesses (tests/ is put on PYTHONPATH)."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from ganlab.nets.mlp import MLPDiscriminator


class DumpWeights(pl.Callback):
    """At the end of training every rank saves its G and D parameters to ``out/rank{R}.pt``."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        params = {k: v.detach().cpu() for k, v in pl_module.named_parameters()}
        torch.save({"params": params, "global_step": trainer.global_step}, self.out / f"rank{trainer.global_rank}.pt")


class RecordGrads(pl.Callback):
    """Every rank records, at each optimizer step, its local (pre-all-reduce) gradients of the stepping
    network, the gradients the optimizer gets, and the other network's gradients; saved to ``out/rank{R}.pt``.

    Local gradients are cloned by post-accumulate-grad hooks, which run when autograd writes ``p.grad``
    (before DDP copies the all-reduced bucket back at the end of the backward).
    """

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.records: list[dict] = []
        self.local: dict[str, torch.Tensor] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for net in ("generator", "discriminator"):
            for name, p in getattr(pl_module, net).named_parameters():
                p.register_post_accumulate_grad_hook(lambda t, key=f"{net}.{name}": self.local.__setitem__(
                    key, t.grad.detach().clone()))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        net, other = ("discriminator", "generator") if optimizer is trainer.optimizers[1] else ("generator",
                                                                                                "discriminator")

        def grads(module: str) -> dict:
            return {f"{module}.{n}": None if p.grad is None else p.grad.detach().clone()
                    for n, p in getattr(pl_module, module).named_parameters()}

        self.records.append({"net": net, "local": {k: v for k, v in self.local.items() if k.startswith(net)},
                             "synced": grads(net), "other": grads(other)})
        self.local.clear()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        torch.save(self.records, self.out / f"rank{trainer.global_rank}.pt")


class DiscriminatorWithUnusedWeight(MLPDiscriminator):
    """The MLP discriminator plus a weight its forward never uses (for DDP's refusal)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unused = torch.nn.Parameter(torch.zeros(3))


class Boom(pl.Callback):
    """Raises an error no check can foresee when training starts (for the error boundary's unexpected path)."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise RuntimeError("boom: an error inside training")
