"""ganlab-export: checkpoint -> the generator as one safetensors, TorchScript or ONNX file, with its metadata.

torch is imported once the arguments are checked and the thread count is set (``--help``, a missing ``ckpt=``,
an unknown ``format=`` and an existing output answer at once).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganlab.cli import boundary
from ganlab.cli.common import EVAL_CONFIG_DIR, USER_ERRORS, allowed_packages, checkpoint_arg, set_threads
from ganlab.cli.help import print_help, wants_help
from ganlab.config import ConfigError

log = logging.getLogger("ganlab.cli.export")


def out_path(cfg: DictConfig, ckpt: Path, weights: str) -> Path:
    """``out=``, or ``<checkpoint dir>/<stem>_generator_<weights><ext>``."""
    from ganlab.export import FORMATS

    return Path(cfg.out) if cfg.out else ckpt.parent / f"{ckpt.stem}_generator_{weights}{FORMATS[cfg.format]}"


def export(cfg: DictConfig) -> Path:
    """Check -> load the generator -> write the file; returns its path."""
    from ganlab.export import ExportError, check_format

    ckpt = Path(checkpoint_arg(cfg, "ganlab-export"))
    try:
        check_format(str(cfg.format))
    except ExportError as e:
        raise ConfigError(str(e)) from e
    if cfg.out and Path(cfg.out).exists() and not cfg.overwrite:
        raise ConfigError(f"out={cfg.out} already exists; choose another out= or set overwrite=true")
    set_threads(cfg)

    from ganlab.checkpoint import load_generator
    from ganlab.export import export as write

    loaded = load_generator(ckpt, ema=cfg.ema, device="cpu", member=cfg.get("member"), allow=allowed_packages(cfg))
    path = out_path(cfg, ckpt, "ema" if loaded.ema else "trained")
    if path.exists() and not cfg.overwrite:
        raise ConfigError(f"{path} already exists; choose another out= or set overwrite=true")
    options = {"dynamo": bool(cfg.onnx.dynamo), "opset": cfg.onnx.opset} if cfg.format == "onnx" else {}
    write(loaded, cfg.format, path, **options)
    log.info("%s generator of %s (step %s) written as %s: %s", "EMA" if loaded.ema else "trained", ckpt,
             f"{loaded.global_step:,}", cfg.format, path)
    return path


@hydra.main(version_base="1.3", config_path=EVAL_CONFIG_DIR, config_name="export")
def _main(cfg: DictConfig) -> None:
    with boundary.task("ganlab-export", user=USER_ERRORS):  # CheckpointError and ExportError are ValueErrors
        export(cfg)


@boundary.command("ganlab-export", user=USER_ERRORS)
def main() -> int | None:
    """Console entry point (``ganlab-export``)."""
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-export", __doc__.splitlines()[0], (
            "ganlab-export ckpt=outputs/DATE/TIME/checkpoints/best.ckpt format=onnx",
            "ganlab-export ckpt=... format=torchscript out=generator.torchscript.pt",
            "ganlab-export ckpt=... format=safetensors ema=false     # the trained weights, not the EMA",
        ), EVAL_CONFIG_DIR, "export", sys.argv[1:]))
    _main()


if __name__ == "__main__":
    sys.exit(main())
