"""On-disk cache of real-data features, keyed by everything that defines them.

A cache entry is reused only when the dataset identity (name, split, resolution, channels,
transform, a fingerprint of the actual pixels), the feature extractor (name, weights hash) and
the number of images all match; anything else is a different key, so statistics are never
silently reused across protocols.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganlab import safe

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the stored layout or the feature computation changes
# an entry: the identity as JSON text and the tensors, at least real features [N, D]
ENTRY = {"identity": str, "tensors": safe.Tensors}
WHAT = "a ganlab reference-feature cache entry"


def fingerprint(x: Tensor) -> str:
    """SHA-256 of a data tensor's shape, dtype and bytes (the decoded, transformed pixels)."""
    h = hashlib.sha256(f"{tuple(x.shape)}|{x.dtype}".encode())
    h.update(x.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def cache_key(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


class ReferenceCache:
    """Real features stored as ``<cache_dir>/<key>.pt`` (tensors only) with a readable ``<key>.json``.

    Args:
        cache_dir: folder for entries; None disables caching (always recompute).
    """

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.dir = Path(cache_dir).expanduser() if cache_dir else None

    def get_or_compute(self, identity: dict[str, Any],
                       compute: Callable[[], dict[str, Tensor]]) -> tuple[dict[str, Tensor], bool]:
        """Cached tensors for ``identity`` or ``compute()`` (then stored). Returns (tensors, hit)."""
        identity = {**identity, "format": FORMAT}
        if self.dir is None:
            return compute(), False
        key = cache_key(identity)
        path = self.dir / f"{key}.pt"
        if path.is_file():
            entry = self._read(path)
            if entry is not None and entry["identity"] == identity:
                log.info("reference features from cache %s", path)
                return entry["tensors"], True
            if entry is not None:
                log.warning("cache entry %s does not match its key; recomputing", path)
        tensors = compute()
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"identity": json.dumps(identity, sort_keys=True), "tensors": tensors}, tmp)
        os.replace(tmp, path)  # atomic: concurrent writers (DDP ranks, parallel runs) never see half a file
        (self.dir / f"{key}.json").write_text(json.dumps(identity, indent=2, sort_keys=True))
        log.info("reference features cached at %s", path)
        return tensors, False

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        """The entry at ``path`` (identity parsed), or None after a warning naming it when it is unusable.

        A cache is only a shortcut: a truncated, corrupt or foreign entry is discarded and recomputed
        (then overwritten atomically) instead of stopping a run.
        """
        try:
            entry = safe.load(path, ENTRY, what=WHAT)
            identity = json.loads(entry["identity"])
            features = entry["tensors"].get("features")
            if not isinstance(features, Tensor) or features.dim() != 2 or not features.is_floating_point():
                raise safe.BadFileError(f"{path} is not {WHAT}: tensors.features is not a float [N, D] tensor")
        except json.JSONDecodeError as e:
            log.warning("discarding a reference-feature cache entry and recomputing it: %s holds an unreadable "
                        "identity (%s)", path, e)
            return None
        except safe.BadFileError as e:
            log.warning("discarding a reference-feature cache entry and recomputing it: %s", str(e).splitlines()[0])
            return None
        return {"identity": identity, "tensors": entry["tensors"]}
