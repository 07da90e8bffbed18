"""ganlab-eval: checkpoint -> generated samples -> metrics table, appended to metrics.json with its card.

torch and the metric code are imported inside the functions that use them, after the thread count is set:
``--help`` and a missing ``ckpt=`` answer at once.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ganlab.cli import boundary
from ganlab.cli.common import EVAL_CONFIG_DIR, USER_ERRORS, allowed_packages, checkpoint_arg, pick_device, set_threads
from ganlab.cli.help import print_help, wants_help
from ganlab.config import ConfigError, build
from ganlab.truncation import from_config, plot_sweep, sweep, sweep_metrics, truncated

if TYPE_CHECKING:
    import torch

    from ganlab.metrics.class_coverage import ClassCoverage
    from ganlab.metrics.speckle import Speckle

log = logging.getLogger("ganlab.cli.evaluate")


def real_data(config: DictConfig, split: str, source_overrides: DictConfig, path: str | Path,
              key: str = "real.split", allow: tuple[str, ...] = ()):
    """The checkpoint's training data (or another split of it, chosen by the config key ``key``)."""
    from ganlab import safe
    from ganlab.checkpoint import CheckpointError, stored

    stored_source = stored(config, "dataset.source", path)
    safe.check_dataset_source(stored_source, path=path, error=CheckpointError)  # a factory, saved arguments
    source = OmegaConf.merge(stored_source, source_overrides)
    if split != "train" or "split" in source:
        if "split" not in source:
            raise ConfigError(f"{key}={split}: dataset {config.dataset.name!r} has only the train split")
        source.split = split
    return build(source, "real.source")()


def class_coverage(mode: str | bool, config: DictConfig, extractor: torch.nn.Module,
                   data: Any) -> ClassCoverage | None:
    """ClassCoverage with the evaluation's extractor as classifier, or None.

    ``classes=auto``: on when the checkpoint's dataset names a classifier of its classes (``dataset.classifier``);
    ``true`` forces it (the extractor must give class logits of the dataset's labels), ``false`` turns it off.
    """
    from ganlab.metrics.class_coverage import ClassCoverage

    if mode not in ("auto", True, False):
        raise ConfigError(f"classes={mode!r}; valid: auto, true, false")
    on = mode is True or (mode == "auto" and OmegaConf.select(config, "dataset.classifier", default=None) is not None)
    if not on or (mode == "auto" and not hasattr(extractor, "logits")):  # e.g. feature=inception: no digit classes
        return None
    if not hasattr(extractor, "logits") or data.y is None:
        lacks = "no labels" if data.y is None else "no logits"
        raise ConfigError(f"classes=true needs labelled data and a feature with class logits; "
                          f"{type(extractor).__name__} on {data.name} has {lacks}")
    metric = ClassCoverage(extractor)
    metric.set_real_labels(data.y)
    return metric


def record_arg(value: Any) -> None:
    """``record=STUDY/RUN`` (or null), checked before any work."""
    if value in (None, ""):
        return
    study, _, run = str(value).partition("/")
    if not study or not run or "/" in run or any(c in str(value) for c in ' \\:*?"<>|') or ".." in str(value):
        raise ConfigError(f"record={value!r}; valid: STUDY/RUN (one folder, one name: experiments/results/STUDY/"
                          f"RUN.json), e.g. record=default_run-test/seed4")


def speckle_metric(mode: str | bool, data: Any) -> Speckle | None:
    """Speckle against the real images' share, or None (``speckle=auto``: on for grayscale images)."""
    if mode not in ("auto", True, False):
        raise ConfigError(f"speckle={mode!r}; valid: auto, true, false")
    grayscale = data.x.dim() == 4 and data.x.shape[1] == 1
    if mode is True and not grayscale:
        raise ConfigError(f"speckle=true needs grayscale images [N, 1, H, W]; {data.name} has shape "
                          f"{tuple(data.x.shape[1:])}")
    if mode is False or not grayscale:
        return None
    from ganlab.metrics.speckle import Speckle, speckle_share

    metric = Speckle()
    metric.active, metric.real_share = True, speckle_share(data.x, metric.threshold)
    return metric


