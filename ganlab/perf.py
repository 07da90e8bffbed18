"""Speed switches for GPUs (all off by default): TF32, channels_last, torch.compile.

Mixed precision is Lightning's: ``trainer.precision=bf16-mixed`` runs every G and D forward under
autocast, the manual optimizer steps included.
"""

from __future__ import annotations

import torch
from torch import nn


def apply_perf(generator: nn.Module, discriminator: nn.Module, tf32: bool = False, channels_last: bool = False,
               compile: bool = False) -> torch.memory_format:
    """Apply the switches in place; returns the memory format real batches should use.

    Args:
        tf32: TF32 tensor cores for float32 matmuls and convolutions (Ampere and newer GPUs).
        channels_last: NHWC weights (and batches) for convolutional nets; faster on tensor cores.
        compile: ``nn.Module.compile`` on G and D (in place: checkpoint keys stay the same).
    """
    if tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        generator.to(memory_format=fmt)
        discriminator.to(memory_format=fmt)
    if compile:
        generator.compile()
        discriminator.compile()
    return fmt
