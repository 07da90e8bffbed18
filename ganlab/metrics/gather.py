"""Gathering per-sample rows over DDP ranks, back in the single-process sample order."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Processes in the default group (1 without torch.distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_rows(x: Tensor) -> Tensor:
    """Concatenate [n_r, ...] tensors of all ranks (sizes may differ) in rank order."""
    if world_size() == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, *x.shape[1:], dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


def gather_in_order(index: Tensor, device: torch.device | str = "cpu"):
    """A function gathering rows [n_r, ...] aligned with this rank's sample indices ``index`` [n_r]
    into [N, ...] on the CPU, sorted by index: the single-process order, whatever the number of ranks.

    ``device`` is where the collective runs (the module's device: NCCL gathers only CUDA tensors).
    """
    order = gather_rows(index.to(device)).cpu().argsort()  # [N]

    def gather(rows: Tensor) -> Tensor:
        return gather_rows(rows.to(device)).cpu()[order]

    return gather
