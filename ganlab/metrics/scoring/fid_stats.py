"""FID statistics (the mean and covariance of features) as ``.npz`` files that pytorch-fid and clean-fid read.

Layout: ``mu`` float64 [D] and ``sigma`` float64 [D, D], the keys pytorch-fid (``fid_score.py``) and clean-fid
(``get_reference_statistics``) read; ganlab adds ``num_images`` and ``protocol`` (a JSON string: the feature
extractor's card and, for a reference, the data's identity), which both tools ignore.

The statistics are those torchmetrics' FrechetInceptionDistance computes from its running sums (float64, covariance
with 1/(n - 1)), and the distance is its ``_compute_fid``, so an FID from re-imported statistics equals the FID
``ganlab.metrics.scoring.scores.fid`` computes from the features themselves, bit for bit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics.image.fid import FrechetInceptionDistance, _compute_fid

from ganlab.metrics.scoring.scores import IdentityFeatures, _feed


class StatsError(ValueError):
    """A statistics file that cannot be used; the message is one line naming the file and the config key."""


@dataclass
class Stats:
    """A Gaussian fit of features: mean [D] and covariance [D, D] (float64), from ``num_images`` rows (None when a
    file does not say), and what produced them (``protocol``; None for files from other tools)."""

    mu: Tensor
    sigma: Tensor
    num_images: int | None = None
    protocol: dict[str, Any] | None = None

    @property
    def num_features(self) -> int:
        return int(self.mu.shape[0])


def gaussian(features: Tensor, protocol: dict[str, Any] | None = None) -> Stats:
    """Mean and covariance of features [N, D], N >= 2, as torchmetrics' FID computes them (same chunks, float64)."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be [N >= 2, D], got {tuple(features.shape)}")
    metric = FrechetInceptionDistance(feature=IdentityFeatures(features.shape[1]), normalize=False)
    _feed(metric, features.cpu(), real=True)
    n = metric.real_features_num_samples
    mean = (metric.real_features_sum / n).unsqueeze(0)  # [1, D]
    cov = (metric.real_features_cov_sum - n * mean.t().mm(mean)) / (n - 1)  # [D, D], torchmetrics' compute()
    return Stats(mean.squeeze(0), cov, int(n), protocol)


def frechet_distance(real: Stats, fake: Stats) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) (Heusel et al. 2017), torchmetrics' arithmetic."""
    if real.num_features != fake.num_features:
        raise ValueError(f"feature sizes differ: {real.num_features} and {fake.num_features}")
    return float(_compute_fid(real.mu.double(), real.sigma.double(), fake.mu.double(), fake.sigma.double()))


