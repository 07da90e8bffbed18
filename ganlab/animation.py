"""Animated GIF / MP4 from a sequence of image grids, written with imageio (GIF through Pillow, MP4 through the
ffmpeg binary that the imageio-ffmpeg wheel ships), not a hand-written encoder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

FORMATS = ("png", "gif", "mp4")


def check_format(fmt: str, fps: object) -> None:
    """One-line ValueError for an output the writer cannot make."""
    if fmt not in FORMATS:
        raise ValueError(f"interpolation.format={fmt!r}; valid: {', '.join(FORMATS)} (png: a strip per row)")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 60:
        raise ValueError(f"interpolation.fps={fps}; valid: a number in (0, 60]")


def to_frames(grids: Tensor, scale: int = 1) -> Tensor:
    """Grids [F, C, H, W] in [0, 1] -> uint8 RGB frames [F, H*scale, W*scale, 3] (nearest upscaling)."""
    import torch

    x = grids.clamp(0, 1).mul(255).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    return x.permute(0, 2, 3, 1).contiguous()


def write_animation(grids: Tensor, path: str | Path, fps: float = 15, scale: int = 2) -> Path:
    """Write grids [F, C, H, W] in [0, 1] as an animation looping forever (.gif) or a video (.mp4)."""
    import imageio.v2 as imageio  # the v2 API picks the ffmpeg writer for .mp4 and Pillow for .gif

    path = Path(path)
    frames = to_frames(grids, scale).numpy()
    if path.suffix == ".gif":
        imageio.mimwrite(path, list(frames), duration=1000 / fps, loop=0)
    elif path.suffix == ".mp4":
        # yuv420p: the pixel format every player decodes; ffmpeg needs even sizes (macro_block_size=2)
        imageio.mimwrite(path, list(frames), fps=fps, codec="libx264", quality=8, pixelformat="yuv420p",
                         macro_block_size=2)
    else:
        raise ValueError(f"{path}: an animation is written as .gif or .mp4")
    return path
