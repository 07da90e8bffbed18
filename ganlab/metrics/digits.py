"""A small MNIST digit classifier: the offline FID feature extractor for digit-like datasets."""

from __future__ import annotations

import hashlib
import importlib.resources
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import safe
from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import held_out_split, load_mnist5k
from ganlab.metrics.distortions import rotate_by

# SHA-256 of the committed ganlab/assets/digit_classifier.pt (v1; never retrained: old numbers rest on it)
DIGIT_CLASSIFIER_SHA256 = "d5af5fcf1c447dd0ad78ed60af1ff72a4107228979051f12fd220938322defa4"
# SHA-256 of the committed ganlab/assets/digit_classifier_v2.pt
DIGIT_CLASSIFIER_V2_SHA256 = "d201e91500ae05adc9ad228801f1b81b20d63b40c9e77b3e6ec3bd835d6a16f2"
WEIGHTS_KEY = "dataset.feature.weights"  # metrics and ganlab-eval take the feature from the dataset
# the layout scripts/train_digit_classifier.py writes
WEIGHTS_LAYOUT = {"state_dict": safe.Tensors, "meta?": dict}


@dataclass(frozen=True)
class Version:
    """A packaged digit feature space: weights file, its pinned SHA-256 and the layer FID reads."""

    file: str
    sha256: str
    layer: str  # "relu": after the fc layer's BatchNorm + ReLU; "bn": before the ReLU (pre-activation)
    name: str  # recorded in evaluation cards and reference-cache keys


# v1: clean-digit training, post-ReLU features (ganlab's FIDs up to the calibration suite, docs/calibration.md)
# v2: noise/blur/rotation-augmented training, pre-activation features (passes the calibration suite)
VERSIONS = {
    "v1": Version("digit_classifier.pt", DIGIT_CLASSIFIER_SHA256, "relu", "digit_classifier"),
    "v2": Version("digit_classifier_v2.pt", DIGIT_CLASSIFIER_V2_SHA256, "bn", "digit_classifier_v2"),
}
VERSION_KEY = "dataset.feature.version"


def version_of(version: str) -> Version:
    """The packaged feature space ``version``, or a one-line error naming the valid ones."""
    if version not in VERSIONS:
        raise ValueError(f"{VERSION_KEY}={version!r}: unknown digit feature version; valid: {', '.join(VERSIONS)}")
    return VERSIONS[version]