def save_stats(path: str | Path, stats: Stats) -> Path:
    """Write ``stats`` as ``.npz`` (``mu``, ``sigma``, ``num_images``, ``protocol``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, mu=stats.mu.double().numpy(), sigma=stats.sigma.double().numpy(),
             num_images=np.int64(stats.num_images if stats.num_images is not None else -1),
             protocol=np.str_(json.dumps(stats.protocol, sort_keys=True)))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the card names the statistics file by it)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_stats(path: str | Path, num_features: int | None = None, key: str = "real.stats") -> Stats:
    """The statistics in an ``.npz`` file with ``mu`` [D] and ``sigma`` [D, D] (ganlab's, pytorch-fid's, clean-fid's).

    Read as data (``allow_pickle=False``: a file cannot make numpy build objects). Every problem is one line
    naming ``key`` and the file: not a file, not an ``.npz``, keys missing, shapes that do not fit, values that
    are not finite, or a feature size other than ``num_features``.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise StatsError(f"{key}={path}: no such file; valid: an .npz with mu [D] and sigma [D, D] (ganlab-eval's "
                         f"*_real.npz, pytorch-fid's or clean-fid's statistics)")
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise StatsError(f"{key}={path} is not an .npz file of statistics ({type(e).__name__}); valid: an .npz "
                         f"with mu [D] and sigma [D, D]") from e
    missing = [k for k in ("mu", "sigma") if k not in arrays]
    if missing:
        raise StatsError(f"{key}={path} has no {' or '.join(missing)} (it holds {sorted(arrays) or 'nothing'}); "
                         f"valid: an .npz with mu [D] and sigma [D, D]")
    mu, sigma = arrays["mu"], arrays["sigma"]
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]) or mu.dtype.kind != "f" or sigma.dtype.kind != "f":
        raise StatsError(f"{key}={path}: mu has shape {mu.shape} ({mu.dtype}), sigma {sigma.shape} ({sigma.dtype}); "
                         f"valid: float mu [D] and sigma [D, D]")
    if num_features is not None and mu.shape[0] != num_features:
        raise StatsError(f"{key}={path} holds statistics of {mu.shape[0]} features, but the evaluation's feature "
                         f"extractor gives {num_features}; valid: statistics in the same feature space (e.g. "
                         f"2048 for feature=inception)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StatsError(f"{key}={path}: mu or sigma holds NaN or inf values")
    n = int(arrays["num_images"]) if "num_images" in arrays and arrays["num_images"].ndim == 0 else None
    protocol = None
    if "protocol" in arrays and arrays["protocol"].dtype.kind == "U":
        try:
            protocol = json.loads(str(arrays["protocol"]))
        except ValueError:
            protocol = None
    return Stats(torch.from_numpy(mu.astype(np.float64)), torch.from_numpy(sigma.astype(np.float64)),
                 n if n is not None and n >= 0 else None, protocol if isinstance(protocol, dict) else None)


def check_protocol(stats: Stats, extractor: dict[str, Any], path: str | Path, key: str = "real.stats") -> None:
    """A ganlab statistics file records its feature extractor: refuse one from another extractor, weights or
    resize (files from other tools say nothing and are taken as the user's word)."""
    theirs = (stats.protocol or {}).get("extractor")
    if not isinstance(theirs, dict):
        return
    for field in ("name", "sha256", "num_features", "resize"):
        if theirs.get(field) != extractor.get(field):
            raise StatsError(f"{key}={path} was computed with a feature extractor whose {field} is "
                             f"{theirs.get(field)!r}, this evaluation's is {extractor.get(field)!r}; valid: "
                             f"statistics of the same extractor, weights and resize")


REAL_FIELDS = ("dataset", "split", "num_images", "shape", "transform", "fingerprint")


def write_evaluation_stats(folder: Path, index: int, real: Tensor | None, generated: Tensor,
                           extractor: dict[str, Any], identity: dict[str, Any] | None,
                           generated_info: dict[str, Any]) -> dict[str, str]:
    """An evaluation's statistics as ``.npz``: ``real_<key>.npz`` (key: the reference's identity and extractor, so
    one file per reference, written once) and ``eval<index>_generated.npz``; returns {"real"?, "generated"} paths.

    Args:
        folder: where the files go (ganlab-eval: ``<out stem>_stats/`` beside its metrics.json).
        index: the evaluation's index in its metrics.json (names the generated file; records are append-only).
        real: reference features [N, D], or None (the reference came from a statistics file).
        generated: generated features [M, D].
        extractor: the feature extractor's card; identity: the reference data's identity (dataset, split, ...).
        generated_info: what the samples were (checkpoint, number, seed, EMA), for the generated file's protocol.
    """
    from ganlab.metrics.reference_cache import cache_key

    paths = {}
    if real is not None:
        protocol = {"extractor": extractor, "real": {k: identity.get(k) for k in REAL_FIELDS} if identity else None}
        path = folder / f"real_{cache_key(protocol)[:16]}.npz"
        if not path.is_file():  # the same key, the same statistics
            save_stats(path, gaussian(real, protocol))
        paths["real"] = str(path)
    protocol = {"extractor": extractor, "generated": dict(generated_info)}
    paths["generated"] = str(save_stats(folder / f"eval{index:03d}_generated.npz", gaussian(generated, protocol)))
    return paths