def versions() -> dict[str, str]:
    return {name: version(name) for name in ("ganlab", "torch", "torchvision", "torchmetrics", "torch-fidelity")}


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the evaluation described by ``cfg``; returns the record appended to metrics.json."""
    checkpoint_arg(cfg, "ganlab-eval")  # before the heavy imports: a missing ckpt= answers at once
    truncation = checked(from_config, cfg.get("truncation"))  # one value; lists are sweeps (evaluate_all)
    record_arg(cfg.get("record"))
    set_threads(cfg)
    import torch

    from ganlab import safe
    from ganlab.checkpoint import CheckpointError, load_generator, stored
    from ganlab.metrics.extraction import extractor_card, generated_batches
    from ganlab.metrics.feature_metrics import FeatureMetrics
    from ganlab.metrics.scoring.suite import check_metrics

    metrics = check_metrics(cfg.metrics)
    floor_metrics = check_floor(cfg.get("floor"), metrics)
    device = pick_device(cfg.device)
    allow = allowed_packages(cfg)  # the user's own packages the checkpoint's config may name (safe.allow)
    loaded = load_generator(checkpoint_arg(cfg, "ganlab-eval"), ema=cfg.ema, device=device,
                            member=cfg.get("member"), allow=allow)
    if cfg.get("feature"):  # the command line's choice: trusted like any config of this run
        extractor = build(cfg.feature, "feature").to(device)
    else:  # the checkpoint's own: built only if it names a ganlab/torch component
        feature = stored(loaded.config, "dataset.feature", loaded.path,
                         fix="its dataset has no feature extractor; pass feature=digits or feature=inception")
        extractor = safe.build_stored(feature, path=loaded.path, where="dataset.feature",
                                      error=CheckpointError, allow=allow).to(device)
    out = Path(cfg.out) if cfg.out else loaded.path.parent / "metrics.json"
    reference = reference_stats(cfg, extractor_card(extractor), metrics)  # real.stats=PATH, checked before work
    if reference is not None:  # FID against a statistics file (pytorch-fid, clean-fid, ganlab): no real images read
        return evaluate_with_stats(cfg, loaded, extractor, device, out, reference, versions(), truncation)

    # the metric object of training-time evaluation, under this command's protocol
    metric = FeatureMetrics(extractor, metrics, cache_dir=cfg.paths.cache_dir, max_real=cfg.real.max_images,
                            batch_size=cfg.batch_size, seed=cfg.seed, kid_subsets=cfg.kid.subsets,
                            kid_subset_size=cfg.kid.subset_size, is_splits=cfg.is_splits, k_pr=cfg.prdc.k_pr,
                            k_dc=cfg.prdc.k_dc, cmmd_sigma=cfg.cmmd.sigma, cmmd_scale=cfg.cmmd.scale,
                            cmmd_estimator=cfg.cmmd.estimator, suffix=cfg.names)

    times: dict[str, float] = {}
    t = time.perf_counter()
    data = real_data(loaded.config, cfg.real.split, cfg.real.source, loaded.path, allow=allow)
    # the floor's split is read before any feature is computed: a split the dataset lacks fails at once
    floor_data = (real_data(loaded.config, cfg.floor, cfg.real.source, loaded.path, key="floor", allow=allow)
                  if floor_metrics and cfg.floor != "halves" else None)
    hit, identity = metric.reference(data, split=cfg.real.split, device=device)
    floor = real_floor(cfg, metric, floor_metrics, floor_data, device)
    times["real_features"] = time.perf_counter() - t
    classes = class_coverage(cfg.classes, loaded.config, extractor, data)
    speckle = speckle_metric(cfg.speckle, data)
    test_data = test_split(cfg, loaded, data)
    test = metric_test_reference(cfg, metric, test_data, device) if test_data is not None else None
    memorization = memorization_metric(cfg.memorization, trained_on(data, loaded.config), test_data, extractor,
                                       device)
    objects = [metric] + [m for m in (classes, speckle, memorization) if m is not None]

    t = time.perf_counter()
    for m in objects:
        m.reset()
    start = 0
    for x in generated_batches(truncated(loaded.generator, truncation), cfg.num_samples, cfg.batch_size,
                               seed=cfg.seed, num_classes=loaded.num_classes, device=device):
        for m in objects:
            m.update(x, torch.arange(start, start + x.shape[0]))  # sample indices [B]
        start += x.shape[0]
    times["generate_and_extract"] = time.perf_counter() - t

    t = time.perf_counter()
    values = {k: v for m in objects for k, v in m.compute().items()}
    if test is not None:  # the same generated features against the test split, and the train-test gap
        from ganlab.metrics.scoring.generalization import train_test_metrics
        from ganlab.metrics.scoring.suite import protocol_names

        values.update(protocol_names(train_test_metrics(metric.real, test[0], metric.generated(), metric.metrics,
                                                        seed=cfg.seed,
                                                        **metric.options), metric.suffix))
    pairs = write_pairs(memorization, out, loaded.global_step)
    if classes:
        values["class_histogram"] = [round(float(p), 5) for p in classes.histogram()]
    times["metrics"] = time.perf_counter() - t

    card = {
        "checkpoint": str(loaded.path),
        "global_step": loaded.global_step,
        "generator": "ema" if loaded.ema else "trained",
        "feature": {**extractor_card(extractor), "version": getattr(extractor, "version", None),
                    "input_size": getattr(extractor, "input_size", None), "tag": getattr(extractor, "tag", None),
                    "resize_mode": getattr(extractor, "resize_mode", None)},
        "names": {"suffix": metric.suffix},  # protocol_names: fid -> fd_<suffix>, cmmd -> cmmd_<suffix>, ...
        "classes": ({"classifier": extractor_card(extractor)["name"], "min_share": classes.min_share}
                    if classes else None),
        "real": {k: identity[k] for k in ("dataset", "split", "num_images", "shape", "transform", "fingerprint")},
        "test": ({**{k: test[1][k] for k in ("split", "num_images", "fingerprint")}, "cache_hit": test[2],
                  "gap": "fid_test - fid_train_matched: the training reference drawn to the test split's size "
                         f"(seed {cfg.seed})"} if test is not None else None),
        "memorization": ({"space": memorization.space, "max_shift": memorization.max_shift,
                          "train_images": len(memorization.train.points),
                          "rate": memorization.rate, "cells": memorization.cells, "heldout": test_data.name + "/test",
                          "threshold_fit": "half of the test split; copy_share_heldout: the other half",
                          "pairs": str(pairs) if pairs else None} if memorization is not None else None),
        "speckle": {"threshold": speckle.threshold, "real_share": speckle.real_share} if speckle else None,
        "num_generated": cfg.num_samples,
        "truncation": truncation.card() if truncation is not None and truncation.active else None,
        "seeds": {"noise": cfg.seed, "subsets": cfg.seed},
        "kid": {"subsets": cfg.kid.subsets, "subset_size": cfg.kid.subset_size},
        "is_splits": cfg.is_splits,
        "prdc": {"k_pr": cfg.prdc.k_pr, "k_dc": cfg.prdc.k_dc},
        "cmmd": ({"sigma": cfg.cmmd.sigma, "scale": cfg.cmmd.scale, "estimator": cfg.cmmd.estimator,
                  "normalized": True} if "cmmd" in metrics else None),
        "floor": {k: v for k, v in floor.items() if k != "metrics"} if floor else None,
        "reference_cache": {"dir": str(cfg.paths.cache_dir), "hit": hit},
        # FID statistics as .npz (mu, sigma), for pytorch-fid, clean-fid and real.stats=
        "stats": save_fid_stats(cfg, out, metric.real, metric.generated()["features"], extractor_card(extractor),
                                identity),
        "device": str(device),
        "seconds": {k: round(v, 3) for k, v in times.items()},
        "versions": versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    record = {"metrics": values, **({"floor": floor["metrics"]} if floor else {}), "card": card}
    append_record(out, record)
    if cfg.get("record"):  # also a results record (experiments/results/STUDY/RUN.json) for rendered tables
        from ganlab.results import write_record

        study, run = str(cfg.record).split("/", 1)
        numbers = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        run_params = {k: OmegaConf.select(loaded.config, k, default=None)
                      for k in ("seed", "datamodule.subset", "trainer.max_steps")}
        write_record(study, run, numbers, card=card, params={"checkpoint": str(loaded.path), "global_step":
                     loaded.global_step, "class_histogram": values.get("class_histogram"), **run_params},
                     overwrite=True)
    print_table(values, card, out, floor=record.get("floor"))
    return record


def checked(check: Any, *args: Any) -> Any:
    """``check(*args)`` with its ValueError as a one-line ConfigError."""
    try:
        return check(*args)
    except ValueError as e:
        raise ConfigError(str(e)) from e


def evaluate_all(cfg: DictConfig) -> list[dict[str, Any]]:
    """``evaluate(cfg)``, or one evaluation per value of a ``truncation.psi`` / ``truncation.threshold`` list, then
    one results record of the sweep and its figure: ``record=STUDY/RUN`` (experiments/results/STUDY/RUN.json and
    .png), or ``truncation_<key>.json`` / ``.png`` beside the checkpoint."""
    found = checked(sweep, cfg.get("truncation"))
    if found is None:
        return [evaluate(cfg)]
    key, values = found
    record_arg(cfg.get("record"))
    from ganlab.results.records import DEFAULT_ROOT

    if cfg.get("record"):
        (study, run), root = str(cfg.record).split("/", 1), DEFAULT_ROOT
    else:
        ckpt_dir = Path(checkpoint_arg(cfg, "ganlab-eval")).parent
        (study, run), root = (ckpt_dir.name, f"truncation_{key}"), ckpt_dir.parent
    path = Path(root) / study / f"{run}.json"
    figure = path.with_suffix(".png")
    existing = [str(p) for p in (path, figure) if p.exists()]
    if existing:  # before any work: a sweep never replaces an earlier one
        raise ConfigError(f"{', '.join(existing)} already exist(s); choose another record=STUDY/RUN")
    evaluations = []
    for value in values:
        one = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
        one.truncation[key], one.record = value, None  # each value appended to metrics.json; one record below
        evaluations.append(evaluate(one))
    from ganlab.results import write_record

    card = {k: v for k, v in evaluations[0]["card"].items() if k not in ("truncation", "seconds", "date")}
    other = {k: cfg.truncation.get(k) for k in ("psi", "threshold") if k != key}
    write_record(study, run, sweep_metrics(evaluations, key, values), card=card, root=root,
                 sweep={"key": f"truncation.{key}", "values": values, "other": other})
    plot_sweep(evaluations, key, values, str(figure), title=f"{card['checkpoint']} (step {card['global_step']})")
    log.info("truncation sweep: %s, %s", path, figure)
    return evaluations


def test_split(cfg: DictConfig, loaded: Any, train: Any) -> Any:
    """The checkpoint dataset's test split (``real.test_split``: auto = "test" when the dataset has one), or None."""
    mode = cfg.real.get("test_split", "auto")
    if mode in (None, False, "none") or cfg.real.split != "train":
        return None
    split = "test" if mode == "auto" else str(mode)
    try:
        return real_data(loaded.config, split, cfg.real.source, loaded.path, key="real.test_split",
                         allow=allowed_packages(cfg))
    except ConfigError:
        if mode == "auto":  # the dataset has no test split: the train-only numbers, as before
            return None
        raise


