"""The feature metrics (FID, KID, IS, PRDC, FID-infinity) as one metric object over one shared feature pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData
from ganlab.metrics.extraction import extract, real_reference
from ganlab.metrics.metric import EvalMetric
from ganlab.metrics.reference_cache import ReferenceCache
from ganlab.metrics.scoring.suite import check_metrics, compute_metrics, feature_suffix, protocol_names


class FeatureMetrics(EvalMetric):
    """FID (Heusel et al. 2017), KID (Binkowski et al. 2018), IS (Salimans et al. 2016), PRDC (Naeem et al.
    2020), FID-infinity (Chong & Forsyth 2020) and CMMD (Jayasumana et al. 2024) of generated vs real
    features from one extractor.

    Generated samples are reduced to their features [B, D] (and class logits [B, C] for IS) batch by
    batch; real features come from the reference cache (computed once, reused by later runs and by
    ganlab-eval under the same protocol).

    Args:
        feature: feature extractor, images in [-1, 1] [N, C, H, W] -> [N, D] (``dataset.feature``).
        metrics: names from ``ganlab.metrics.scoring.suite.METRICS`` (logged as ``val/<name>``, plus the
            companions each gives, e.g. ``val/kid_std``, ``val/precision``).
        cache_dir: reference-feature cache folder (None: recompute in every run).
        max_real: real images in the reference (None: the whole training set).
        batch_size: images per feature-extractor call for the real set.
        seed: seed of subset draws (KID, IS, FID-infinity).
        kid_subsets, kid_subset_size, is_splits, k_pr, k_dc: the protocol of KID, IS and PRDC.
        cmmd_sigma, cmmd_scale, cmmd_estimator: the protocol of CMMD (``ganlab.metrics.scoring.scores.cmmd``).
        suffix: names that carry the feature space (``protocol_names``): "auto" (the extractor's ``tag``:
            ``val/fd_dinov2_b14``, ``val/cmmd_clip_l14_336``; Inception and digit features keep ``val/fid``),
            None (plain names) or a string.
    """

    def __init__(self, feature: nn.Module | None, metrics: Sequence[str] = ("fid",), cache_dir: str | None = None,
                 max_real: int | None = None, batch_size: int = 500, seed: int = 0, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, is_splits: int = 10, k_pr: int = 3, k_dc: int = 5,
                 cmmd_sigma: float = 10.0, cmmd_scale: float = 1000.0, cmmd_estimator: str = "unbiased",
                 suffix: str | None = "auto") -> None:
        super().__init__()
        if feature is None:
            raise ValueError("feature=None: the dataset has no feature extractor (dataset.feature=null); "
                             "use metrics=none (or metrics=modes for 2-D toy sets)")
        if cmmd_estimator not in ("unbiased", "biased"):
            raise ValueError(f"cmmd_estimator={cmmd_estimator!r}; valid: unbiased, biased")
        self.feature, self.metrics = feature, check_metrics(metrics)
        self.cache = ReferenceCache(cache_dir)
        self.max_real, self.batch_size, self.seed = max_real, batch_size, seed
        self.options = {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size, "is_splits": is_splits,
                        "k_pr": k_pr, "k_dc": k_dc, "cmmd_sigma": cmmd_sigma, "cmmd_scale": cmmd_scale,
                        "cmmd_estimator": cmmd_estimator}
        self.suffix = feature_suffix(suffix, feature)
        distances = list(protocol_names(dict.fromkeys(("fid", "kid", "cmmd")), self.suffix))
        # best so far of the distances (HParams tab, sweeps comparing runs); the FD in the progress bar
        self.best = dict.fromkeys(distances, "min")
        self.prog_bar = (distances[0],)
        self.real: Tensor | None = None  # [N_real, D], kept for the next evaluations

    def reference(self, data: ImageData, split: str = "train",
                  device: torch.device | str = "cpu") -> tuple[bool, dict[str, Any]]:
        """Load (or compute and cache) the real features of ``data``; returns (cache hit, reference identity)."""
        self.real, hit, identity = real_reference(data, self.feature, self.cache, split=split,
                                                  max_images=self.max_real, batch_size=self.batch_size,
                                                  device=device)
        return hit, identity

    def provides(self) -> dict[str, Any]:
        return {"feature": self.feature}

    def setup(self, trainer: Any, pl_module: Any) -> None:
        self.feature.to(pl_module.device)
        if self.real is None:
            self.reference(trainer.datamodule.real_images(), device=pl_module.device)

    def update(self, samples: Tensor, indices: Tensor) -> None:
        out = extract(self.feature, [samples], logits="is" in self.metrics, device=samples.device)
        self.add(**out)  # features [B, D] (+ logits [B, C])

    def generated(self) -> dict[str, Tensor]:
        """The generated rows of this evaluation: {"features": [M, D]} (and "logits" [M, C] for IS)."""
        return {name: self.rows(name) for name in self._rows}

    def compute(self) -> dict[str, float]:
        if self.real is None:
            raise ValueError("FeatureMetrics: no real reference; call setup() or reference() first")
        fake = self.generated()
        values = compute_metrics(self.real, fake, self.metrics, seed=self.seed, **self.options)
        return protocol_names(values, self.suffix)
