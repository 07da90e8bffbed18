"""Evaluation noise: the same z for the same sample index, whatever the batching."""

from __future__ import annotations

import torch

from ganlab.metrics.noise import eval_noise


def test_eval_noise_is_independent_of_batching():
    whole = eval_noise(0, 3000, 5, seed=2)
    pieces = torch.cat([eval_noise(s, min(7, 3000 - s), 5, seed=2) for s in range(0, 3000, 7)])
    assert torch.equal(whole, pieces)
    assert torch.equal(eval_noise(1020, 10, 5, seed=2), whole[1020:1030])  # across a block border
    assert not torch.equal(whole, eval_noise(0, 3000, 5, seed=3))


def test_eval_noise_is_the_seeded_block_draw():
    # block b of seed s is torch.randn(1024, z_dim) from a generator seeded s * 1_000_003 + b: runs and
    # checkpoints evaluated before this module moved see the very same z
    block1 = torch.randn(1024, 3, generator=torch.Generator().manual_seed(7 * 1_000_003 + 1))
    assert torch.equal(eval_noise(1024 + 10, 5, 3, seed=7), block1[10:15])