def trained_on(data: Any, config: DictConfig) -> Any:
    """The images the run's D steps drew from: ``data`` (its training split), or the run's ``datamodule.subset``
    of it (the same fixed, class-balanced draw the datamodule makes)."""
    from ganlab.data.base import balanced_subset
    from ganlab.data.split import split_data

    subset = OmegaConf.select(config, "datamodule.subset", default=None)
    holdout = OmegaConf.select(config, "datamodule.holdout", default=0) or 0
    if isinstance(holdout, int) and holdout > 0:  # the held-out reals were not trained on either
        data = split_data(data, holdout, None, OmegaConf.select(config, "datamodule.seed", default=0))[0]
    if not isinstance(subset, int) or isinstance(subset, bool):
        return data
    return balanced_subset(data, subset, seed=0)


def metric_test_reference(cfg: DictConfig, metric: Any, data: Any, device: Any) -> tuple[Any, dict, bool]:
    """(test features [N, D], the reference identity, cache hit) in the evaluation's features."""
    from ganlab.metrics.extraction import real_reference

    features, hit, identity = real_reference(data, metric.feature, metric.cache, split="test",
                                             batch_size=cfg.batch_size, device=device)
    return features, identity, hit


def memorization_metric(node: DictConfig, train: Any, test: Any, extractor: Any, device: Any) -> Any:
    """The Memorization metric against the test split (``memorization.enabled``: auto = when one exists), or None."""
    mode = node.get("enabled", "auto")
    if mode not in ("auto", True, False):
        raise ConfigError(f"memorization.enabled={mode!r}; valid: auto, true, false")
    if mode is False or (test is None and mode == "auto"):
        return None
    if test is None:
        raise ConfigError("memorization.enabled=true needs real images the generator never trained on; the "
                          "checkpoint's dataset has no test split (real.test_split)")
    from ganlab.metrics.memorization import Memorization

    try:
        metric = Memorization(extractor, **{k: v for k, v in node.items() if k != "enabled"})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"memorization: {e}".splitlines()[0]) from e
    metric.set_reference(train, test, device=device)
    return metric


