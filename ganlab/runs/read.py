"""One run directory read back: scalars, overrides, newest config, ganlab-eval records, protocol, status, last grid."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.errors import UserError
from ganlab.runs.scalars import read_scalars, run_dirs
from ganlab.runs.status import HEALTH_FILE, SAMPLE_PNG, Status, read_json, run_status, trained_step, verdict

LOWER_IS_BETTER = {"fid", "kid", "fid_inf", "reverse_kl", "class_kl", "speckle"}
HIGHER_IS_BETTER = {"precision", "recall", "density", "coverage", "is", "modes", "high_quality", "classes_covered"}
# settings of a metric logged next to its score: the protocol, shown apart from the results
PROTOCOL = {"kid_subsets", "kid_subset_size", "is_splits", "fid_inf_points", "prdc_k_pr", "prdc_k_dc"}
TIMINGS = {"eval_seconds"}
RESUME_ONLY = {"resume", "ckpt_path"}  # overrides that continue a run rather than configure it
EVALUATION = "metrics.callbacks.evaluation.metrics"  # the training-time metric objects (conf/metrics/*.yaml)


class CompareError(UserError):
    """A problem to report to the user in one line."""


@dataclass
class Run:
    """One training run as its directory shows it.

    ``values`` holds the table's numbers: ``val/<m>_final`` and ``val/<m>_best`` from the curves,
    ``eval/<m>`` from the last ganlab-eval record, ``steps`` (last trained step), ``wall_s``, ``images/s``.
    ``protocol`` / ``eval_protocol``: setting -> value of the training-time and ganlab-eval evaluations.
    ``grid``: the newest ``samples/samples_NNNNNNN.png``; ``image``: else the newest TensorBoard
    ``samples`` (or toy ``modes``) image as PNG bytes.
    """

    path: Path
    overrides: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    curves: dict[str, dict[int, float]] = field(default_factory=dict)
    label: str = ""
    status: Status = field(default_factory=lambda: Status("unknown"))
    steps: int | None = None
    max_steps: int | None = None
    verdict: str = "-"
    protocol: dict[str, str] = field(default_factory=dict)
    eval_protocol: dict[str, str] = field(default_factory=dict)
    grid: Path | None = None
    grid_step: int | None = None
    image: bytes | None = None


def find_runs(dirs: list[Path]) -> list[Path]:
    """Every directory under ``dirs`` (or one of them) that holds tensorboard/events.out.tfevents.* or
    csv/metrics.csv (a run logged with ``logger=csv``)."""
    return sorted(set().union(*(run_dirs(d) for d in dirs)))


def _parse_overrides(path: Path) -> dict[str, str]:
    """key -> raw value string of one overrides.yaml, without hydra.* keys; a deletion ``~key`` has value ``~``."""
    if not path.is_file():
        return {}
    out = {}
    for item in OmegaConf.to_container(OmegaConf.load(path), resolve=False) or []:
        key, sep, value = str(item).partition("=")
        key = key.lstrip("+")
        if key.startswith("~"):
            key, value = key[1:], "~"
        elif not sep:
            continue
        if not key.startswith("hydra."):
            out[key] = value
    return out


def _resume_dirs(run: Path) -> list[Path]:
    """``.hydra/resume_N`` folders (one per resume in place), oldest first."""
    found = [(int(m.group(1)), p) for p in (run / ".hydra").glob("resume_*")
             if (m := re.match(r"resume_(\d+)$", p.name))]
    return [p for _, p in sorted(found)]


def read_overrides(run: Path) -> dict[str, str]:
    """The run's command-line overrides, updated by its newest resume (e.g. a larger ``trainer.max_steps``)."""
    out = _parse_overrides(run / ".hydra" / "overrides.yaml")
    resumes = _resume_dirs(run)
    if resumes:
        newest = _parse_overrides(resumes[-1] / "overrides.yaml")
        out.update({k: v for k, v in newest.items() if k not in RESUME_ONLY})
    return out


