"""The metric suite on feature matrices: which scores exist (``SCORES``, by name) and how a list of names
becomes their values; the names that carry a feature space; the real-vs-real floor.

Used by training-time evaluation (ganlab.metrics.feature_metrics.FeatureMetrics), ganlab-eval and the
calibration suite, so all of them produce the same numbers under the same protocol. A new score is one
function in ``ganlab.metrics.scoring.scores`` and one entry of ``SCORES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.metrics.scoring import scores


@dataclass(frozen=True)
class ScoreOptions:
    """The protocol settings of the scores (KID subsets, IS splits, PRDC neighbours, CMMD kernel, seed)."""

    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    k_pr: int = 3
    k_dc: int = 5
    cmmd_sigma: float = 10.0
    cmmd_scale: float = 1000.0
    cmmd_estimator: str = "unbiased"


# name -> score(real [N, D], fake {"features": [M, D], "logits": [M, C] for IS}, options) -> {value name: number}
Score = Callable[[Tensor, dict[str, Tensor], ScoreOptions], dict[str, Any]]
SCORES: dict[str, Score] = {
    "fid": lambda real, fake, o: {"fid": scores.fid(real, fake["features"])},
    "kid": lambda real, fake, o: scores.kid(real, fake["features"], subsets=o.kid_subsets,
                                            subset_size=o.kid_subset_size, seed=o.seed),
    "is": lambda real, fake, o: scores.inception_score(fake["logits"], splits=o.is_splits, seed=o.seed),
    "prdc": lambda real, fake, o: scores.prdc(real, fake["features"], k_pr=o.k_pr, k_dc=o.k_dc),
    "fid_inf": lambda real, fake, o: scores.fid_infinity(real, fake["features"], seed=o.seed),
    "cmmd": lambda real, fake, o: scores.cmmd(real, fake["features"], sigma=o.cmmd_sigma, scale=o.cmmd_scale,
                                              estimator=o.cmmd_estimator),
}
METRICS = tuple(SCORES)


def check_metrics(names: Sequence[str]) -> list[str]:
    """The requested metric names, or a one-line error listing the valid ones."""
    names = list(names)
    unknown = [n for n in names if n not in SCORES]
    if unknown or not names:
        raise ValueError(f"metrics={names}: unknown {unknown or 'empty list'}; valid: {', '.join(SCORES)}")
    return names


def compute_metrics(real: Tensor, fake: dict[str, Tensor], metrics: Sequence[str], seed: int = 0,
                    kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
                    k_pr: int = 3, k_dc: int = 5, cmmd_sigma: float = 10.0, cmmd_scale: float = 1000.0,
                    cmmd_estimator: str = "unbiased") -> dict[str, Any]:
    """The named metrics of generated features ``fake["features"]`` (and ``fake["logits"]``) vs ``real``."""
    options = ScoreOptions(seed, kid_subsets, kid_subset_size, is_splits, k_pr, k_dc, cmmd_sigma, cmmd_scale,
                           cmmd_estimator)
    out: dict[str, Any] = {}
    for name in check_metrics(metrics):
        out.update(SCORES[name](real, fake, options))
    return out


def protocol_names(values: dict[str, Any], suffix: str | None) -> dict[str, Any]:
    """``values`` under names that carry their feature space, for numbers reported side by side.

    With a suffix (e.g. ``dinov2_b14``, a feature extractor's ``tag``): ``fid`` -> ``fd_dinov2_b14`` (a Fréchet
    distance, but not in Inception features), ``kid`` -> ``kd_dinov2_b14``, any other name ``<name>_dinov2_b14``
    (``cmmd_dinov2_b14``, ``precision_dinov2_b14``, ``fd_inf_dinov2_b14``). Without one: unchanged.
    """
    if not suffix:
        return dict(values)
    renamed = {"fid": "fd", "kid": "kd"}
    out = {}
    for key, value in values.items():
        head, _, rest = key.partition("_")
        base = renamed.get(head, head) + (f"_{rest}" if rest else "")
        out[f"{base}_{suffix}"] = value
    return out


def feature_suffix(suffix: str | None, extractor: nn.Module) -> str | None:
    """The suffix of ``protocol_names``: ``"auto"`` -> the extractor's ``tag`` (None for extractors without one,
    e.g. Inception and the digit classifier, whose values keep their plain names ``fid``, ``kid``, ...)."""
    if suffix == "auto":
        return getattr(extractor, "tag", None)
    return suffix or None


def halves(real: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two disjoint random halves [N // 2, D] of real features [N, D] (a private seeded generator): the
    real-vs-real floor of a metric at half the reference size."""
    if real.shape[0] < 4:
        raise ValueError(f"floor=halves needs at least 4 reference images, got {real.shape[0]}")
    perm = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))
    half = real.shape[0] // 2
    return real[perm[:half]], real[perm[half : 2 * half]]
