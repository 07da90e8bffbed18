"""Sample signals of one fixed noise batch: diversity in the evaluation feature space, class histogram, modes.

The probe uses the objects the run already has (the evaluation's feature extractor, the dataset's
classifier, the toy mixture's centres); it builds no network of its own.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.base import ImageData, to_model_space
from ganlab.health.signals import class_entropy, mean_pairwise_distance
from ganlab.metrics.class_coverage import class_statistics
from ganlab.metrics.mode_coverage import mode_metrics
from ganlab.metrics.noise import eval_noise


@contextmanager
def no_rng_change(device: torch.device):
    """Run the block on a copy of the RNG state: whatever it draws, training's noise stream is untouched."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        yield


def same_network(feature: Any, classifier: Any) -> bool:
    """The classifier is the feature extractor's own network (same class, same weights file): one pass gives both."""
    if feature is None or classifier is None or not hasattr(feature, "features_and_logits"):
        return False
    sha = getattr(feature, "sha256", None)
    return feature is classifier or (type(feature) is type(classifier) and sha is not None
                                     and sha == getattr(classifier, "sha256", None))


def fixed_rows(n: int, total: int, seed: int = 0) -> Tensor:
    """``min(n, total)`` sorted row indices chosen by a seeded local generator (the same at every check)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n].sort().values


class SampleProbe:
    """Diversity (mean pairwise feature distance, generated / real), class histogram entropy and classes
    covered (with a classifier of the dataset's classes), modes captured (2-D toy mixtures) of ``num_samples``
    generated samples from fixed noise (``eval_noise``: the first samples of every evaluation).

    Args:
        num_samples: generated samples per check, and real samples in the reference.
        feature: the evaluation's feature extractor (images [N, C, H, W] -> [N, D]); None: flat data is
            compared as is, images give no diversity.
        classifier: has ``logits(x) -> [N, C]`` for the dataset's classes (``dataset.classifier``), or None.
        min_share: a class is covered when its generated share is >= min_share x its real share.
        modes: (centres [K, 2], std, threshold) of a toy mixture, or None.
        noise_seed: seed of ``eval_noise`` (0: the evaluation's own noise).
    """

    def __init__(self, num_samples: int = 256, feature: nn.Module | None = None, classifier: Any = None,
                 min_share: float = 0.1, modes: tuple[Tensor, float, float] | None = None,
                 noise_seed: int = 0) -> None:
        if not isinstance(num_samples, int) or num_samples < 2:
            raise ValueError(f"health.num_samples={num_samples}; valid: an integer >= 2 (pairwise distances)")
        self.num_samples, self.feature, self.classifier = num_samples, feature, classifier
        self.min_share, self.modes, self.noise_seed = min_share, modes, noise_seed
        self.real_diversity: float | None = None
        self.real_counts: Tensor | None = None
        self.reference: dict[str, float] = {}
        self._joint = same_network(feature, classifier)  # halves the cost of a check on digit data

    def _features(self, x: Tensor) -> Tensor | None:
        if x.dim() == 2:  # flat data (2-D toys): the points are their own features
            return x.float()
        return self.feature(x).float() if self.feature is not None else None

    def setup(self, data: ImageData, device: torch.device) -> dict[str, float]:
        """Reference values of the real data (``classes_real``, ``class_entropy_real``, ``modes_real``); also kept
        as ``reference``. Diversity is relative to ``num_samples`` fixed real samples."""
        rows = fixed_rows(self.num_samples, len(data))
        real = to_model_space(data.x[rows]).to(device)
        for net in (self.feature, self.classifier):
            if isinstance(net, nn.Module):
                net.to(device)
        with no_rng_change(device):
            feats = self._features(real)
            if feats is not None:
                self.real_diversity = mean_pairwise_distance(feats)
        ref: dict[str, float] = {}
        if self.classifier is not None and data.y is not None:
            self.real_counts = torch.bincount(data.y.long().cpu()).double()
            ref["classes_real"] = float((self.real_counts > 0).sum())
            ref["class_entropy_real"] = class_entropy(self.real_counts)
        if self.modes is not None:
            means, std, threshold = self.modes
            ref["modes_real"] = float(mode_metrics(real, means, std, threshold)["modes"])
        self.reference = ref
        return ref

    def measure(self, module: Any, trained: bool = True) -> dict[str, float]:
        """Signals of the generated samples of ``module`` (a GANModule: ``generate``, ``z_dim``, ``num_classes``).

        ``trained``: sample the generator being trained; False: the one used for evaluation (its EMA when kept).
        """
        n, device = self.num_samples, module.device
        out: dict[str, float] = {}
        with no_rng_change(device):
            z = eval_noise(0, n, module.z_dim, self.noise_seed).to(device)
            y = torch.arange(n, device=device) % module.num_classes if module.num_classes else None
            fake = module.generate(z, y, module.generator if trained else None)  # [n, ...], eval mode
            logits = None
            if self._joint and fake.dim() == 4:
                feats, logits = self.feature.features_and_logits(fake)  # [n, D], [n, C]
            else:
                feats = self._features(fake) if self.real_diversity else None
            if feats is not None and self.real_diversity:
                out["diversity"] = mean_pairwise_distance(feats) / self.real_diversity
            if self.real_counts is not None:
                pred = (logits if logits is not None else self.classifier.logits(fake)).argmax(1)  # [n]
                counts = torch.nn.functional.pad(self.real_counts, (0, max(0, int(pred.max()) + 1 -
                                                                            self.real_counts.numel())))
                stats = class_statistics(pred, counts, self.min_share)
                out["classes_seen"] = float(stats["classes_covered"])
                out["class_entropy"] = class_entropy(stats["histogram"])
            if self.modes is not None:
                means, std, threshold = self.modes
                m = mode_metrics(fake, means, std, threshold)
                out["modes"], out["high_quality"] = float(m["modes"]), m["high_quality"]
        return out
