"""Stacked-MNIST-lite: three mnist5k digits stacked as RGB channels, 1,000 modes (Metz et al. 2017, Sec. 3.3.1).

The Unrolled GAN paper (and VEEGAN, PacGAN after it) stacks three randomly chosen MNIST digits into
the channels of one colour image; the triple of digit classes is one of 10^3 = 1,000 equally likely
modes. Here the digits come from the 5,000 embedded mnist5k digits (500 per class), so each channel's
class is exactly uniform and the set works offline. No published number applies to this variant.
"""

from __future__ import annotations

import torch

from ganlab.data.base import ImageData
from ganlab.data.mnist5k import load_mnist5k

NUM_MODES = 1000
# mode index = 100 * d_r + 10 * d_g + d_b: the triple read as a three-digit number
MODE_WEIGHTS = (100, 10, 1)


def load_stacked_mnist5k(n: int = 50_000, seed: int = 0, resolution: int = 32) -> ImageData:
    """A fixed, seeded stacked set: each channel an independently drawn mnist5k digit.

    The papers draw fresh triples on the fly (Unrolled GAN) or fix 128,000 of them (VEEGAN); a fixed
    set keeps ganlab's in-memory batches and resumable data order. The default 50,000 images hold
    50 per mode on average, every mode present (a given mode is missing with probability
    (1 - 1/1000)^50000 ~ 2e-22), in 50000 x 3 x 32 x 32 bytes = 154 MB;
    ``n=128000`` gives the VEEGAN protocol's size (393 MB).

    Args:
        n: number of stacked images.
        seed: seed of the digit draws (the same seed gives the same set).
        resolution: 32 (digits zero-padded from 28, as mnist5k) or 28 (native).

    Returns:
        ImageData with x uint8 [n, 3, R, R] (channel c is digit ``idx[:, c]`` of mnist5k) and
        y int64 [n] = 100 d_r + 10 d_g + d_b, the mode index in 0..999.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"dataset.source.n={n}; valid: an integer >= 1")
    digits = load_mnist5k(resolution=resolution, channels=1)  # x [5000, 1, R, R], y [5000]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(digits), (n, 3), generator=g)  # [n, 3]: a digit per channel, with replacement
    x = digits.x[:, 0][idx]  # [n, 3, R, R]
    y = (digits.y[idx] * torch.tensor(MODE_WEIGHTS)).sum(1)  # [n]
    return ImageData(x=x.contiguous(), y=y, name="stacked_mnist5k")
