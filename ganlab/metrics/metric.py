"""Training-time metric objects: per-sample rows accumulated by ``update``, reduced by ``compute``.

The evaluation callback (``ganlab.callbacks.Evaluation``) drives every metric object the same way
at each evaluation::

    metric.setup(trainer, pl_module)          # models to the run's device, reference data once
    metric.reset()
    metric.update(samples, indices)           # per validation batch: samples [B, ...], indices [B]
    metric.sync(gather)                       # rows of all DDP ranks, in sample order
    metric.compute() -> {"name": value}       # logged as val/<name>
    metric.images() -> {"tag": HWC uint8}     # TensorBoard images (rank 0 only)

A metric keeps only per-sample rows (features, predictions, 2-D points), never the images, and
stores them with ``self.add(name=rows)``; the callback gathers those rows over ranks and puts
them back in sample order, so every value equals the single-process one.

Adding a metric = one ``EvalMetric`` subclass (``update`` and ``compute``; ``best`` names the
values whose best so far is also logged as ``val/<name>_best``) + one yaml in ``conf/metrics/``
that puts it in the callback's ``metrics`` dict::

    callbacks:
      evaluation:
        _target_: ganlab.callbacks.Evaluation
        metrics:
          mine: {_target_: mypackage.MyMetric, threshold: 0.5}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor


class EvalMetric:
    """A metric of generated samples: ``update`` keeps per-sample rows, ``compute`` reduces them to scalars."""

    best: ClassVar[Mapping[str, str]] = {}  # value name -> "min" | "max": also log val/<name>_best
    prog_bar: ClassVar[tuple[str, ...]] = ()  # value names shown in the progress bar

    def __init__(self) -> None:
        self._rows: dict[str, list[Tensor]] = {}

    def setup(self, trainer: Any, pl_module: Any) -> None:
        """Before each evaluation: move models to ``pl_module.device``, load reference data (once)."""

    def reset(self) -> None:
        """Forget the rows of the previous evaluation."""
        self._rows = {}

    def add(self, **rows: Tensor) -> None:
        """Keep per-sample rows [B, ...] of one batch (row i belongs to the batch's sample i), on the CPU."""
        for name, x in rows.items():
            self._rows.setdefault(name, []).append(x.detach().cpu())

    def rows(self, name: str) -> Tensor:
        """All rows kept under ``name``, [N, ...] in sample order once synced."""
        parts = self._rows.get(name)
        if not parts:
            raise ValueError(f"{type(self).__name__}: no {name!r} rows; update() was not called this evaluation")
        return torch.cat(parts)

    def sync(self, gather: Callable[[Tensor], Tensor]) -> None:
        """Replace the rows by ``gather(rows)``: those of all ranks, in sample order (see ``gather_in_order``)."""
        self._rows = {name: [gather(torch.cat(parts))] for name, parts in self._rows.items()}

    def update(self, samples: Tensor, indices: Tensor) -> None:
        """Take one batch of generated samples [B, ...] in [-1, 1] and their sample indices [B]."""
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        """The values of all samples seen since ``reset``, name -> number (logged as ``val/<name>``)."""
        raise NotImplementedError

    def images(self) -> dict[str, np.ndarray]:
        """TensorBoard images of the last ``compute``, tag -> RGB uint8 [H, W, 3] (none by default)."""
        return {}

    def provides(self) -> dict[str, Any]:
        """What this metric lends other callbacks (the health monitor's sample probe), by ``PROVIDED`` key.

        A metric with a feature extractor gives ``feature`` (``x [N, ...] -> [N, D]``), one with the dataset's
        class classifier ``classifier`` and ``min_share``, one with a toy mixture ``modes`` (means [K, 2],
        std, threshold); none by default.
        """
        return {}


# the keys of ``EvalMetric.provides`` (what the health monitor reads; ganlab.callbacks.health)
PROVIDED = ("feature", "classifier", "min_share", "modes")
