"""Controlled, seeded distortions of a labelled real image set: the calibration suite's "generators".

Each distortion takes real images [N, C, H, W] in [-1, 1] (background -1), their labels [N], a
strength and a ``torch.Generator``, and returns ``n`` images [n, C, H, W] in [-1, 1]: pixel
distortions of a random ``n``-subset, or a re-weighting of the real set (classes dropped, one class
over-represented, collapse, copies of a few images). The same seed gives the same images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Distort = Callable[[Tensor, Tensor, float, int, torch.Generator], Tensor]


def _subset(x: Tensor, n: int, g: torch.Generator) -> Tensor:
    """A random n-subset of x [N, ...] (without replacement; N >= n)."""
    if n > x.shape[0]:
        raise ValueError(f"asked for {n} distorted images of {x.shape[0]} real ones; use n <= {x.shape[0]}")
    return x[torch.randperm(x.shape[0], generator=g)[:n]]


def _draw(pool: Tensor, n: int, g: torch.Generator) -> Tensor:
    """n rows of pool [P, ...]: a random subset when P >= n, else every row, repeated in random order."""
    if pool.shape[0] >= n:
        return _subset(pool, n, g)
    reps = pool.repeat((math.ceil(n / pool.shape[0]),) + (1,) * (pool.dim() - 1))
    return _subset(reps, n, g)


def half(x: Tensor, y: Tensor, strength: float, n: int, g: torch.Generator) -> Tensor:
    """The floor: a random n-subset of the reals, unchanged."""
    return _subset(x, n, g)


def gaussian_noise(x: Tensor, y: Tensor, sigma: float, n: int, g: torch.Generator) -> Tensor:
    """Additive N(0, sigma^2) noise on every pixel (sigma in [-1, 1] units), clamped to [-1, 1]."""
    s = _subset(x, n, g)
    return (s + sigma * torch.randn(s.shape, generator=g)).clamp(-1, 1)


def salt(x: Tensor, y: Tensor, fraction: float, n: int, g: torch.Generator) -> Tensor:
    """A ``fraction`` of the pixels, drawn independently, set to white (+1)."""
    s = _subset(x, n, g).clone()
    s[torch.rand(s.shape, generator=g) < fraction] = 1.0
    return s


def box_blur(x: Tensor, y: Tensor, size: float, n: int, g: torch.Generator) -> Tensor:
    """k x k box blur (k odd), the border padded with background (-1)."""
    k = int(size)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"box blur size must be an odd integer >= 1, got {size}")
    s = F.pad(_subset(x, n, g), (k // 2,) * 4, value=-1.0)
    return F.avg_pool2d(s, k, stride=1)


def shift(x: Tensor, y: Tensor, pixels: float, n: int, g: torch.Generator) -> Tensor:
    """Each image translated by ``pixels`` in one random direction of the four axes, filled with -1."""
    p = int(pixels)
    s = _subset(x, n, g)
    h, w = s.shape[-2:]
    padded = F.pad(s, (p, p, p, p), value=-1.0)  # [n, C, H+2p, W+2p]
    direction = torch.randint(0, 4, (n,), generator=g)
    dy = torch.tensor([p, -p, 0, 0])[direction] + p  # offsets into padded, [n]
    dx = torch.tensor([0, 0, p, -p])[direction] + p
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # [n, 1, H, 1]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # [n, 1, 1, W]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(s.shape[1])[None, :, None, None], rows, cols]


def rotate_by(x: Tensor, radians: Tensor) -> Tensor:
    """Images [n, C, H, W] rotated by radians [n] about their centres, nearest pixel, filled with -1.

    Nearest, not bilinear: resampling a sharp digit bilinearly blurs it, a distortion of its own.
    """
    n = x.shape[0]
    c, s, zero = radians.cos(), radians.sin(), torch.zeros(n)
    theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)  # [n, 2, 3]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # sample x + 1 so the zero padding of grid_sample is the -1 background
    return F.grid_sample(x + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False) - 1


def rotate(x: Tensor, y: Tensor, degrees: float, n: int, g: torch.Generator) -> Tensor:
    """Each image rotated by +-``degrees`` (random sign) about its centre (``rotate_by``)."""
    s = _subset(x, n, g)
    sign = torch.randint(0, 2, (n,), generator=g).float() * 2 - 1
    return rotate_by(s, sign * math.radians(degrees))


def drop_classes(x: Tensor, y: Tensor, k: float, n: int, g: torch.Generator) -> Tensor:
    """Only the reals of 10 - k random classes (k classes missing), classes kept in equal shares."""
    classes = torch.unique(y)
    keep = classes[torch.randperm(len(classes), generator=g)[: len(classes) - int(k)]]
    return _draw(x[torch.isin(y, keep)], n, g)


def over_represent(x: Tensor, y: Tensor, share: float, n: int, g: torch.Generator) -> Tensor:
    """One random class makes ``share`` of the set (the real share is 1/10), the rest real as it is."""
    classes = torch.unique(y)
    c = classes[torch.randint(0, len(classes), (1,), generator=g)]
    m = round(share * n)
    return torch.cat([_draw(x[y == c], m, g), _draw(x[y != c], n - m, g)])


def collapse(x: Tensor, y: Tensor, digit: float, n: int, g: torch.Generator) -> Tensor:
    """Complete mode collapse: only the reals of class ``digit`` (each repeated as needed)."""
    pool = x[y == int(digit)]
    if pool.shape[0] == 0:
        raise ValueError(f"collapse: no real image has label {int(digit)}; valid: {torch.unique(y).tolist()}")
    return _draw(pool, n, g)


def memorize(x: Tensor, y: Tensor, copies_of: float, n: int, g: torch.Generator) -> Tensor:
    """Memorization: exact copies of ``copies_of`` random training images, each repeated to fill n."""
    return _draw(_subset(x, int(copies_of), g), n, g)


@dataclass(frozen=True)
class Family:
    """A distortion and its strengths, mildest first (a metric should grow along them)."""

    name: str
    fn: Distort
    strengths: tuple[float, ...]
    unit: str
    pixel: bool  # a distortion of each image (vs. of the set's composition)


FAMILIES: tuple[Family, ...] = (
    Family("half", half, (0,), "", False),
    Family("gaussian_noise", gaussian_noise, (0.05, 0.1, 0.2, 0.3), "sigma", True),
    Family("salt", salt, (0.02, 0.05, 0.1), "fraction", True),
    Family("box_blur", box_blur, (3, 5), "px", True),
    Family("shift", shift, (1, 2, 3), "px", True),
    Family("rotate", rotate, (5, 10, 20), "deg", True),
    Family("drop_classes", drop_classes, (1, 3, 5), "classes", False),
    Family("over_represent", over_represent, (0.2, 0.35, 0.5), "share", False),
    Family("memorize", memorize, (1000, 100, 10), "images", False),
    Family("collapse", collapse, (1,), "digit", False),
)
FAMILY = {f.name: f for f in FAMILIES}


def distort(x: Tensor, y: Tensor, family: str, strength: float, n: int = 2500, seed: int = 0) -> Tensor:
    """``n`` images of distortion ``family`` at ``strength`` of reals x [N, C, H, W] in [-1, 1], labels y [N].

    Returns:
        float [n, C, H, W] in [-1, 1]; the same (family, strength, n, seed) gives the same images.
    """
    if family not in FAMILY:
        raise ValueError(f"unknown distortion {family!r}; valid: {', '.join(FAMILY)}")
    if x.dim() != 4 or y.shape != (x.shape[0],):
        raise ValueError(f"expected images [N, C, H, W] and labels [N], got {tuple(x.shape)} and {tuple(y.shape)}")
    g = torch.Generator().manual_seed(seed)
    return FAMILY[family].fn(x.float(), y, strength, n, g).contiguous()