def read_config(run: Path) -> DictConfig | None:
    """The newest composed config of the run (``.hydra/resume_N/config.yaml`` after resumes), unresolved."""
    for folder in [*reversed(_resume_dirs(run)), run / ".hydra"]:
        if (folder / "config.yaml").is_file():
            try:
                config = OmegaConf.load(folder / "config.yaml")
            except Exception as e:  # OmegaConf raises yaml's and its own errors
                raise CompareError(f"{folder / 'config.yaml'} is not a readable config ({e!r})") from e
            return config if isinstance(config, DictConfig) else None
    return None


# a reference to another key of the same file (``${dataset.feature}``); anything else inside ``${...}`` is a
# resolver (``oc.env``, ``hydra:``, ``ganlab.*``), which ganlab-compare never runs on a file it reads
_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*)\}")
_ABSENT = object()


def _at(raw: Any, key: str) -> Any:
    """The raw value at dotted ``key`` (list indices as ``.0`` or ``[0]``), or ``_ABSENT``."""
    node = raw
    for part in re.findall(r"[^.\[\]]+", key):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


def _resolve(raw: Any, value: Any, depth: int = 0) -> Any:
    """``value`` with references to other keys of ``raw`` followed; None where it needs a resolver (or loops)."""
    if depth > 32:
        return None
    if isinstance(value, dict):
        return {k: _resolve(raw, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(raw, v, depth + 1) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        target = _at(raw, whole.group(1))
        return None if target is _ABSENT else _resolve(raw, target, depth + 1)
    if "${" in _REFERENCE.sub("", value):  # a resolver call, or a reference written in another form
        return None
    parts = {m.group(1): _resolve(raw, _at(raw, m.group(1)), depth + 1) for m in _REFERENCE.finditer(value)}
    if any(p is None or p is _ABSENT or isinstance(p, (dict, list)) for p in parts.values()):
        return None
    return _REFERENCE.sub(lambda m: str(parts[m.group(1)]), value)


def select(config: DictConfig | None, key: str) -> Any:
    """``key`` of a config read from a run directory, as plain data, with references to its other keys followed.

    Never resolved by OmegaConf: a resolver in someone else's file (``${oc.env:...}``) would read this machine's
    environment into the table and the report. Values that need a resolver are None (unknown here).
    """
    if config is None:
        return None
    raw = OmegaConf.to_container(config, resolve=False)
    value = _at(raw, key)
    return None if value is _ABSENT else _resolve(raw, value)


def number(value: float) -> str:
    """A protocol setting as text: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _short(target: Any) -> str:
    """``ganlab.metrics.extractors.digits.DigitFeatures`` -> ``DigitFeatures``."""
    return str(target).rsplit(".", 1)[-1]


def val_protocol(config: DictConfig | None, curves: dict[str, dict[int, float]]) -> dict[str, str]:
    """The protocol of the training-time ``val/*`` numbers: feature extractor, generated samples, real set,
    and the metric settings logged beside the scores (``val/kid_subsets``, ``val/prdc_k_pr``, ...)."""
    if not any(tag.startswith("val/") for tag in curves):
        return {}
    out: dict[str, str] = {}
    feature = select(config, f"{EVALUATION}.features.feature")
    if isinstance(feature, Mapping) and "_target_" in feature:
        name = " ".join(str(x) for x in (_short(feature["_target_"]), feature.get("version")) if x)
        out["features"] = name + (f" (weights {feature['weights']})" if feature.get("weights") else "")
    samples = select(config, "metrics.num_samples")
    if samples is not None:
        out["samples"] = str(samples)
    if isinstance(select(config, f"{EVALUATION}.features"), Mapping):
        real = select(config, f"{EVALUATION}.features.max_real")
        out["real"] = "all training images" if real is None else f"{real} training images"
    threshold = select(config, f"{EVALUATION}.modes.threshold")
    if threshold is not None:
        out["mode threshold"] = f"{threshold} std"
    for tag, points in sorted(curves.items()):
        name = tag[len("val/"):]
        if tag.startswith("val/") and name in PROTOCOL and points:
            out[name] = number(points[max(points)])
    return out


def eval_protocol(card: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, str]:
    """The protocol of a ganlab-eval record (its card), as setting -> text."""
    out: dict[str, str] = {}
    feature = card.get("feature") or {}
    if feature:
        name = " ".join(str(x) for x in (feature.get("name"), feature.get("version")) if x)
        out["features"] = name + (f" (sha256 {str(feature['sha256'])[:12]})" if feature.get("sha256") else "")
    if "num_generated" in card:
        out["samples"] = str(card["num_generated"])
    real = card.get("real") or {}
    if real:
        out["real"] = f"{real.get('num_images')} {real.get('dataset')} ({real.get('split')})"
    if card.get("generator"):
        out["generator"] = str(card["generator"])
    for name in sorted(PROTOCOL & set(metrics)):
        if isinstance(metrics[name], (int, float)):
            out[name] = number(metrics[name])
    return out


def _scores(name: str) -> bool:
    """A logged number that is a result (not a protocol setting, a timing, or training's own <m>_best)."""
    return name not in PROTOCOL and name not in TIMINGS and not name.endswith("_best")


def _last_grid(run: Path) -> tuple[Path | None, int | None]:
    """The newest ``samples/samples_NNNNNNN.png`` and its step."""
    folder = run / "samples"
    found = [(int(m.group(1)), p) for p in folder.glob("samples_*.png") if (m := SAMPLE_PNG.match(p.name))]
    if not found:
        return None, None
    step, path = max(found)
    return path, step


def read_run(run: Path, now: float | None = None) -> Run:
    """Everything ganlab-compare shows of one run (``now``: the clock of the status rules, for tests)."""
    scalars = read_scalars(run)  # TensorBoard events, else the CSV logger's file
    result = Run(run, read_overrides(run))
    result.curves, times = scalars.curves, scalars.times
    for tag, points in result.curves.items():
        name = tag[len("val/"):]
        # val/<m>_best is logged by training for the HParams tab; here <m>_best is computed from val/<m>
        if not tag.startswith("val/") or not _scores(name) or not points:
            continue
        if name in LOWER_IS_BETTER or name in HIGHER_IS_BETTER:  # a score of unknown direction has no "best"
            result.values[f"{tag}_best"] = (min if name in LOWER_IS_BETTER else max)(points.values())
        result.values[f"{tag}_final"] = points[max(points)]

    config = read_config(run)
    max_steps = select(config, "trainer.max_steps")
    result.max_steps = max_steps if isinstance(max_steps, int) else None
    health = read_json(run / HEALTH_FILE)
    result.steps = trained_step(run, result.curves, result.max_steps, health)
    result.status = run_status(run, result.steps, result.max_steps, health, time.time() if now is None else now)
    result.verdict = verdict(health)
    result.protocol = val_protocol(config, result.curves)
    if result.steps is not None:
        result.values["steps"] = result.steps
    if times:
        wall = max(times) - min(times)
        result.values["wall_s"] = wall
        batch_size = select(config, "dataset.batch_size")
        if isinstance(batch_size, int) and wall > 0 and result.steps:
            result.values["images/s"] = result.steps * batch_size / wall

    metrics_json = run / "checkpoints" / "metrics.json"
    if metrics_json.is_file():
        try:
            record = (json.loads(metrics_json.read_text())["evaluations"] or [{}])[-1]
            metrics, card = record.get("metrics", {}), record.get("card") or {}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CompareError(f"{metrics_json} is not a ganlab metrics.json ({e!r})") from e
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and _scores(name):
                result.values[f"eval/{name}"] = float(value)
        result.eval_protocol = eval_protocol(card, metrics)

    result.grid, result.grid_step = _last_grid(run)
    if result.grid is None and scalars.image is not None:
        result.image, result.grid_step = scalars.image
    return result
