"""Seeded evaluation noise: sample i's z depends only on (seed, i), whatever the batching or number of ranks."""

from __future__ import annotations

import torch
from torch import Tensor


def eval_noise(start: int, n: int, z_dim: int, seed: int = 0, block: int = 1024) -> Tensor:
    """z [n, z_dim] for evaluation samples start..start+n-1: sample i's z depends only on (seed, i).

    Noise is drawn in fixed blocks of ``block`` samples, each from its own seeded generator, so
    any batch size and any number of processes see the same z for the same sample.
    """
    rows = []
    for b in range(start // block, (start + n - 1) // block + 1):
        g = torch.Generator().manual_seed(seed * 1_000_003 + b)
        z = torch.randn(block, z_dim, generator=g)  # [block, z_dim]
        lo, hi = max(start - b * block, 0), min(start + n - b * block, block)
        rows.append(z[lo:hi])
    return torch.cat(rows)
