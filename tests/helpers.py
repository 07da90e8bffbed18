"""Test-only callbacks, importable by ganlab-train subprocesses (tests/ is put on PYTHONPATH)."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch


class DumpWeights(pl.Callback):
    """At the end of training every rank saves its G and D parameters to ``out/rank{R}.pt``."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        params = {k: v.detach().cpu() for k, v in pl_module.named_parameters()}
        torch.save({"params": params, "global_step": trainer.global_step}, self.out / f"rank{trainer.global_rank}.pt")
