"""Feature extraction (streamed, on the run's device) and the metric suite on real vs generated features.

Used by training-time evaluation (ganlab.metrics.features.FeatureMetrics) and by ganlab-eval, so both
produce the same numbers under the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData, to_model_space
from ganlab.metrics import scores
from ganlab.metrics.noise import eval_noise
from ganlab.metrics.reference import ReferenceCache, fingerprint

METRICS = ("fid", "kid", "is", "prdc", "fid_inf", "cmmd")


def check_metrics(names: Sequence[str]) -> list[str]:
    """The requested metric names, or a one-line error listing the valid ones."""
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"metrics={names}: unknown {unknown or 'empty list'}; valid: {', '.join(METRICS)}")
    return names


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


def compute_metrics(real: Tensor, fake: dict[str, Tensor], metrics: Sequence[str], seed: int = 0,
                    kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
                    k_pr: int = 3, k_dc: int = 5, cmmd_sigma: float = 10.0, cmmd_scale: float = 1000.0,
                    cmmd_estimator: str = "unbiased") -> dict[str, Any]:
    """The named metrics of generated features ``fake["features"]`` (and ``fake["logits"]``) vs ``real``."""
    out: dict[str, Any] = {}
    f = fake["features"]
    for name in check_metrics(metrics):
        if name == "fid":
            out["fid"] = scores.fid(real, f)
        elif name == "kid":
            out.update(scores.kid(real, f, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed))
        elif name == "is":
            out.update(scores.inception_score(fake["logits"], splits=is_splits, seed=seed))
        elif name == "prdc":
            out.update(scores.prdc(real, f, k_pr=k_pr, k_dc=k_dc))
        elif name == "fid_inf":
            out.update(scores.fid_infinity(real, f, seed=seed))
        elif name == "cmmd":
            out.update(scores.cmmd(real, f, sigma=cmmd_sigma, scale=cmmd_scale, estimator=cmmd_estimator))
    return out


def protocol_names(values: dict[str, Any], suffix: str | None) -> dict[str, Any]:
    """``values`` under names that carry their feature space, for numbers reported side by side.

    With a suffix (e.g. ``dinov2_b14``, a feature extractor's ``tag``): ``fid`` -> ``fd_dinov2_b14`` (a Fréchet
    distance, but not in Inception features), ``kid`` -> ``kd_dinov2_b14``, any other name ``<name>_dinov2_b14``
    (``cmmd_dinov2_b14``, ``precision_dinov2_b14``, ``fd_inf_dinov2_b14``). Without one: unchanged.
    """
    if not suffix:
        return dict(values)
    renamed = {"fid": "fd", "kid": "kd"}
    out = {}
    for key, value in values.items():
        head, _, rest = key.partition("_")
        base = renamed.get(head, head) + (f"_{rest}" if rest else "")
        out[f"{base}_{suffix}"] = value
    return out


def feature_suffix(suffix: str | None, extractor: nn.Module) -> str | None:
    """The suffix of ``protocol_names``: ``"auto"`` -> the extractor's ``tag`` (None for extractors without one,
    e.g. Inception and the digit classifier, whose values keep their plain names ``fid``, ``kid``, ...)."""
    if suffix == "auto":
        return getattr(extractor, "tag", None)
    return suffix or None


def halves(real: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two disjoint random halves [N // 2, D] of real features [N, D] (a private seeded generator): the
    real-vs-real floor of a metric at half the reference size."""
    if real.shape[0] < 4:
        raise ValueError(f"floor=halves needs at least 4 reference images, got {real.shape[0]}")
    perm = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))
    half = real.shape[0] // 2
    return real[perm[:half]], real[perm[half : 2 * half]]
