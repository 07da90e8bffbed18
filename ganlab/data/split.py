"""Seeded splits of an in-memory dataset: a held-out real split (for the health monitor) and a training subset."""

from __future__ import annotations

import torch

from ganlab.data.base import ImageData


def split_data(data: ImageData, holdout: int = 0, subset: int | None = None,
               seed: int = 0) -> tuple[ImageData, ImageData | None]:
    """(training data, held-out data or None) from ``data``.

    With ``holdout=0`` and ``subset=None`` the training data is ``data`` itself (the same object), so a
    run without these options trains on exactly the tensors it always did. Otherwise one seeded
    permutation of the indices gives the held-out images (its first ``holdout``) and the training
    subset (the next ``subset``, or all the rest); both keep the dataset's order.

    Args:
        data: the whole dataset (N samples).
        holdout: samples kept out of training for D's held-out view (0: none).
        subset: training samples kept (None: all that are not held out).
        seed: seed of the permutation (a local generator; the global RNG is not touched).

    Returns:
        (training ImageData, held-out ImageData or None).
    """
    n = len(data)
    if not isinstance(holdout, int) or isinstance(holdout, bool) or holdout < 0:
        raise ValueError(f"datamodule.holdout={holdout}; valid: an integer >= 0 (0: no held-out split)")
    if subset is not None and (not isinstance(subset, int) or isinstance(subset, bool) or subset < 1):
        raise ValueError(f"datamodule.subset={subset}; valid: null (the whole set) or an integer >= 1")
    if holdout + (subset or 0) > n or holdout >= n:
        raise ValueError(f"datamodule.holdout={holdout} + datamodule.subset={subset} exceed the {n} samples of "
                         f"dataset {data.name!r}; valid: holdout + subset <= {n} with training samples left")
    if holdout == 0 and subset is None:
        return data, None
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = perm[:holdout].sort().values
    train = perm[holdout:holdout + subset if subset is not None else n].sort().values

    def take(idx: torch.Tensor, name: str) -> ImageData:
        return ImageData(data.x[idx], data.y[idx] if data.y is not None else None, name)

    suffix = f"[subset {len(train)}]" if subset is not None else ""
    return take(train, f"{data.name}{suffix}"), (take(held, f"{data.name}[held-out {holdout}]") if holdout else None)
