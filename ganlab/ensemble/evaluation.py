"""Per-member training-time evaluation of a seed ensemble, and the members' mean and standard error.

Each member's samples go through the same metric objects as a separate run's (one member at a time), so
member k's ``val/<name>/member<k>`` equals what its own run logs as ``val/<name>``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor

from ganlab.callbacks.evaluation import Evaluation
from ganlab.loggers.base import add_image, log_metrics
from ganlab.metrics.gather import gather_in_order
from ganlab.metrics.metric import EvalMetric


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(K), NaN for K = 1) of the members' values; NaNs skipped."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return math.nan, math.nan
    se = statistics.stdev(kept) / math.sqrt(len(kept)) if len(kept) > 1 else math.nan
    return statistics.fmean(kept), se


def summarize(per_member: list[dict[str, float]]) -> dict[str, float]:
    """``name/member<k>`` for each member's value, ``name_mean``, ``name_se`` and ``name`` (= the mean)."""
    out: dict[str, float] = {}
    for name in per_member[0]:
        values = [float(m[name]) for m in per_member]
        out.update({f"{name}/member{k}": v for k, v in enumerate(values)})
        mean, se = mean_se(values)
        out.update({name: mean, f"{name}_mean": mean, f"{name}_se": se})
    return out


class EnsembleEvaluation(Evaluation):
    """``Evaluation`` of every member: samples [K, B, ...] per batch, logged as ``val/<name>/member<k>``,
    ``val/<name>_mean``, ``val/<name>_se`` and ``val/<name>`` (the mean: what monitors and sweeps follow); each
    evaluation is appended to ``out`` (the run's ``checkpoints/metrics.json``) with the members' seeds.

    Args:
        metrics: name -> metric object, as ``Evaluation``.
        size: K members.
        out: metrics.json path (None: not written).
    """

    def __init__(self, metrics: dict[str, EvalMetric], size: int, out: str | None = None) -> None:
        super().__init__(metrics)
        self.size, self.out = size, Path(out) if out else None
        self._samples: list[Tensor] = []

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_start(trainer, pl_module)
        self._samples = []

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor,
                                batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._samples.append(outputs.detach().cpu())  # [K, B, ...]
        self._index.append(batch.cpu())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._index:
            return
        gather = gather_in_order(torch.cat(self._index), pl_module.device)
        per_member: list[dict[str, float]] = []
        images: dict[str, object] = {}
        for k in range(self.size):
            values: dict[str, float] = {}
            for metric in self.metrics.values():
                metric.reset()
                for samples, batch in zip(self._samples, self._index, strict=True):
                    metric.update(samples[k].to(pl_module.device), batch)
                metric.sync(gather)
                values.update({n: float(v) for n, v in metric.compute().items() if isinstance(v, (int, float))})
                if trainer.is_global_zero:
                    images.update({f"{tag}/member{k}": image for tag, image in metric.images().items()})
            per_member.append(values)
        scalars = {f"val/{name}": v for name, v in summarize(per_member).items()}
        for metric in self.metrics.values():  # best so far of the members' mean
            for key, mode in metric.best.items():
                if f"val/{key}" in scalars:
                    pick = min if mode == "min" else max
                    self.best[key] = pick(self.best.get(key, math.inf if mode == "min" else -math.inf),
                                          scalars[f"val/{key}"])
                    scalars[f"val/{key}_best"] = self.best[key]
        scalars["val/eval_seconds"] = time.perf_counter() - self._start
        for key, value in scalars.items():
            pl_module.log(key, value, logger=False, rank_zero_only=True)
        if not trainer.is_global_zero:
            return
        self._write(trainer, pl_module, per_member, scalars)
        log_metrics(trainer, scalars, trainer.global_step)
        for tag, image in images.items():
            add_image(trainer, tag, image, trainer.global_step)

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, per_member: list[dict[str, float]],
               scalars: dict[str, float]) -> None:
        """Append this evaluation to metrics.json (ganlab-eval's format: {"evaluations": [record, ...]})."""
        if self.out is None:
            return
        seeds = list(getattr(pl_module, "seeds", range(self.size)))
        summary = {k[len("val/"):]: v for k, v in scalars.items()
                   if k.endswith(("_mean", "_se")) and "/member" not in k}
        record = {"kind": "ensemble", "global_step": int(trainer.global_step), "seeds": seeds, "metrics": summary,
                  "members": [{"member": k, "seed": s, "metrics": per_member[k]} for k, s in enumerate(seeds)],
                  "card": {"generator": "ema" if getattr(pl_module, "generator_ema", None) is not None else "trained",
                           "ensemble": self.size,
                           "num_generated": int(sum(b.shape[0] for b in self._index))}}
        records = json.loads(self.out.read_text())["evaluations"] if self.out.is_file() else []
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"evaluations": [*records, record]}, indent=1, allow_nan=True))
        tmp.replace(self.out)
