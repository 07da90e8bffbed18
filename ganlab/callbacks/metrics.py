"""Training-time evaluation: FID (and any metric of the suite) on samples from the validation loop."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganlab.metrics.evaluation import check_metrics, compute_metrics, extract, real_reference
from ganlab.metrics.reference import ReferenceCache


def gather_rows(x: Tensor) -> Tensor:
    """Concatenate [n_r, ...] tensors of all ranks (sizes may differ) in rank order."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, *x.shape[1:], dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


class MetricsCallback(pl.Callback):
    """Logs ``val/<metric>`` from the samples the module generates in its validation loop.

    Real features come from the reference cache (computed once, reused by later runs and by
    ganlab-eval under the same protocol). Under DDP each rank extracts features of its share
    of samples; the features and sample indices are gathered and sorted, so every metric equals
    the single-process value.

    Args:
        feature: feature extractor, images in [-1, 1] [N, C, H, W] -> [N, D].
        metrics: metric names from ganlab.metrics.evaluation.METRICS (default: FID only).
        cache_dir: reference-feature cache folder (None: recompute in every run).
        max_real: real images in the reference (None: the whole training set).
        batch_size: images per feature-extractor call for the real set.
        seed: seed of subset draws (KID, IS, FID-infinity).
    """

    def __init__(self, feature: nn.Module, metrics: Sequence[str] = ("fid",), cache_dir: str | None = None,
                 max_real: int | None = None, batch_size: int = 500, seed: int = 0) -> None:
        self.feature, self.metrics = feature, check_metrics(metrics)
        self.cache = ReferenceCache(cache_dir)
        self.max_real, self.batch_size, self.seed = max_real, batch_size, seed
        self.real: Tensor | None = None
        self._feats: list[Tensor] = []
        self._logits: list[Tensor] = []
        self._index: list[Tensor] = []
        self.best: dict[str, float] = {}

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = dict(state.get("best", {}))

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self.feature.to(pl_module.device)
        if self.real is None:
            data = trainer.datamodule.real_images()
            self.real, _, _ = real_reference(data, self.feature, self.cache, max_images=self.max_real,
                                             batch_size=self.batch_size, device=pl_module.device)
        self._feats, self._logits, self._index = [], [], []

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        out = extract(self.feature, [outputs], logits="is" in self.metrics, device=pl_module.device)
        self._feats.append(out["features"])
        if "logits" in out:
            self._logits.append(out["logits"])
        self._index.append(batch.cpu())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        device = pl_module.device
        index = gather_rows(torch.cat(self._index).to(device)).cpu()
        order = index.argsort()  # the single-process sample order, whatever the number of ranks
        fake = {"features": gather_rows(torch.cat(self._feats).to(device)).cpu()[order]}
        if self._logits:
            fake["logits"] = gather_rows(torch.cat(self._logits).to(device)).cpu()[order]
        values = compute_metrics(self.real, fake, self.metrics, seed=self.seed)
        scalars = {f"val/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))}
        for key in ("fid", "kid"):  # best so far, for the HParams tab and sweeps comparing runs
            if key in values:
                self.best[key] = min(self.best.get(key, float("inf")), float(values[key]))
                scalars[f"val/{key}_best"] = self.best[key]
        scalars["val/eval_seconds"] = time.perf_counter() - self._start
        for key, value in scalars.items():
            # logged for checkpoints and the progress bar; written to the logger below at the right step
            pl_module.log(key, value, prog_bar=key == "val/fid", logger=False, rank_zero_only=True)
        if trainer.logger is not None and trainer.is_global_zero:
            # at the step the checkpoint carries, not Lightning's lagging batch counter
            trainer.logger.log_metrics(scalars, step=trainer.global_step)
