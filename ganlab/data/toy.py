"""Toy 2-D mixtures for mode-collapse studies: the 8-Gaussian ring and the 25-Gaussian grid.

Protocol of PacGAN (Lin et al. 2018, their released code): ring means (cos 2πk/8, sin 2πk/8) for
k = 0..7 with std 0.01; grid means {-4, -2, 0, 2, 4}^2 with std 0.05; a fixed training set.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganlab.data.base import ImageData


def ring_means(modes: int = 8, radius: float = 1.0) -> Tensor:
    """[modes, 2]; angles 2πk/modes for k = 0..modes-1 (not linspace(0, 2π, modes), which repeats a mode)."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return radius * torch.stack([angles.cos(), angles.sin()], 1).float()


def grid_means(side: int = 5, spacing: float = 2.0) -> Tensor:
    """[side * side, 2]; e.g. {-4, -2, 0, 2, 4}^2 for side 5, spacing 2."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def mixture(means: Tensor, std: float, n: int, seed: int, name: str) -> ImageData:
    """n points [n, 2] drawn uniformly over the modes; labels are the mode indices."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, means.shape[0], (n,), generator=g)
    x = means[y] + std * torch.randn(n, 2, generator=g)
    return ImageData(x=x, y=y, name=name)


def load_ring(n: int = 100_000, modes: int = 8, radius: float = 1.0, std: float = 0.01, seed: int = 0) -> ImageData:
    """The ring of ``modes`` Gaussians (PacGAN/VEEGAN 2-D benchmark)."""
    return mixture(ring_means(modes, radius), std, n, seed, "ring")


def load_grid(n: int = 100_000, side: int = 5, spacing: float = 2.0, std: float = 0.05, seed: int = 0) -> ImageData:
    """The side x side grid of Gaussians (PacGAN/VEEGAN 2-D benchmark)."""
    return mixture(grid_means(side, spacing), std, n, seed, "grid")
