"""Images through a feature extractor, streamed on the run's device: real and generated batches, the
real reference (cached), and the card that identifies the extractor.

Used by training-time evaluation (ganlab.metrics.feature_metrics.FeatureMetrics), by ganlab-eval and by the
calibration suite, so all of them see the same features under the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData, to_model_space
from ganlab.metrics.noise import eval_noise
from ganlab.metrics.reference_cache import ReferenceCache, fingerprint


def extractor_card(extractor: nn.Module) -> dict[str, Any]:
    """What identifies a feature extractor: class, name, weights hash, feature size, input resize."""
    cls = type(extractor)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "name": getattr(extractor, "name", cls.__name__),
        "sha256": getattr(extractor, "sha256", None),
        "num_features": int(getattr(extractor, "num_features", -1)),
        "resize": getattr(extractor, "resize", "none"),
    }


def real_batches(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    """uint8 (or float) data in batches, scaled to model space [-1, 1]."""
    for i in range(0, x.shape[0], batch_size):
        yield to_model_space(x[i : i + batch_size])


@torch.no_grad()
def generated_batches(generator: nn.Module, num_samples: int, batch_size: int, seed: int = 0,
                      num_classes: int = 0, device: torch.device | str = "cpu") -> Iterator[Tensor]:
    """Samples in batches from seeded noise (``eval_noise``); never all in memory at once."""
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        z = eval_noise(start, n, generator.z_dim, seed).to(device)
        y = (torch.arange(start, start + n, device=device) % num_classes) if num_classes else None
        yield generator(z, y)


@torch.no_grad()
def extract(extractor: nn.Module, batches: Iterable[Tensor], logits: bool = False,
            device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Features [N, D] (and class logits [N, C] when asked, for IS) of all batches, kept on the CPU."""
    if logits and not hasattr(extractor, "features_and_logits"):
        raise ValueError(f"the Inception Score needs class logits, which {type(extractor).__name__} does not give; "
                         f"drop 'is' from metrics or use feature=inception / a digit feature")
    feats, logs = [], []
    for x in batches:
        x = x.to(device)
        if logits:
            f, l = extractor.features_and_logits(x)
            logs.append(l.float().cpu())
        else:
            f = extractor(x)
        feats.append(f.float().cpu())
    out = {"features": torch.cat(feats)}
    if logits:
        out["logits"] = torch.cat(logs)
    return out


def real_reference(data: ImageData, extractor: nn.Module, cache: ReferenceCache, split: str = "train",
                   max_images: int | None = None, batch_size: int = 500,
                   device: torch.device | str = "cpu") -> tuple[Tensor, bool, dict[str, Any]]:
    """Real features [N, D] from the cache or computed; returns (features, cache hit, identity)."""
    x = data.x[:max_images] if max_images else data.x
    identity = {
        "dataset": data.name,
        "split": split,
        "shape": list(x.shape[1:]),
        "num_images": int(x.shape[0]),
        "transform": "fit_images: pad 4 px or antialiased bilinear resize, then [-1, 1]",
        "fingerprint": fingerprint(x),
        "extractor": extractor_card(extractor),
    }
    tensors, hit = cache.get_or_compute(identity, lambda: extract(extractor, real_batches(x, batch_size),
                                                                  device=device))
    return tensors["features"], hit, identity