def write_pairs(memorization: Any, out: Path, step: int) -> Path | None:
    """The closest sample / training-image pairs as a PNG beside ``out`` (None without the metric)."""
    pairs = memorization.closest_pairs() if memorization is not None else None
    if pairs is None:
        return None
    from torchvision.utils import save_image

    from ganlab.metrics.memorization import pairs_grid

    path = out.parent / f"{out.stem}_closest_pairs_step{step}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(pairs_grid(*pairs), path)
    return path


def check_floor(mode: Any, metrics: list[str]) -> list[str]:
    """The metrics of the real-vs-real floor (``floor=``): the two-sample ones (IS scores one set)."""
    if mode in (None, ""):
        return []
    if not isinstance(mode, str):
        raise ConfigError(f"floor={mode!r}; valid: null, halves, or a split name such as test")
    two_sample = [m for m in metrics if m != "is"]
    if not two_sample:
        raise ConfigError(f"floor={mode} compares two real sets, but metrics={metrics} has no two-sample metric; "
                          f"add fid, kid, prdc, fid_inf or cmmd")
    return two_sample


def real_floor(cfg: DictConfig, metric: Any, names: list[str], floor_data: Any,
               device: torch.device) -> dict[str, Any] | None:
    """Real-vs-real values in the evaluation's features: what a perfect generator would score.

    ``floor=halves``: two random halves of the reference features (seed ``seed``); ``floor=SPLIT``: the first
    ``num_samples`` images of that split (``floor_data``) against the whole reference, the protocol of the
    generated samples.
    """
    if not names:
        return None
    from ganlab.metrics.extraction import real_reference
    from ganlab.metrics.scoring.suite import compute_metrics, halves, protocol_names

    if cfg.floor == "halves":
        ref, other = halves(metric.real, cfg.seed)
        info: dict[str, Any] = {"kind": "halves", "seed": cfg.seed}
    else:
        other, hit, identity = real_reference(floor_data, metric.feature, metric.cache, split=cfg.floor,
                                              max_images=cfg.num_samples, batch_size=cfg.batch_size, device=device)
        ref = metric.real
        info = {"kind": "split", "split": cfg.floor, "fingerprint": identity["fingerprint"], "cache_hit": hit}
    values = compute_metrics(ref, {"features": other}, names, seed=cfg.seed, **metric.options)
    return {**info, "num_reference": int(ref.shape[0]), "num_compared": int(other.shape[0]),
            "metrics": protocol_names(values, metric.suffix)}


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append to the file's list of evaluations; earlier records are never lost."""
    records = []
    if path.is_file():
        try:
            records = json.loads(path.read_text())["evaluations"]
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path} exists but is not a ganlab metrics.json; choose another out=") from e
    records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"evaluations": records}, indent=2))
    tmp.replace(path)


