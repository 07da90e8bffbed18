"""CLIP image embeddings (Radford et al. 2021) as features: the space of CMMD (Jayasumana et al. 2024,
ViT-L/14 at 336 px) and of FD in CLIP space (Kynkäänniemi et al. 2023), loaded offline.

The network is torch-fidelity's port of OpenAI's CLIP image tower (``CLIPVisual``); its weights come from a
local state dict. OpenAI publishes TorchScript archives, which a data-only load cannot read:
scripts/assets/convert_clip_weights.py checks such an archive against the SHA-256 OpenAI publishes in its URL and
writes its image-tower tensors as a plain state dict once.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ganlab.metrics.extractors.pretrained import RESIZE, build_loaded, read_weights, resize_like_pil

# OpenAI CLIP's image normalisation (clip/clip.py, and scenic's normalize_image used by CMMD)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Arch:
    """One CLIP image tower: torch-fidelity's model name (for the published hash), sizes, OpenAI's file."""

    fidelity_name: str
    embed_dim: int
    resolution: int
    layers: int
    width: int
    patch: int
    file: str
    label: str


ARCHS = {
    "vitb32": Arch("clip-vit-b-32", 512, 224, 12, 768, 32, "ViT-B-32.pt", "ViT-B/32"),
    "vitl14": Arch("clip-vit-l-14", 768, 224, 24, 1024, 14, "ViT-L-14.pt", "ViT-L/14"),
    "vitl14_336": Arch("clip-vit-l-14-336px", 768, 336, 24, 1024, 14, "ViT-L-14-336px.pt", "ViT-L/14@336px"),
}


def arch_of(arch: str) -> Arch:
    if arch not in ARCHS:
        raise ValueError(f"feature.arch={arch!r}: unknown CLIP image tower; valid: {', '.join(ARCHS)}")
    return ARCHS[arch]


def image_tower(arch: str) -> nn.Module:
    """torch-fidelity's CLIPVisual of ``arch`` (state dict keys ``visual.*``, as in OpenAI's files)."""
    from torch_fidelity.feature_extractor_clip import CLIPVisual

    a = arch_of(arch)
    return CLIPVisual(a.embed_dim, a.resolution, a.layers, a.width, a.patch)


class CLIPFeatures(nn.Module):
    """CLIP image embeddings (the projected class token, not normalised): images -> [N, embed_dim].

    CMMD L2-normalises them itself (``ganlab.metrics.scoring.scores.cmmd``); FD uses them as they are.

    Args:
        weights: a state dict of OpenAI CLIP's tensors (at least ``visual.*``), as written by
            scripts/assets/convert_clip_weights.py (the config key ``weights_key``).
        arch: ``vitb32``, ``vitl14`` or ``vitl14_336`` (CMMD's reference encoder).
        expected_sha256: prefix the file's SHA-256 must start with; None accepts any file (its hash is
            recorded on every evaluation card and in the reference-cache key).
        weights_key: the config key named in errors about the weights file.
    """

    def __init__(self, weights: str | None, arch: str = "vitl14", expected_sha256: str | None = None,
                 weights_key: str = "feature.weights") -> None:
        super().__init__()
        a = arch_of(arch)
        what = f"CLIP {a.label}"
        state, self.sha256 = read_weights(weights, key=weights_key, what=what, file=f"{a.file} converted by "
                                          f"scripts/assets/convert_clip_weights.py", expected_sha256=expected_sha256)
        state = {k: v for k, v in state.items() if k.startswith("visual.")}  # the text tower is not used
        self.net = build_loaded(lambda: image_tower(arch), state, path=str(weights), key=weights_key, what=what)
        self.arch, self.input_size, self.num_features = arch, a.resolution, a.embed_dim
        self.name = f"clip_{arch}"
        self.tag = f"clip_{arch[3:]}"  # metric names: cmmd_clip_l14, fd_clip_l14_336
        self.resize = RESIZE.format(size=a.resolution) + ", CLIP mean/std (as google-research/cmmd)"

    def train(self, mode: bool = True) -> CLIPFeatures:
        """Stay in eval mode whatever is asked."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> image embeddings float32 [N, embed_dim]."""
        device = self.net.visual.proj.device
        return self.net.visual(resize_like_pil(x.to(device), self.input_size, CLIP_MEAN, CLIP_STD)).float()


def published_sha256(arch: str) -> str:
    """SHA-256 of OpenAI's release file of ``arch`` (from its download URL, as torch-fidelity's table holds it)."""
    from torch_fidelity.feature_extractor_clip import MODEL_METADATA

    return MODEL_METADATA[arch_of(arch).fidelity_name]["hash"]


def convert_openai_release(src: str | Path, out: str | Path, expected_sha256: str) -> str:
    """Write the image-tower tensors (``visual.*``) of OpenAI's TorchScript CLIP file ``src`` as a plain state dict.

    ``torch.jit.load`` reads code as well as data, so only the exact published file is opened: its SHA-256 must
    equal ``expected_sha256`` (``published_sha256``), and exactly the hashed bytes are loaded. ``out`` is then
    read by ``CLIPFeatures`` with ``torch.load(weights_only=True)``; an existing ``out`` is never replaced.

    Returns:
        the SHA-256 of the written file (what evaluation cards will record).
    """
    src, out = Path(src), Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another output path")
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise ValueError(f"{src} has SHA-256 {digest[:16]}..., not OpenAI's published {expected_sha256[:16]}... for "
                         f"this model; refusing to open it with torch.jit.load (it can hold code)")
    state = torch.jit.load(io.BytesIO(data), map_location="cpu").state_dict()
    visual = {k: v.detach().clone().contiguous() for k, v in state.items() if k.startswith("visual.")}
    if not visual:
        raise ValueError(f"{src} holds no visual.* tensors; expected an OpenAI CLIP release file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f"{out.suffix}.tmp")
    torch.save(visual, tmp)
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()
