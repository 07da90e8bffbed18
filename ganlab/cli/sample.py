"""ganlab-sample: checkpoint -> a PNG grid, per-image PNGs and a latent interpolation (PNG strips, GIF or MP4).

Truncation (``truncation.psi``, ``truncation.threshold``; ganlab/truncation.py) applies to the grid's z and to the
interpolation's endpoints.

torch is imported once the arguments are checked and the thread count is set (``--help`` answers at once).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from ganlab.animation import check_format
from ganlab.cli import boundary
from ganlab.cli.common import EVAL_CONFIG_DIR, USER_ERRORS, allowed_packages, checkpoint_arg, pick_device, set_threads
from ganlab.cli.help import print_help, wants_help
from ganlab.config import ConfigError
from ganlab.latent import check_path, path
from ganlab.truncation import Truncation, from_config

if TYPE_CHECKING:
    import torch
    from torch import Tensor

log = logging.getLogger("ganlab.cli.sample")


def grid_inputs(n: int, nrow: int, z_dim: int, num_classes: int, label: int | None,
                g: torch.Generator) -> tuple[Tensor, Tensor | None, int]:
    """(z [N, z_dim], labels [N] or None, images per row). Conditional models get one row per class."""
    import torch

    if label is not None:
        if not num_classes:
            raise ConfigError(f"class={label}: this generator is unconditional; remove class=")
        if not 0 <= label < num_classes:
            raise ConfigError(f"class={label}: valid classes are 0..{num_classes - 1}")
        return torch.randn(n, z_dim, generator=g), torch.full((n,), label), nrow
    if num_classes:
        y = torch.arange(num_classes).repeat_interleave(nrow)  # row c holds class c
        return torch.randn(len(y), z_dim, generator=g), y, nrow
    return torch.randn(n, z_dim, generator=g), None, nrow


def interpolation(rows: int, steps: int, z_dim: int, g: torch.Generator, mode: str = "linear",
                  truncation: Truncation | None = None) -> Tensor:
    """z [rows, steps, z_dim]: per row, ``steps`` points from one random z to another, endpoints included.

    The endpoints are drawn (and truncated) first, then joined linearly or along the sphere (ganlab.latent).
    """
    import torch

    a, b = torch.randn(rows, z_dim, generator=g), torch.randn(rows, z_dim, generator=g)
    if truncation is not None:
        a, b = truncation(a), truncation(b)
    return path(a, b, steps, mode)


def animation_frames(images: Tensor) -> Tensor:
    """Images [R, S, C, H, W] -> frames [2S - 2, 3, H', W'] in [0, 1]: a grid of the R walks at each step, forward
    then back, so the animation loops without a jump."""
    import math

    import torch

    from ganlab.callbacks.samples import to_grid

    rows, steps = images.shape[:2]
    nrow = math.ceil(math.sqrt(rows))
    order = list(range(steps)) + list(range(steps - 2, 0, -1))
    return torch.stack([to_grid(images[:, s], nrow) for s in order])


def check(cfg: DictConfig) -> tuple[Truncation | None, str]:
    """The truncation and the interpolation's file format, checked before any work (one-line errors)."""
    try:
        truncation = from_config(cfg.get("truncation"))
        interp = cfg.interpolation
        if interp.rows:
            check_path(interp.steps, interp.get("mode", "linear"))
            check_format(interp.get("format", "png"), interp.get("fps", 15))
    except ValueError as e:
        raise ConfigError(str(e)) from e
    return truncation, interp.get("format", "png")


def sample(cfg: DictConfig) -> dict[str, Path]:
    """Write the grid, the per-image files and the interpolation; returns their paths."""
    ckpt = checkpoint_arg(cfg, "ganlab-sample")
    truncation, fmt = check(cfg)
    out = Path(cfg.out)
    files_dir, strip = out.with_suffix(""), out.with_name(f"{out.stem}_interp.{fmt}")
    targets = [out] + ([files_dir] if cfg.files else []) + ([strip] if cfg.interpolation.rows else [])
    existing = [str(p) for p in targets if p.exists()]
    if existing and not cfg.overwrite:
        raise ConfigError(f"{', '.join(existing)} already exist(s); choose another out= or set overwrite=true")
    set_threads(cfg)
    import torch
    from torchvision.utils import save_image

    from ganlab.animation import write_animation
    from ganlab.callbacks.samples import to_grid
    from ganlab.checkpoint import load_generator

    device = pick_device(cfg.device)
    loaded = load_generator(ckpt, ema=cfg.ema, device=device, member=cfg.get("member"), allow=allowed_packages(cfg))
    g = torch.Generator().manual_seed(cfg.seed)
    z_dim = loaded.generator.z_dim
    z, y, nrow = grid_inputs(cfg.n, cfg.nrow, z_dim, loaded.num_classes, cfg.get("class"), g)
    if truncation is not None:
        z = truncation(z)
    with torch.no_grad():
        images = loaded.generator(z.to(device), None if y is None else y.to(device)).cpu()
        if images.dim() != 4:
            raise ConfigError("this generator makes flat samples, not images; ganlab-sample writes image grids")
        out.parent.mkdir(parents=True, exist_ok=True)
        save_image(to_grid(images, nrow), out)
        written = {"grid": out}
        if cfg.files:
            files_dir.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(images):
                save_image(image.add(1).div(2).clamp(0, 1), files_dir / f"{i:05d}.png")
            written["files"] = files_dir
        interp = cfg.interpolation
        if interp.rows:
            rows, steps = interp.rows, interp.steps
            zi = interpolation(rows, steps, z_dim, g, interp.get("mode", "linear"), truncation)  # [R, S, z_dim]
            yi = None
            if loaded.num_classes:  # one class per walk, fixed along it
                yi = (torch.arange(rows) % loaded.num_classes).repeat_interleave(steps).to(device)
            walks = loaded.generator(zi.reshape(rows * steps, z_dim).to(device), yi).cpu()  # [R * S, C, H, W]
            if fmt == "png":
                save_image(to_grid(walks, steps), strip)
            else:
                frames = animation_frames(walks.view(rows, steps, *walks.shape[1:]))
                write_animation(frames, strip, fps=interp.get("fps", 15), scale=interp.get("scale", 2))
            written["interpolation"] = strip
    for kind, path_ in written.items():
        log.info("%s: %s", kind, path_)
    return written


@hydra.main(version_base="1.3", config_path=EVAL_CONFIG_DIR, config_name="sample")
def _main(cfg: DictConfig) -> None:
    with boundary.task("ganlab-sample", user=USER_ERRORS):
        sample(cfg)


@boundary.command("ganlab-sample", user=USER_ERRORS)
def main() -> int | None:
    """Console entry point (``ganlab-sample``)."""
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-sample", __doc__.splitlines()[0], (
            "ganlab-sample ckpt=outputs/DATE/TIME/checkpoints/best.ckpt n=64 out=samples.png",
            "ganlab-sample ckpt=... class=3 interpolation.rows=4      # conditional models: one class",
            "ganlab-sample ckpt=... truncation.psi=0.7                # z scaled towards its mean",
            "ganlab-sample ckpt=... interpolation.format=gif interpolation.mode=spherical interpolation.steps=30",
        ), EVAL_CONFIG_DIR, "sample", sys.argv[1:]))
    _main()


if __name__ == "__main__":
    sys.exit(main())
