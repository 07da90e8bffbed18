"""FreezeD (Mo et al. 2020, "Freeze the Discriminator: a Simple Baseline for Fine-Tuning GANs"): keep D's first
N blocks fixed while fine-tuning, and train the rest (the later blocks and the head).

A "block" is defined by each discriminator family's ``block_list()`` (ordered from the input):

| family | ``block_list()`` | 32x32 default |
| --- | --- | --- |
| MLP (``ganlab.nets.mlp``) | each hidden layer (Linear + activation) | 3 |
| Maxout (``ganlab.nets.maxout``) | each maxout layer | 3 |
| DCGAN (``ganlab.nets.dcgan``) | each stride-2 conv stage (conv, BatchNorm, LeakyReLU) | 3 |
| SNGAN ResNet (``ganlab.nets.resnet``) | each residual block (with the attention layer after it) | 4 |
| R3GAN (``ganlab.nets.r3gan``) | each resolution stage (the input 1x1 conv joins the first) | 4 |

The head (the linear output, class projection / ACGAN classifier) is never part of a block.

``frozen`` turns a network's weight gradients off for one G or D update; it restores only what it turned off,
so blocks frozen here stay frozen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


def d_blocks(discriminator: nn.Module) -> list[nn.Module]:
    """The discriminator's blocks from the input on (its family's ``block_list()``), or a one-line error."""
    blocks = getattr(discriminator, "block_list", None)
    if not callable(blocks):
        raise ValueError(f"freeze.d_blocks: {type(discriminator).__name__} defines no block_list(); valid: "
                         f"freeze.d_blocks=0, or a discriminator family with block_list() (ganlab.nets.freeze)")
    return list(blocks())


def freeze_blocks(discriminator: nn.Module, blocks: int = 0) -> nn.Module:
    """``discriminator`` with the parameters of its first ``blocks`` blocks fixed (``requires_grad=False``).

    Frozen parameters get no gradient, so neither D's optimizer nor DDP touches them; their buffers
    (BatchNorm statistics, spectral norm's power-iteration vectors) still follow D's train/eval mode.

    Args:
        discriminator: a D whose family defines ``block_list()`` (see the module docstring).
        blocks: N >= 0 blocks to freeze, counted from the input (0: none).
    """
    if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < 0:
        raise ValueError(f"freeze.d_blocks={blocks}; valid: an integer >= 0 (0: nothing frozen)")
    if blocks == 0:
        return discriminator
    found = d_blocks(discriminator)
    if blocks > len(found):
        raise ValueError(f"freeze.d_blocks={blocks}: {type(discriminator).__name__} has {len(found)} blocks; "
                         f"valid: 0..{len(found)} (ganlab.nets.freeze defines a block per family)")
    for block in found[:blocks]:
        block.requires_grad_(False)
    return discriminator


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off weight gradients of ``module`` inside the block (gradients still flow through it).

    Done by hand instead of Lightning's ``toggle_optimizer``, which walks every parameter of
    every optimizer on each call; this walks only the one network.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
