"""The feature metrics (FID, KID, IS, PRDC, FID-infinity) as one metric object over one shared feature pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData
from ganlab.metrics.base import EvalMetric
from ganlab.metrics.evaluation import check_metrics, compute_metrics, extract, real_reference
from ganlab.metrics.reference import ReferenceCache


class FeatureMetrics(EvalMetric):
    """FID (Heusel et al. 2017), KID (Binkowski et al. 2018), IS (Salimans et al. 2016), PRDC (Naeem et al.
    2020) and FID-infinity (Chong & Forsyth 2020) of generated vs real features from one extractor.

    Generated samples are reduced to their features [B, D] (and class logits [B, C] for IS) batch by
    batch; real features come from the reference cache (computed once, reused by later runs and by
    ganlab-eval under the same protocol).

    Args:
        feature: feature extractor, images in [-1, 1] [N, C, H, W] -> [N, D] (``dataset.feature``).
        metrics: names from ``ganlab.metrics.evaluation.METRICS`` (logged as ``val/<name>``, plus the
            companions each gives, e.g. ``val/kid_std``, ``val/precision``).
        cache_dir: reference-feature cache folder (None: recompute in every run).
        max_real: real images in the reference (None: the whole training set).
        batch_size: images per feature-extractor call for the real set.
        seed: seed of subset draws (KID, IS, FID-infinity).
        kid_subsets, kid_subset_size, is_splits, k_pr, k_dc: the protocol of KID, IS and PRDC.
    """

    best: ClassVar[dict[str, str]] = {"fid": "min", "kid": "min"}  # for the HParams tab and sweeps comparing runs
    prog_bar: ClassVar[tuple[str, ...]] = ("fid",)

    def __init__(self, feature: nn.Module | None, metrics: Sequence[str] = ("fid",), cache_dir: str | None = None,
                 max_real: int | None = None, batch_size: int = 500, seed: int = 0, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, is_splits: int = 10, k_pr: int = 3, k_dc: int = 5) -> None:
        super().__init__()
        if feature is None:
            raise ValueError("feature=None: the dataset has no feature extractor (dataset.feature=null); "
                             "use metrics=none (or metrics=modes for 2-D toy sets)")
        self.feature, self.metrics = feature, check_metrics(metrics)
        self.cache = ReferenceCache(cache_dir)
        self.max_real, self.batch_size, self.seed = max_real, batch_size, seed
        self.options = {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size, "is_splits": is_splits,
                        "k_pr": k_pr, "k_dc": k_dc}
        self.real: Tensor | None = None  # [N_real, D], kept for the next evaluations

    def reference(self, data: ImageData, split: str = "train",
                  device: torch.device | str = "cpu") -> tuple[bool, dict[str, Any]]:
        """Load (or compute and cache) the real features of ``data``; returns (cache hit, reference identity)."""
        self.real, hit, identity = real_reference(data, self.feature, self.cache, split=split,
                                                  max_images=self.max_real, batch_size=self.batch_size,
                                                  device=device)
        return hit, identity

    def setup(self, trainer: Any, pl_module: Any) -> None:
        self.feature.to(pl_module.device)
        if self.real is None:
            self.reference(trainer.datamodule.real_images(), device=pl_module.device)

    def update(self, samples: Tensor, indices: Tensor) -> None:
        out = extract(self.feature, [samples], logits="is" in self.metrics, device=samples.device)
        self.add(**out)  # features [B, D] (+ logits [B, C])

    def compute(self) -> dict[str, float]:
        if self.real is None:
            raise ValueError("FeatureMetrics: no real reference; call setup() or reference() first")
        fake = {name: self.rows(name) for name in self._rows}
        return compute_metrics(self.real, fake, self.metrics, seed=self.seed, **self.options)
