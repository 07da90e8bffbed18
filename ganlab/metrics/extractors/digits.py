"""A small MNIST digit classifier: the offline FID feature extractor for digit-like datasets."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import safe
from ganlab.data.base import to_model_space

# SHA-256 of the committed ganlab/assets/digit_classifier.pt (v1; never retrained: old numbers rest on it)
DIGIT_CLASSIFIER_SHA256 = "d5af5fcf1c447dd0ad78ed60af1ff72a4107228979051f12fd220938322defa4"
# SHA-256 of the committed ganlab/assets/digit_classifier_v2.pt
DIGIT_CLASSIFIER_V2_SHA256 = "d201e91500ae05adc9ad228801f1b81b20d63b40c9e77b3e6ec3bd835d6a16f2"
WEIGHTS_KEY = "dataset.feature.weights"  # metrics and ganlab-eval take the feature from the dataset
# the layout scripts/assets/train_digit_classifier.py writes
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
        weights: a weights file written by scripts/assets/train_digit_classifier.py (None: the packaged file of
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
                f"scripts/assets/train_digit_classifier.py"
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
        fix = f"set {WEIGHTS_KEY} to a file written by scripts/assets/train_digit_classifier.py"
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


