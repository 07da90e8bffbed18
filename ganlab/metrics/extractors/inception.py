"""The standard FID Inception (pt_inception-2015-12-05) as a feature extractor, loaded offline."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from ganlab import safe

# torch-fidelity's PyTorch port of the 2015-12-05 TF Inception used by every FID implementation
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
# torch.hub convention: the file name carries the first hex digits of the file's SHA-256
EXPECTED_SHA256_PREFIX = "6726825d"


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class InceptionFeatures(nn.Module):
    """2048-d pool features of the TF-ported Inception-v3 (as pytorch-fid, torch-fidelity, torchmetrics).

    Args:
        weights: path to a local copy of ``weights-inception-2015-12-05-6726825d.pth``; None lets
            torch-fidelity download it (fails offline with a message naming the config key).
    """

    num_features = 2048
    name = "inception-v3-compat"
    resize = "uint8 RGB, bilinear to 299x299 as TF 1.x (torch-fidelity), 1-channel repeated to RGB"

    def __init__(self, weights: str | None = None, expected_sha256: str | None = EXPECTED_SHA256_PREFIX) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.sha256 = None
        data = None
        if weights is not None:
            if not Path(weights).is_file():
                raise FileNotFoundError(
                    f"Inception weights not found at {weights}; set paths.inception_weights (or "
                    f"feature.weights) to a local copy of {INCEPTION_FILE}"
                )
            data = Path(weights).read_bytes()
            # data only (a crafted file cannot run code) and a state dict of tensors
            safe.load(weights, safe.Tensors, data=data, what=f"Inception weights (a state dict like {INCEPTION_FILE})")
            self.sha256 = hashlib.sha256(data).hexdigest()
            if expected_sha256 and not self.sha256.startswith(expected_sha256):
                raise ValueError(
                    f"{weights} has SHA-256 {self.sha256[:16]}..., expected {expected_sha256}...: not the standard "
                    f"FID Inception, so its FIDs are not comparable; to use it anyway set feature.expected_sha256=null"
                )
        with tempfile.TemporaryDirectory() as tmp:
            vetted = None
            if data is not None:
                # torch-fidelity reads the file again with weights_only=False: hand it a private copy of
                # exactly the bytes checked above, so a file swapped in meanwhile is never unpickled
                vetted = Path(tmp) / INCEPTION_FILE
                vetted.write_bytes(data)
            try:
                self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                              feature_extractor_weights_path=None if vetted is None else str(vetted))
            except (OSError, RuntimeError) as e:  # URLError is an OSError
                raise FileNotFoundError(
                    f"could not download the Inception weights {INCEPTION_FILE} ({type(e).__name__}); put a local "
                    f"copy on disk and set paths.inception_weights=/path/to/{INCEPTION_FILE}"
                ) from e

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> (pool features [N, 2048], logits [N, 1008])."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # the uint8 input the port expects
        pool, logits = self.net._torch_fidelity_forward(x)
        return pool.reshape(x.shape[0], -1).float(), logits.reshape(x.shape[0], -1).float()

    def forward(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> features [N, 2048]."""
        return self.features_and_logits(x)[0]