def default_weights_path(version: str = "v1") -> Path:
    """The packaged weights file of ``version`` (v1: ganlab/assets/digit_classifier.pt)."""
    return Path(str(importlib.resources.files("ganlab") / "assets" / version_of(version).file))


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv + BatchNorm + ReLU, then 2x2 max-pool: [N, c_in, H, W] -> [N, c_out, H/2, W/2]."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class DigitClassifier(nn.Module):
    """CNN for 1x32x32 digits in [-1, 1]: three conv stages, a 128-d feature layer, 10 logits."""

    num_features: int = 128

    def __init__(self) -> None:
        super().__init__()
        # [N, 1, 32, 32] -> [N, 32, 16, 16] -> [N, 64, 8, 8] -> [N, 128, 4, 4] -> [N, 128, 2, 2]
        self.body = nn.Sequential(_block(1, 32), _block(32, 64), _block(64, 128), nn.AvgPool2d(2))
        # [N, 512] -> [N, 128]
        self.fc = nn.Sequential(nn.Linear(512, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(128, 10)  # [N, 128] -> [N, 10]

    def features(self, x: Tensor, layer: str = "relu") -> Tensor:
        """Penultimate features [N, 128] of images [N, 1, 32, 32]: after the ReLU ("relu", what the head
        reads) or before it ("bn", pre-activation: keeps the negative half the ReLU discards)."""
        h = self.fc[1](self.fc[0](self.body(x).flatten(1)))  # [N, 128] after Linear + BatchNorm
        return h if layer == "bn" else torch.relu(h)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits [N, 10]."""
        return self.head(self.dropout(self.features(x)))


class DigitFeatures(nn.Module):
    """Frozen DigitClassifier as a torchmetrics FID feature extractor: images in [-1, 1] -> [N, 128].

    Args:
        weights: a weights file written by scripts/train_digit_classifier.py (None: the packaged file of
            ``version``, SHA-256 checked).
        version: the feature space, a key of ``VERSIONS``: which packaged file and which layer ("v2",
            the default; "v1" reproduces ganlab's FIDs from before docs/calibration.md).
    """

    num_features: int = 128
    resize = "28x28: pad 2 px with -1; other sizes: antialiased bilinear to 32x32; RGB: mean of channels"

    def __init__(self, weights: str | None = None, version: str = "v2") -> None:
        super().__init__()
        spec = version_of(version)
        self.version, self.layer, self.name = version, spec.layer, spec.name
        path = default_weights_path(version) if weights is None else Path(os.path.expanduser(weights))
        if not path.is_file():
            raise FileNotFoundError(
                f"digit classifier weights not found at {path}; set {WEIGHTS_KEY} to a file written by "
                f"scripts/train_digit_classifier.py"
            )
        data = path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        expected = VERSIONS[version].sha256
        if weights is None and self.sha256 != expected:
            raise ValueError(
                f"{path} has SHA-256 {self.sha256}, expected {expected}; "
                f"reinstall ganlab or pass your own file via {WEIGHTS_KEY}"
            )
        # the hashed bytes themselves are loaded: data only, layout checked
        fix = f"set {WEIGHTS_KEY} to a file written by scripts/train_digit_classifier.py"
        ckpt = safe.load(path, WEIGHTS_LAYOUT, data=data, what=f"digit classifier weights ({fix})")
        self.path, self.meta = str(path), dict(ckpt.get("meta", {}))
        self.net = DigitClassifier()
        try:
            self.net.load_state_dict(ckpt["state_dict"])
        except RuntimeError as e:  # missing, unexpected or mis-shaped tensors
            detail = " ".join(str(e).split())[:200]
            raise safe.BadFileError(f"{path}: its weights do not fit the DigitClassifier ({detail}); {fix}") from e
        self.net.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> DigitFeatures:
        """Stay in eval mode whatever is asked (BatchNorm uses its running statistics)."""
        return super().train(False)

    def _prepare(self, x: Tensor) -> Tensor:
        """[N, C, H, W] in [-1, 1] (C in {1, 3}, any square size; uint8 scaled; clamped) -> [N, 1, 32, 32]."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images [N, 1 or 3, H, W], got {tuple(x.shape)}")
        # clamp: a generator with a linear output (R3GAN) strays outside [-1, 1]; the classifier never saw such
        # pixels, and Inception, DINOv2 and CLIP clip them too when they quantize to uint8
        x = to_model_space(x).float().to(self.net.head.weight.device).clamp(-1.0, 1.0)
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)  # [N, 1, H, W]
        if x.shape[-2:] == (28, 28):
            x = F.pad(x, (2, 2, 2, 2), value=-1.0)  # as the training data was made (MNIST's 28 -> 32)
        elif x.shape[-2:] != (32, 32):
            x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Features float32 [N, 128]."""
        return self.net.features(self._prepare(x), self.layer).float()

    @torch.no_grad()
    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features [N, 128], class logits [N, 10]) in one pass."""
        h = self.net.features(self._prepare(x), "bn")  # [N, 128] pre-activation
        a = torch.relu(h)  # what the head reads
        return (h if self.layer == "bn" else a).float(), self.net.head(a).float()

    @torch.no_grad()
    def logits(self, x: Tensor) -> Tensor:
        """Class logits float32 [N, 10]."""
        return self.net(self._prepare(x)).float()


def random_shift(x: Tensor, max_shift: int, g: torch.Generator) -> Tensor:
    """Shift each image [N, C, H, W] by integer (dy, dx) in [-max_shift, max_shift], filling with -1."""
    n, _, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=-1.0)  # [N, C, H+2p, W+2p]
    dy, dx = torch.randint(0, 2 * p + 1, (2, n, 1), generator=g)  # offsets into padded, [N, 1] each
    rows = (dy + torch.arange(h))[:, :, None]  # [N, H, 1]
    cols = (dx + torch.arange(w))[:, None, :]  # [N, 1, W]
    out = padded.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows, cols]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def augment(x: Tensor, g: torch.Generator, max_sigma: float = 0.3, max_salt: float = 0.1,
            max_degrees: float = 15.0) -> Tensor:
    """v2 training augmentation of images [N, 1, H, W] in [-1, 1]: each image gets one of nothing,
    Gaussian noise (sigma ~ U(0, max_sigma)), salt (fraction ~ U(0, max_salt)), a 3x3 box blur or a
    rotation (~ U(-max_degrees, max_degrees)), equally likely: the classes must stay readable through
    texture changes, so that FID in its features weighs classes above pixel noise.
    """
    n = x.shape[0]
    kind = torch.randint(0, 5, (n, 1, 1, 1), generator=g)  # [N, 1, 1, 1]
    u = torch.rand(n, 1, 1, 1, generator=g)  # strength of each image's augmentation
    noisy = (x + u * max_sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    salted = torch.where(torch.rand(x.shape, generator=g) < u * max_salt, torch.ones_like(x), x)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), value=-1.0), 3, stride=1)
    rotated = rotate_by(x, (u.flatten() * 2 - 1) * math.radians(max_degrees))
    out = x
    for k, alt in enumerate((noisy, salted, blurred, rotated), start=1):
        out = torch.where(kind == k, alt, out)
    return out


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of net (put in eval mode) on images [N, 1, 32, 32] in [-1, 1]."""
    net.eval()
    preds = torch.cat([net(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return (preds == y).float().mean().item()


def train_digit_classifier(epochs: int, seed: int, out: str, augmentation: str = "v2") -> dict:
    """Train on mnist5k minus a stratified held-out 1,000; save {"state_dict", "meta"} to out; return meta.

    Args:
        epochs: passes over the 4,000 training digits.
        seed: seed of the held-out split, the initialisation and the batches.
        out: weights file to write.
        augmentation: "shift" (v1: random shifts of up to 2 px) or "v2" (shifts, then ``augment``).
    """
    if augmentation not in ("shift", "v2"):
        raise ValueError(f"augmentation={augmentation!r}; valid: shift (v1), v2")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = load_mnist5k(resolution=32, channels=1)
    x, y = to_model_space(data.x), data.y  # [5000, 1, 32, 32] in [-1, 1], [5000]
    train_idx, held_idx = held_out_split(y, seed)
    xt, yt = x[train_idx], y[train_idx]
    net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    batch, steps = 128, (len(xt) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * steps)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=g)
        for i in range(steps):
            idx = perm[i * batch : (i + 1) * batch]
            xb = random_shift(xt[idx], 2, g)
            if augmentation == "v2":
                xb = augment(xb, g)
            loss = F.cross_entropy(net(xb), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    meta = {
        "held_out_accuracy": accuracy(net, x[held_idx], y[held_idx]),
        "train_accuracy": accuracy(net, xt, yt),
        "split_seed": seed, "seed": seed, "epochs": epochs, "augmentation": augmentation,
        "n_train": len(train_idx), "n_held_out": len(held_idx),
        "dataset": data.name, "input": "1x32x32 in [-1, 1]", "num_features": DigitClassifier.num_features,
        "torch": str(torch.__version__),  # plain str: weights_only loading rejects TorchVersion
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # no timings in the file, so the same run at the same path rewrites the same bytes
    torch.save({"state_dict": state, "meta": meta}, out)
    return {**meta, "train_seconds": round(time.perf_counter() - start, 1)}
