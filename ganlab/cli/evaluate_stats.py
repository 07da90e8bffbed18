"""ganlab-eval's FID statistics: written as ``.npz`` after an evaluation, or read as the reference (``real.stats``).

``stats.save``: the reference statistics go to ``<out stem>_stats/real_<key>.npz`` (``key``: the reference's
identity, so one file per dataset, split, image count and feature extractor) and the generated ones to
``<out stem>_stats/eval<NNN>_generated.npz`` (NNN: the record's index in ``out``); the card names both.

``real.stats=PATH``: FID against the statistics in PATH (pytorch-fid's, clean-fid's or ganlab's own). The real
images are not read; a file whose feature size (or, for ganlab's files, extractor) does not match is refused
in one line before any sample is generated.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ganlab.config import ConfigError

STATS_FIELDS = ("dataset", "split", "num_images", "shape", "transform", "fingerprint")


def stats_dir(out: Path) -> Path:
    """Where the statistics of evaluations appended to ``out`` go: ``<out stem>_stats/`` beside it."""
    return out.parent / f"{out.stem}_stats"


def next_index(out: Path) -> int:
    """The index the record about to be appended to ``out`` gets (0 for a new file)."""
    try:
        return len(json.loads(out.read_text())["evaluations"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def save_fid_stats(cfg: DictConfig, out: Path, real: Any, generated: Any, extractor: dict[str, Any],
                   identity: dict[str, Any] | None) -> dict[str, str] | None:
    """Write the reference (when given) and generated statistics; returns {"real": path, "generated": path}.

    Args:
        real: real features [N, D] or None (the reference came from a file).
        generated: generated features [M, D].
        extractor: the feature extractor's card (``extractor_card``).
        identity: the reference's identity (dataset, split, fingerprint, ...) for the file's protocol.
    """
    if not cfg.get("stats", {}).get("save", True):
        return None
    from ganlab.metrics.reference_cache import cache_key
    from ganlab.metrics.scoring.fid_stats import gaussian, save_stats

    folder, paths = stats_dir(out), {}
    if real is not None:
        protocol = {"extractor": extractor, "real": {k: identity.get(k) for k in STATS_FIELDS} if identity else None}
        path = folder / f"real_{cache_key(protocol)[:16]}.npz"
        if not path.is_file():  # same key, same statistics: written once
            save_stats(path, gaussian(real, protocol))
        paths["real"] = str(path)
    index = next_index(out)
    protocol = {"extractor": extractor, "generated": {"checkpoint": str(cfg.ckpt), "num_samples": cfg.num_samples,
                                                      "seed": cfg.seed, "ema": bool(cfg.ema)}}
    paths["generated"] = str(save_stats(folder / f"eval{index:03d}_generated.npz", gaussian(generated, protocol)))
    return paths


def reference_stats(cfg: DictConfig, extractor_info: dict[str, Any], metrics: list[str]) -> Any:
    """The statistics of ``real.stats`` (None when unset), checked against this evaluation before any work."""
    path = cfg.real.get("stats")
    if not path:
        return None
    from ganlab.metrics.scoring.fid_stats import StatsError, check_protocol, load_stats

    others = [m for m in metrics if m != "fid"]
    if others:
        raise ConfigError(f"real.stats={path} gives FID only (it holds a mean and a covariance, not features); "
                          f"metrics={metrics}: {', '.join(others)} need the real features; valid: metrics=[fid]")
    for key, value in (("floor", cfg.get("floor")), ("classes", cfg.get("classes")), ("speckle", cfg.get("speckle")),
                       ("memorization.enabled", cfg.get("memorization", {}).get("enabled"))):
        if value not in (None, False, "auto"):
            raise ConfigError(f"real.stats={path} reads no real images, which {key}={value} needs; valid: "
                              f"{key}={'null' if key == 'floor' else 'auto'} with real.stats")
    size = extractor_info.get("num_features")
    try:
        stats = load_stats(path, num_features=size if isinstance(size, int) and size > 0 else None)
        check_protocol(stats, extractor_info, path)
    except StatsError as e:
        raise ConfigError(str(e)) from e
    return stats


def evaluate_with_stats(cfg: DictConfig, loaded: Any, extractor: Any, device: Any, out: Path, reference: Any,
                        versions: dict[str, str]) -> dict[str, Any]:
    """FID of ``loaded``'s samples against ``reference`` statistics; returns the record (appended to ``out``)."""
    from ganlab.cli.evaluate import append_record, print_table
    from ganlab.metrics.extraction import extract, extractor_card, generated_batches
    from ganlab.metrics.scoring.fid_stats import file_sha256, frechet_distance, gaussian
    from ganlab.metrics.scoring.suite import feature_suffix, protocol_names

    card_feature = extractor_card(extractor)
    times: dict[str, float] = {}
    t = time.perf_counter()
    batches = generated_batches(loaded.generator, cfg.num_samples, cfg.batch_size, seed=cfg.seed,
                                num_classes=loaded.num_classes, device=device)
    features = extract(extractor, batches, device=device)["features"]  # [M, D]
    times["generate_and_extract"] = time.perf_counter() - t
    if features.shape[1] != reference.num_features:  # an extractor that does not declare num_features
        raise ConfigError(f"real.stats={cfg.real.stats} holds statistics of {reference.num_features} features, but "
                          f"the evaluation's feature extractor gives {features.shape[1]}")
    suffix = feature_suffix(cfg.names, extractor)
    values = protocol_names({"fid": frechet_distance(reference, gaussian(features))}, suffix)
    path = Path(str(cfg.real.stats)).expanduser()
    card = {
        "checkpoint": str(loaded.path),
        "global_step": loaded.global_step,
        "generator": "ema" if loaded.ema else "trained",
        "feature": {**card_feature, "version": getattr(extractor, "version", None),
                    "input_size": getattr(extractor, "input_size", None), "tag": getattr(extractor, "tag", None),
                    "resize_mode": getattr(extractor, "resize_mode", None)},
        "names": {"suffix": suffix},
        "real": {"dataset": f"statistics file {path.name}", "split": "-", "num_images": reference.num_images,
                 "stats": str(path), "sha256": file_sha256(path), "protocol": reference.protocol},
        "num_generated": cfg.num_samples,
        "seeds": {"noise": cfg.seed, "subsets": cfg.seed},
        "reference_cache": None,
        "stats": save_fid_stats(cfg, out, None, features, card_feature, None),
        "device": str(device),
        "seconds": {k: round(v, 3) for k, v in times.items()},
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    record = {"metrics": values, "card": card}
    append_record(out, record)
    print_table(values, card, out)
    return record