def print_table(values: dict[str, Any], card: dict[str, Any], out: Path,
                floor: dict[str, Any] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{card['checkpoint']} (step {card['global_step']}, {card['generator']} generator)")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    if floor is not None:
        f = card["floor"]
        table.add_column(f"real vs real ({f['num_compared']} vs {f['num_reference']}, "
                         f"{'halves' if f['kind'] == 'halves' else f['split'] + ' split'})", justify="right")
    for key, value in values.items():
        if isinstance(value, (int, float)):
            cells = [_cell(value)] + ([_cell(floor.get(key))] if floor is not None else [])
            table.add_row(key, *cells)
    console.print(table)
    feature = card["feature"]
    console.print(
        f"protocol: {card['num_generated']} generated vs {card['real']['num_images']} real "
        f"({card['real']['dataset']}, {card['real']['split']}); features {feature['name']} "
        f"(sha256 {str(feature['sha256'])[:12]}); seed {card['seeds']['noise']}; "
        f"reference {cache_state(card)}; "
        f"times {card['seconds']}\nappended to {out}"
    )


def cache_state(card: dict[str, Any]) -> str:
    """How the reference was obtained, for the protocol line: cache hit or miss, or the statistics file."""
    cache = card.get("reference_cache")
    return f"statistics {card['real'].get('stats')}" if cache is None else f"cache {'hit' if cache['hit'] else 'miss'}"


# ------------------------------------------------------------------ FID statistics in and out (docs/fid-stats.md)
def next_index(out: Path) -> int:
    """The index the record about to be appended to ``out`` gets (0 for a new file)."""
    try:
        return len(json.loads(out.read_text())["evaluations"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def save_fid_stats(cfg: DictConfig, out: Path, real: Any, generated: Any, extractor: dict[str, Any],
                   identity: dict[str, Any] | None) -> dict[str, str] | None:
    """``stats.save``: the reference and generated statistics in ``<out stem>_stats/`` (None when off)."""
    if not cfg.get("stats", {}).get("save", True):
        return None
    from ganlab.metrics.scoring.fid_stats import write_evaluation_stats

    info = {"checkpoint": str(cfg.ckpt), "num_samples": cfg.num_samples, "seed": cfg.seed, "ema": bool(cfg.ema)}
    return write_evaluation_stats(out.parent / f"{out.stem}_stats", next_index(out), real, generated, extractor,
                                  identity, info)


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
                        versions: dict[str, str], truncation: Any = None) -> dict[str, Any]:
    """FID of ``loaded``'s samples (z truncated by ``truncation``, ganlab.truncation) against ``reference``
    statistics; returns the record (appended to ``out``)."""
    from ganlab.metrics.extraction import extract, extractor_card, generated_batches
    from ganlab.metrics.scoring.fid_stats import file_sha256, frechet_distance, gaussian
    from ganlab.metrics.scoring.suite import feature_suffix, protocol_names

    card_feature = extractor_card(extractor)
    times: dict[str, float] = {}
    t = time.perf_counter()
    batches = generated_batches(truncated(loaded.generator, truncation), cfg.num_samples, cfg.batch_size,
                                seed=cfg.seed, num_classes=loaded.num_classes, device=device)
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
        "truncation": truncation.card() if truncation is not None and truncation.active else None,
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


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "" if value is None else str(value)


@hydra.main(version_base="1.3", config_path=EVAL_CONFIG_DIR, config_name="eval")
def _main(cfg: DictConfig) -> None:
    with boundary.task("ganlab-eval", user=USER_ERRORS):
        evaluate_all(cfg)


@boundary.command("ganlab-eval", user=USER_ERRORS)
def main() -> int | None:
    """Console entry point (``ganlab-eval``)."""
    if wants_help(sys.argv[1:]):
        sys.exit(print_help("ganlab-eval", __doc__.splitlines()[0], (
            "ganlab-eval ckpt=outputs/DATE/TIME/checkpoints/best.ckpt",
            "ganlab-eval ckpt=... metrics=[fid,kid,is,prdc] num_samples=50000 feature=inception",
            "ganlab-eval ckpt=... metrics=[fid,prdc] truncation.psi=[1.0,0.8,0.6,0.4]   # a sweep: record + figure",
            "ganlab-eval ckpt=... feature=dinov2_vitl14 metrics=[fid,cmmd] floor=halves "
            "paths.dinov2_vitl14_weights=/w/dinov2_vitl14_pretrain.pth",
        ), EVAL_CONFIG_DIR, "eval", sys.argv[1:]))
    _main()


if __name__ == "__main__":
    sys.exit(main())
