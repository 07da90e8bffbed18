"""Test-only checkpoints in ganlab-train's layout holding only a generator (tiny, perturbed, with an EMA if asked)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from ganlab.config import build, compose

# the generator configs of conf/generator at test size (a config without an entry is tested at its own size)
TINY = {"mlp": ["generator.hidden=[16,16]"], "dcgan": ["generator.width=8"], "resnet": ["generator.width=16"],
        "r3gan": ["generator.widths=[16,16]", "generator.group_size=8"]}


def perturb(module: torch.nn.Module, seed: int, scale: float = 0.05) -> None:
    """Weights moved off their initialisation and BatchNorm statistics away from (0, 1), so eval-mode layers and
    zero-initialised residual branches (R3GAN's fix-up) all count."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif not name.endswith(("_u", "_v")):  # spectral norm's power-iteration vectors stay unit vectors
                t.add_(torch.randn(t.shape, generator=g) * scale)


def write_checkpoint(folder: Path, name: str, classes: int, ema: bool) -> Path:
    """A checkpoint in ganlab-train's layout holding a perturbed generator (and a different EMA of it)."""
    overrides = [f"generator={name}", "dataset.resolution=32", f"generator.num_classes={classes}", *TINY.get(name, [])]
    if classes and "spectral_norm" in compose([f"generator={name}", f"paths.output_dir={folder}"]).generator:
        overrides.append("generator.spectral_norm=true")  # exported with the normalisation baked in
    cfg = compose([f"paths.output_dir={folder}", *overrides])
    generator = build(cfg.generator, "generator").eval()
    perturb(generator, seed=1)
    state = {f"generator.{k}": v.clone() for k, v in generator.state_dict().items()}
    if ema:
        perturb(generator, seed=2)
        state.update({f"generator_ema.{k}": v.clone() for k, v in generator.state_dict().items()})
    path = folder / f"{name}{classes}.ckpt"
    torch.save({"state_dict": state, "global_step": 7, "ganlab": {"config": OmegaConf.to_container(cfg, resolve=True)}},
               path)
    return path
