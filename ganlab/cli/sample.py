"""ganlab-sample: checkpoint -> a PNG grid, per-image PNGs and a latent interpolation strip.

torch is imported once the arguments are checked and the thread count is set (``--help`` answers at once).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from ganlab.cli.common import EVAL_CONFIG_DIR, allowed_packages, checkpoint_arg, pick_device, set_threads
from ganlab.cli.help import print_help, wants_help
from ganlab.config import ConfigError

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


def interpolation(rows: int, steps: int, z_dim: int, g: torch.Generator) -> Tensor:
    """z [rows * steps, z_dim]: per row, linear steps from one random z to another, endpoints included."""
    import torch

    a, b = torch.randn(rows, 1, z_dim, generator=g), torch.randn(rows, 1, z_dim, generator=g)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    return (a + t * (b - a)).reshape(rows * steps, z_dim)


def sample(cfg: DictConfig) -> dict[str, Path]:
    """Write the grid, the per-image files and the strip; returns their paths."""
    ckpt = checkpoint_arg(cfg, "ganlab-sample")
    out = Path(cfg.out)
    files_dir, strip = out.with_suffix(""), out.with_name(f"{out.stem}_interp.png")
    targets = [out] + ([files_dir] if cfg.files else []) + ([strip] if cfg.interpolation.rows else [])
    existing = [str(p) for p in targets if p.exists()]
    if existing and not cfg.overwrite:
        raise ConfigError(f"{', '.join(existing)} already exist(s); choose another out= or set overwrite=true")
    set_threads(cfg)
    import torch
    from torchvision.utils import save_image

    from ganlab.callbacks.samples import to_grid
    from ganlab.checkpoint import load_generator

    device = pick_device(cfg.device)
    loaded = load_generator(ckpt, ema=cfg.ema, device=device, member=cfg.get("member"), allow=allowed_packages(cfg))
    g = torch.Generator().manual_seed(cfg.seed)
    z_dim = loaded.generator.z_dim
    z, y, nrow = grid_inputs(cfg.n, cfg.nrow, z_dim, loaded.num_classes, cfg.get("class"), g)
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
        if cfg.interpolation.rows:
            zi = interpolation(cfg.interpolation.rows, cfg.interpolation.steps, z_dim, g).to(device)
            yi = None
            if loaded.num_classes:  # one class per strip, fixed along it
                yi = (torch.arange(cfg.interpolation.rows) % loaded.num_classes).repeat_interleave(
                    cfg.interpolation.steps).to(device)
            save_image(to_grid(loaded.generator(zi, yi).cpu(), cfg.interpolation.steps), strip)
            written["interpolation"] = strip
    for kind, path in written.items():
        log.info("%s: %s", kind, path)
    return written


@hydra.main(version_base="1.3", config_path=EVAL_CONFIG_DIR, config_name="sample")
def _main(cfg: DictConfig) -> None:
    try:
        sample(cfg)
    except (ConfigError, FileNotFoundError, ValueError) as e:  # CheckpointError is a ValueError
        sys.exit(f"ganlab-sample: error: {str(e).splitlines()[0]}")


def main() -> None:
    """Console entry point (``ganlab-sample``)."""
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-sample", __doc__.splitlines()[0], (
            "ganlab-sample ckpt=outputs/DATE/TIME/checkpoints/best.ckpt n=64 out=samples.png",
            "ganlab-sample ckpt=... class=3 interpolation.rows=4      # conditional models: one class",
        ), EVAL_CONFIG_DIR, "sample", sys.argv[1:]))
    _main()


if __name__ == "__main__":
    main()
