"""Interpolation paths in z, linear and spherical, for latent walks (ganlab-sample's strips and animations).

torch is imported inside the functions that compute, so the checks (``check_path``) run before any work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

INTERPOLATIONS = ("linear", "spherical")


def check_path(steps: Any, mode: Any) -> None:
    """One-line ValueError for an interpolation the tools cannot draw."""
    if mode not in INTERPOLATIONS:
        raise ValueError(f"interpolation.mode={mode!r}; valid: {', '.join(INTERPOLATIONS)}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"interpolation.steps={steps}; valid: an integer >= 2 (the endpoints included)")


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 - t) a + t b; a, b [R, D], t [S] -> [R, S, D]."""
    t = t.view(1, -1, 1)
    return a[:, None] + t * (b - a)[:, None]


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): the direction moves along the great
    circle from a to b at constant angular speed and the norm changes linearly; a, b [R, D], t [S] -> [R, S, D].
    Where a and b are (anti)parallel the direction falls back to the linear path."""
    import torch

    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)  # [R, 1]
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)  # unit directions
    omega = torch.arccos((ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0))[:, None]  # [R, 1, 1] angle a-b
    so = torch.sin(omega)
    t = t.view(1, -1, 1)  # [1, S, 1]
    wa = torch.where(so > eps, torch.sin((1 - t) * omega) / so.clamp_min(eps), 1 - t)  # [R, S, 1]
    wb = torch.where(so > eps, torch.sin(t * omega) / so.clamp_min(eps), t)
    direction = wa * ua[:, None] + wb * ub[:, None]  # [R, S, D]
    direction = direction / direction.norm(dim=2, keepdim=True).clamp_min(eps)  # unit (exactly, also in fallback)
    return direction * ((1 - t) * na[:, None] + t * nb[:, None])


def path(a: Tensor, b: Tensor, steps: int, mode: str = "linear") -> Tensor:
    """z [R, steps, D] from a [R, D] to b [R, D], endpoints included, linear or spherical."""
    import torch

    check_path(steps, mode)
    t = torch.linspace(0, 1, steps, dtype=a.dtype)
    return (lerp if mode == "linear" else slerp)(a, b, t)
