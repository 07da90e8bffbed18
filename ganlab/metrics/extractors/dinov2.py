"""DINOv2 (Oquab et al. 2023) image features, the FD_DINOv2 space of Stein et al. 2023, loaded offline.

The network is timm's VisionTransformer: torch-fidelity's DINOv2 extractor fetches Meta's model code from
torch.hub at run time (network, and code from outside), and torchvision's ViT has no LayerScale. Meta's
``dinov2_vit*14_pretrain.pth`` files are plain state dicts whose names timm's ViT shares, except two things
adapted on load, as DINOv2's own code does at run time: the position embedding is stored for a 37x37 patch
grid (518 px) and is resampled to the input's grid, and ``mask_token`` (used only in training) is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.metrics.extractors.pretrained import RESIZE, build_loaded, read_weights, resize_like_pil

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation of DINOv2's training and of dgm-eval
IMAGENET_STD = (0.229, 0.224, 0.225)
PATCH = 14


@dataclass(frozen=True)
class Arch:
    """One DINOv2 backbone: its width, depth and heads, and the published file."""

    embed_dim: int
    depth: int
    heads: int
    file: str
    label: str


ARCHS = {
    "vitb14": Arch(768, 12, 12, "dinov2_vitb14_pretrain.pth", "ViT-B/14"),
    "vitl14": Arch(1024, 24, 16, "dinov2_vitl14_pretrain.pth", "ViT-L/14"),
}


def arch_of(arch: str) -> Arch:
    if arch not in ARCHS:
        raise ValueError(f"feature.arch={arch!r}: unknown DINOv2 backbone; valid: {', '.join(ARCHS)}")
    return ARCHS[arch]


def vit(arch: str, input_size: int) -> nn.Module:
    """timm's ViT with DINOv2's layout for ``input_size`` px inputs; returns the normed class token [N, D]."""
    from timm.models.vision_transformer import VisionTransformer  # timm imports torchvision: only when used

    a = arch_of(arch)
    # init_values: LayerScale present (the file sets its gammas); LayerNorm eps 1e-6 is timm's ViT default;
    # global_pool="token" with num_classes=0: the output is norm(x)[:, 0], DINOv2's x_norm_clstoken
    return VisionTransformer(img_size=input_size, patch_size=PATCH, embed_dim=a.embed_dim, depth=a.depth,
                             num_heads=a.heads, mlp_ratio=4.0, qkv_bias=True, init_values=1.0, num_classes=0,
                             global_pool="token")


def resample_pos_embed(pos_embed: Tensor, input_size: int) -> Tensor:
    """[1, 1 + M*M, D] position embedding (M x M patch grid) -> [1, 1 + G*G, D] for G = input_size // 14.

    DINOv2's interpolate_pos_encoding, done once at load instead of in every forward: bicubic, no
    antialiasing, scale factor (G + 0.1) / M (the 0.1 avoids a floating-point off-by-one in the output size).
    """
    g, m, d = input_size // PATCH, math.isqrt(pos_embed.shape[1] - 1), pos_embed.shape[2]
    if g == m:
        return pos_embed
    grid = pos_embed[:, 1:].float().reshape(1, m, m, d).permute(0, 3, 1, 2)  # [1, D, M, M]
    scale = (g + 0.1) / m
    grid = F.interpolate(grid, scale_factor=(scale, scale), mode="bicubic", align_corners=False)  # [1, D, G, G]
    grid = grid.permute(0, 2, 3, 1).reshape(1, g * g, d)
    return torch.cat([pos_embed[:, :1].float(), grid], dim=1)


class DINOv2Features(nn.Module):
    """DINOv2 class-token features (Stein et al. 2023's FD_DINOv2 uses ViT-L/14 at 224 px): images -> [N, D].

    Args:
        weights: local copy of Meta's ``dinov2_vit{b,l}14_pretrain.pth`` (the config key ``weights_key``).
        arch: ``vitb14`` (768-d) or ``vitl14`` (1024-d).
        expected_sha256: prefix the file's SHA-256 must start with; None accepts any file (its hash is
            recorded on every evaluation card and in the reference-cache key).
        input_size: the side of the network's input, a multiple of 14 (224: Stein et al.'s protocol).
        weights_key: the config key named in errors about the weights file.
    """

    def __init__(self, weights: str | None, arch: str = "vitl14", expected_sha256: str | None = None,
                 input_size: int = 224, weights_key: str = "feature.weights") -> None:
        super().__init__()
        a = arch_of(arch)
        if input_size < PATCH or input_size % PATCH:
            raise ValueError(f"feature.input_size={input_size}: DINOv2 needs a multiple of {PATCH} (224: the "
                             f"FD_DINOv2 protocol)")
        what = f"DINOv2 {a.label}"
        state, self.sha256 = read_weights(weights, key=weights_key, what=what, file=a.file,
                                          expected_sha256=expected_sha256)
        state = dict(state)
        state.pop("mask_token", None)  # the masked-image-modelling token of training
        if "pos_embed" in state:
            state["pos_embed"] = resample_pos_embed(state["pos_embed"], input_size)
        self.net = build_loaded(lambda: vit(arch, input_size), state, path=str(weights), key=weights_key, what=what)
        self.arch, self.input_size, self.num_features = arch, input_size, a.embed_dim
        self.name = f"dinov2_{arch}"
        self.tag = f"dinov2_{arch[3:]}"  # metric names: fd_dinov2_b14, cmmd_dinov2_l14
        self.resize = RESIZE.format(size=input_size) + ", ImageNet mean/std (as dgm-eval)"

    def train(self, mode: bool = True) -> DINOv2Features:
        """Stay in eval mode whatever is asked."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> class-token features float32 [N, D]."""
        device = self.net.cls_token.device
        return self.net(resize_like_pil(x.to(device), self.input_size, IMAGENET_MEAN, IMAGENET_STD)).float()
