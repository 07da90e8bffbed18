"""The standard FID Inception (pt_inception-2015-12-05) as a feature extractor, loaded offline."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"


class InceptionFeatures(nn.Module):
    """2048-d pool features of the TF-ported Inception-v3 used by pytorch-fid, torch-fidelity and torchmetrics.

    Args:
        weights: path to a local copy of ``pt_inception-2015-12-05-6726825d.pth``; None lets
            torch-fidelity download it (fails offline with a message naming this key).
    """

    num_features = 2048
    name = "inception-v3-compat"

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        if weights is not None and not Path(weights).is_file():
            raise FileNotFoundError(
                f"Inception weights not found at {weights}; set metrics.fid.feature.weights "
                f"(dataset.feature.weights / paths.inception_weights) to a local copy of {INCEPTION_FILE}"
            )
        try:
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                          feature_extractor_weights_path=weights)
        except (OSError, RuntimeError) as e:  # URLError is an OSError
            raise FileNotFoundError(
                f"could not download the Inception weights {INCEPTION_FILE} ({type(e).__name__}); "
                f"put a local copy on disk and set paths.inception_weights=/path/to/{INCEPTION_FILE}"
            ) from e

    def forward(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> features [N, 2048]."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # the uint8 input the port expects
        return self.net(x).float()
