"""What the pretrained feature extractors (DINOv2, CLIP) share: weights read as data and hash-checked, built
without a random initialisation, and the resize to the network's input.

A weights file is only ever a local file named by a config key (``paths.dinov2_vitb14_weights``, ...): ganlab
downloads nothing, so offline use is the normal case and a missing file is a one-line error naming the key.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import safe

# How images reach the networks (recorded on the evaluation card and in the reference-cache key): the
# 8-bit RGB image a saved PNG would hold, resized as PIL's Image.resize(BICUBIC) resizes 8-bit images
# (a = -0.5 cubic, antialiased; width first, then height, each pass rounded and clipped to 8 bits), then
# the network's mean/std. dgm-eval (Stein et al. 2023) and google-research/cmmd (Jayasumana et al. 2024)
# resize their PNG files with PIL this way, so features of generated tensors match those of saved images
# (within 2 of 255 on a pixel; tests/metrics/test_pretrained.py compares with PIL).
RESIZE = ("uint8 RGB (grey repeated), PIL-equivalent bicubic (a=-0.5, antialiased, width then height, "
          "8-bit after each pass) to {size}x{size}")


def read_weights(path: str | None, *, key: str, what: str, file: str,
                 expected_sha256: str | None) -> tuple[dict[str, Tensor], str]:
    """The state dict in ``path`` (data only, tensors only) and the file's SHA-256.

    Args:
        path: the local weights file (None: not configured).
        key: the config key that names the file, e.g. ``paths.dinov2_vitb14_weights`` (named in every error).
        what: the network, e.g. "DINOv2 ViT-B/14", for the messages.
        file: the name of the published file, e.g. ``dinov2_vitb14_pretrain.pth``, for the messages.
        expected_sha256: a prefix the file's SHA-256 must start with (None: any file, its hash is recorded).

    Returns:
        (state dict name -> tensor, SHA-256 hex digest of the file's bytes).
    """
    if path is None:
        raise FileNotFoundError(f"{what} weights: none configured and ganlab downloads nothing; set {key}="
                                f"/path/to/{file}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{what} weights not found at {p}; set {key} to a local copy of {file}")
    data = p.read_bytes()
    if _is_torchscript(data):
        raise safe.BadFileError(f"{p} is a TorchScript archive (OpenAI's CLIP release), which a data-only load "
                                f"cannot read; convert it once with scripts/assets/convert_clip_weights.py and set "
                                f"{key} to the file it writes")
    # the hashed bytes themselves are loaded: a file swapped in meanwhile is never read
    state = safe.load(p, safe.Tensors, data=data, what=f"{what} weights (a state dict like {file})")
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and not digest.startswith(expected_sha256):
        raise ValueError(f"{p} has SHA-256 {digest[:16]}..., expected {expected_sha256}...: not the pinned {what} "
                         f"file, so its numbers are not comparable; to use it anyway set feature.expected_sha256=null")
    return state, digest


def _is_torchscript(data: bytes) -> bool:
    """True for a TorchScript zip (it holds code/ and constants.pkl; a torch.save file holds neither)."""
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        return False
    with zipfile.ZipFile(buffer) as z:
        return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in z.namelist())


def build_loaded(make: Callable[[], nn.Module], state: dict[str, Tensor], *, path: str, key: str,
                 what: str) -> nn.Module:
    """``make()`` built on the meta device (no random initialisation of 10^8 weights) and given ``state``.

    Returns:
        the network in float32, eval mode, no gradients; a file whose tensors do not fit is a one-line error.
    """
    with torch.device("meta"):
        net = make()
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True, assign=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors
        detail = " ".join(str(e).split())[:240]
        raise safe.BadFileError(f"{path}: its tensors do not fit {what} ({detail}); set {key} to the {what} "
                                f"weights") from e
    left = [n for n, t in (*net.named_parameters(), *net.named_buffers()) if t.is_meta]
    if left:  # a tensor the file could not fill (strict loading names those of the state dict only)
        raise safe.BadFileError(f"{path}: {what} has no value for {left[0]}; set {key} to the {what} weights")
    return net.eval().requires_grad_(False)


def resize_like_pil(x: Tensor, size: int, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> the network input [N, 3, size, size] (see ``RESIZE``)."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images [N, 1 or 3, H, W], got {tuple(x.shape)}")
    u = ((x.float().clamp(-1, 1) + 1) * 127.5).round()  # [N, C, H, W], the 8-bit values of a saved PNG
    u = u.expand(-1, 3, -1, -1) if u.shape[1] == 1 else u
    if u.shape[-2:] != (size, size):
        # torch's antialiased bicubic is PIL's filter; PIL's 8-bit path resizes width, then height, and
        # rounds and clips between the passes (which matters where the cubic overshoots 0 or 255)
        for shape in ((u.shape[-2], size), (size, size)):
            u = F.interpolate(u, size=shape, mode="bicubic", antialias=True, align_corners=False).round().clamp(0, 255)
    m = torch.tensor(mean, device=u.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=u.device).view(1, 3, 1, 1)
    return (u / 255 - m) / s
