"""D's outputs on training reals vs a held-out real split: the gap grows when D memorises its training set."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData, to_model_space
from ganlab.health.samples import fixed_rows, no_rng_change


class HeldOutGap:
    """``heldout_gap`` = mean D logit on ``n`` fixed training reals - mean D logit on the ``n`` held-out reals
    (``datamodule.holdout``), both in whole batches of ``batch_size`` (D in eval mode, no gradient).

    Karras et al. 2020 (figure 1b) watch the same gap between training and validation images; near 0 while D
    generalises, growing as it overfits.

    Args:
        train: the training data; heldout: the held-out split.
        batch_size: samples per D call (the training batch size, so packed or minibatch Ds see the shapes
            they were built for).
    """

    def __init__(self, train: ImageData, heldout: ImageData, batch_size: int) -> None:
        n = len(heldout)
        usable = (n // batch_size) * batch_size or n  # whole batches when there are any
        self.batch_size = min(batch_size, usable)
        self.held = heldout.x[:usable], (heldout.y[:usable] if heldout.y is not None else None)
        rows = fixed_rows(usable, len(train), seed=1)
        self.train = train.x[rows], (train.y[rows] if train.y is not None else None)
        self.num_samples = usable

    def _mean_logit(self, discriminator: nn.Module, x: Tensor, y: Tensor | None, device: torch.device,
                    conditional: bool) -> float:
        total = torch.zeros((), device=device)
        for i in range(0, x.shape[0], self.batch_size):
            xb = to_model_space(x[i:i + self.batch_size].to(device))
            yb = y[i:i + self.batch_size].to(device) if conditional and y is not None else None
            total = total + discriminator(xb, yb).float().sum()
        return float(total) / x.shape[0]

    def measure(self, module: Any) -> dict[str, float]:
        """``heldout_gap`` (and the two means ``d_train_ref``, ``d_heldout``) for ``module``'s D."""
        d, device = module.discriminator, module.device
        conditional = bool(module.num_classes)
        was_training = d.training
        d.eval()  # BatchNorm uses its running statistics and updates none; spectral norm keeps its vectors
        try:
            with no_rng_change(device):
                train = self._mean_logit(d, *self.train, device, conditional)
                held = self._mean_logit(d, *self.held, device, conditional)
        finally:
            d.train(was_training)
        return {"heldout_gap": train - held, "d_train_ref": train, "d_heldout": held}
