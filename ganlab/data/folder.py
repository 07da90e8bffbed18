"""Images from a folder: ImageFolder layout (one sub-folder per class) or a flat folder of files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganlab.data.base import ImageData

log = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
_MODES = {1: "L", 3: "RGB"}
# PIL's high-bit-depth single-channel modes and the range each is scaled from to 0..255. PIL's own
# convert("L") clips them (a 16-bit image comes out almost all 255). "I" (32-bit int) is how PIL
# opens 16-bit PNG/TIFF in several versions, so it is read as 16-bit too; "F" is taken as [0, 1].
_WIDE_MODES = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 65535.0, "F": 1.0}
_ON_ERROR = ("skip", "raise")
# what PIL raises for unreadable files: UnidentifiedImageError and truncation are OSErrors; some
# decoders raise ValueError, SyntaxError (bad headers) or EOFError (short files)
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


def _unreadable(f: Path, e: Exception) -> ValueError:
    msg = (str(e).splitlines() or [""])[0]  # PIL messages are short; keep ours one line regardless
    return ValueError(f"cannot read image {str(f)!r}: {type(e).__name__}: {msg}")


def _is_image(p: Path, extensions: Sequence[str]) -> bool:
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in extensions


def scan_folder(path: str | Path, extensions: Sequence[str] = EXTENSIONS,
                max_images: int | None = None) -> tuple[list[Path], list[int] | None, list[str]]:
    """List a folder's images in sorted order.

    Args:
        path: a folder of images, or of class sub-folders holding images (searched recursively).
        extensions: file suffixes counted as images (case-insensitive).
        max_images: keep at most this many, evenly spaced over the sorted list so classes keep their share.

    Returns:
        (files, labels or None for a flat folder, class names); labels index the sorted class
        sub-folders that hold at least one image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {str(root)!r} does not exist or is not a folder; set dataset.source.path to a "
            f"folder of images (flat, or one sub-folder per class)"
        )
    exts = tuple(e.lower() for e in extensions)
    loose = sorted(p for p in root.iterdir() if _is_image(p, exts))
    classes, files, labels = [], [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = sorted(p for p in d.rglob("*") if _is_image(p, exts))
        if found:
            labels += [len(classes)] * len(found)
            classes.append(d.name)
            files += found
    if classes and loose:
        raise ValueError(
            f"image folder {str(root)!r} mixes class sub-folders with {len(loose)} loose images (e.g. "
            f"{loose[0].name}); move the loose images into a sub-folder or elsewhere"
        )
    if not classes:
        files, labels = loose, None
    if not files:
        raise ValueError(f"image folder {str(root)!r} holds no images with extensions {', '.join(exts)}")
    if max_images is not None and max_images < len(files):
        keep = torch.linspace(0, len(files) - 1, max(max_images, 1)).round().long().tolist()
        files = [files[i] for i in keep]
        labels = [labels[i] for i in keep] if labels is not None else None
    return files, labels, classes


def _to_8bit(im: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit int or float image as 8-bit "L", scaled by its mode's range; others unchanged.

    16-bit value v becomes round(v / 257) (65535 / 255 = 257: 0 -> 0, 257 -> 1, 65535 -> 255).
    """
    top = _WIDE_MODES.get(im.mode)
    if top is None:
        return im
    a = np.asarray(im).astype(np.float64)  # numpy reads the byte order from the mode (I;16B is big-endian)
    a = np.clip(a, 0.0, top) * (255.0 / top)
    return Image.fromarray(np.round(a).astype(np.uint8))  # [H, W] uint8 -> mode "L"


def read_image(file: Path, resolution: int, channels: int) -> Tensor:
    """Decode one image and fit it: shorter side resized to ``resolution`` (bicubic, antialiased),
    then centre-cropped. Raises PIL's own errors for unreadable files.

    Args:
        file: image path.
        resolution, channels: output size and channel count (1 -> "L", 3 -> "RGB").

    Returns:
        uint8 [channels, resolution, resolution].
    """
    with Image.open(file) as im:
        im = _to_8bit(im).convert(_MODES[channels])  # decodes fully here, so truncation errors surface now
    w, h = im.size
    if min(w, h) != resolution:
        s = resolution / min(w, h)
        # the shorter side lands exactly on resolution; the longer one is never shorter than it
        size = (max(resolution, round(w * s)), max(resolution, round(h * s)))
        im = im.resize(size, Image.Resampling.BICUBIC)  # PIL widens the kernel when shrinking
        w, h = size
    left, top = (w - resolution) // 2, (h - resolution) // 2
    im = im.crop((left, top, left + resolution, top + resolution))
    a = np.asarray(im, dtype=np.uint8).reshape(resolution, resolution, channels)  # [R, R, C]
    return torch.from_numpy(a.copy()).permute(2, 0, 1)  # [C, R, R]


def _check_args(resolution: int, channels: int) -> None:
    if channels not in _MODES:
        raise ValueError(f"channels={channels} is not supported for image folders; valid: 1 or 3")
    if resolution < 1:
        raise ValueError(f"resolution must be a positive number of pixels, got {resolution}")


def load_folder(path: str, resolution: int, channels: int, on_error: str = "skip",
                extensions: Sequence[str] = EXTENSIONS, max_images: int | None = None) -> ImageData:
    """Decode a whole image folder into memory.

    Args:
        path: ImageFolder layout (class sub-folders -> labels by sorted name) or a flat folder.
        resolution, channels: target size and channel count (1 or 3).
        on_error: "skip" unreadable files (one warning with a count) or "raise" on the first one.
        extensions: file suffixes counted as images.
        max_images: read at most this many files (evenly spaced over the sorted list).

    Returns:
        ImageData with x uint8 [N, channels, resolution, resolution], y int64 [N] or None.
    """
    if on_error not in _ON_ERROR:
        raise ValueError(f"unknown on_error {on_error!r}; valid: {', '.join(_ON_ERROR)}")
    _check_args(resolution, channels)
    files, labels, _ = scan_folder(path, extensions, max_images)
    # filled in place: no list of per-image arrays, no second copy from torch.stack
    x = torch.empty(len(files), channels, resolution, resolution, dtype=torch.uint8)
    kept: list[int] = []
    bad: list[Path] = []
    for i, f in enumerate(files):
        try:
            x[len(kept)] = read_image(f, resolution, channels)
        except _DECODE_ERRORS as e:
            if on_error == "raise":
                raise _unreadable(f, e) from e
            bad.append(f)
            continue
        kept.append(i)
    if bad:
        log.warning("skipped %d unreadable image(s) of %d in %s, e.g. %s", len(bad), len(files), path,
                    ", ".join(str(b) for b in bad[:3]))
    if not kept:
        raise ValueError(f"none of the {len(files)} images in {path!r} could be read")
    y = torch.tensor([labels[i] for i in kept], dtype=torch.int64) if labels is not None else None
    return ImageData(x=x[: len(kept)].clone() if bad else x, y=y, name=Path(path).expanduser().name)

