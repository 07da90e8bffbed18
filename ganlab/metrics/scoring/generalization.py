"""Train against test: the feature metrics of one set of generated features against both real splits.

A generator that copies its training images scores at the floor against the training set, but not against
images it never saw. FID depends on the number of reference images (its bias shrinks with N), so the gap is
taken between the test split and a seeded draw of as many training images ("train, matched"); the full training
reference gives the headline value that earlier numbers were measured with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ganlab.metrics.scoring.suite import compute_metrics

TWO_SAMPLE = ("fid", "kid", "prdc", "fid_inf", "cmmd")  # metrics comparing generated with real features
PROTOCOL = {"kid_subsets", "kid_subset_size", "prdc_k_pr", "prdc_k_dc"}  # settings echoed by compute_metrics


def matched_draw(real: Tensor, n: int, seed: int = 0) -> Tensor:
    """n rows of real [N, D] drawn without replacement by a private seeded generator (all of them when N <= n)."""
    if real.shape[0] <= n:
        return real
    return real[torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))[:n]]


def train_test_metrics(train: Tensor, test: Tensor, fake: dict[str, Tensor], metrics: Sequence[str], seed: int = 0,
                       **options: Any) -> dict[str, Any]:
    """``<name>_test``, ``<name>_train_matched`` (a training reference as large as the test split; both drawn to the
    smaller size when the training reference is the smaller) and
    ``fid_gap`` = fid_test - fid_train_matched (when fid is asked for), for the two-sample metrics.

    Args:
        train, test: real features [N_train, D], [N_test, D]; fake: generated rows ({"features": [M, D]}).
        metrics: metric names (one-sample metrics such as IS are skipped); options: compute_metrics' protocol.
    """
    names = [m for m in metrics if m in TWO_SAMPLE]
    n = min(train.shape[0], test.shape[0])  # equal reference sizes (a reference capped by real.max_images too)
    on_test = compute_metrics(matched_draw(test, n, seed), fake, names, seed=seed, **options)
    on_train = compute_metrics(matched_draw(train, n, seed), fake, names, seed=seed, **options)
    out = {f"{k}_test": v for k, v in on_test.items() if k not in PROTOCOL}
    out.update({f"{k}_train_matched": v for k, v in on_train.items() if k not in PROTOCOL})
    if "fid" in on_test:
        out["fid_gap"] = on_test["fid"] - on_train["fid"]
    return out
