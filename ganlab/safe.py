"""The one way ganlab reads files it did not just write: checkpoints, cached features, extractor weights.

Three guards, each failing with one line that names the file:

1. ``torch.load(weights_only=True)``: the unpickler builds tensors and plain containers only, so a
   crafted file cannot run code while it is read.
2. ``check_shape``: what came back has the expected types and keys, so a wrong file is named here,
   not met later as an ``AttributeError`` or ``KeyError`` deep inside a loader.
3. ``check_targets``: a config read from a file is built only when every ``_target_`` in it
   (nested nodes and ``_partial_`` ones included) is a ganlab or torch component class (``ALLOWED_TARGETS``),
   since ``hydra.utils.instantiate`` calls whatever the config names; a stored ``dataset.source``
   (``check_dataset_source``) may call only one of ganlab's dataset factories, with arguments that factory
   takes, and never with ``download=true``. A researcher's own package is added to the allowlist only when
   its user names it (``safe.allow=[mypkg]`` for ganlab-eval and ganlab-sample, or ``GANLAB_SAFE_ALLOW=mypkg``);
   then its classes and functions may be named too. Never by default.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganlab.errors import UserError

# Module prefixes a stored config may name: ganlab's component packages and torch's layers and
# optimizers. Not ganlab itself: ganlab.cli, ganlab.callbacks, ganlab.checkpoint, ganlab.sweep, ...
# run programs, write files or read more files, and a checkpoint never needs to build them.
ALLOWED_TARGETS = (
    "ganlab.nets.", "ganlab.losses.", "ganlab.data.", "ganlab.metrics.", "ganlab.augment.", "ganlab.game.",
    "ganlab.module.", "torch.nn.", "torch.optim.",
)

ALLOWED_TEXT = ", ".join(p.rstrip(".") for p in ALLOWED_TARGETS)
# the user's own packages, allowed by name (comma-separated) in the environment, besides ``safe.allow``
ALLOW_ENV = "GANLAB_SAFE_ALLOW"
HOW_TO_ALLOW = f"your own package: safe.allow=[PACKAGE] or {ALLOW_ENV}=PACKAGE"
_PACKAGE = re.compile(r"[A-Za-z]\w*(\.[A-Za-z]\w*)*")

# Components that moved since a checkpoint was written: stored ``_target_`` paths (old module or class path,
# longest first) -> their path today, applied to a checkpoint's config when it is read (``current_targets``)
MOVED = {
    "ganlab.metrics.stacked.StackedDigitFeatures": "ganlab.metrics.extractors.stacked_digits.StackedDigitFeatures",
    "ganlab.metrics.base.": "ganlab.metrics.metric.",
    "ganlab.metrics.features.": "ganlab.metrics.feature_metrics.",
    "ganlab.metrics.classes.": "ganlab.metrics.class_coverage.",
    "ganlab.metrics.modes.": "ganlab.metrics.mode_coverage.",
    "ganlab.metrics.stacked.": "ganlab.metrics.stacked_modes.",
    "ganlab.metrics.reference.": "ganlab.metrics.reference_cache.",
    "ganlab.metrics.distributed.": "ganlab.metrics.gather.",
    "ganlab.metrics.scores.": "ganlab.metrics.scoring.scores.",
    "ganlab.metrics.digits.": "ganlab.metrics.extractors.digits.",
    "ganlab.metrics.inception.": "ganlab.metrics.extractors.inception.",
    "ganlab.metrics.dinov2.": "ganlab.metrics.extractors.dinov2.",
    "ganlab.metrics.clip.": "ganlab.metrics.extractors.clip.",
    "ganlab.metrics.pretrained.": "ganlab.metrics.extractors.pretrained.",
    "ganlab.metrics.calibration.": "ganlab.metrics.calibration.calibrate.",
    "ganlab.metrics.distortions.": "ganlab.metrics.calibration.distortions.",
}

# what a spec may say about a value: a type, a tuple of types, or a mapping {key: spec} for a dict
# with those keys (a key ending in "?" is optional); ``Tensors`` is a dict of str -> Tensor
Spec = type | tuple | Mapping


class BadFileError(UserError, ValueError):
    """An external file that cannot be used: unreadable, not what it should be, or naming code."""


class Tensors:
    """Spec marker: a dict mapping str keys to tensors (a state_dict, a bundle of features)."""


def load(path: str | Path, spec: Spec, *, what: str, data: bytes | None = None,
         error: type[BadFileError] = BadFileError) -> Any:
    """The content of ``path``, loaded as data only and checked against ``spec``.

    Args:
        path: the file (named in every error).
        spec: the expected shape of the content (see ``check_shape``).
        what: what the file should be, e.g. "a ganlab checkpoint", for the error messages.
        data: the file's bytes when already read (e.g. hashed first), so that exactly they are loaded.
        error: the ``BadFileError`` subclass to raise.

    Returns:
        The loaded object (tensors, dicts, lists and plain values only).
    """
    if data is None:
        if not Path(path).is_file():
            raise error(f"{path} is not a file; expected {what}")
        data = Path(path).read_bytes()
    if not data:
        raise error(f"{path} is empty; expected {what}")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types here (RuntimeError, UnpicklingError, EOFError, IndexError, ...)
        raise error(f"{path} is not {what}: {_refusal(e)}") from e
    check_shape(obj, spec, path=path, what=what, error=error)
    return obj


@contextlib.contextmanager
def weights_only_loads():
    """Every ``torch.load`` in the block loads data only, whatever its caller passes (for libraries that read
    a file ganlab hands them with ``weights_only=False``); torch's own switch, TORCH_FORCE_WEIGHTS_ONLY_LOAD."""
    saved = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = saved


def _refusal(e: Exception) -> str:
    """A short reason from torch.load's long messages: the code the file asked for, or a damaged archive."""
    text = str(e)
    named = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if named:
        return f"it asks to run or build {named.group(1)}, which a data-only load refuses"
    if "zip archive" in text or isinstance(e, EOFError):
        return f"truncated or damaged ({type(e).__name__})"
    # random or foreign bytes: torch's message is a generic paragraph (or "pop from empty list")
    return f"not a torch file, or damaged ({type(e).__name__})"


def _type_names(spec: type | tuple) -> str:
    types = spec if isinstance(spec, tuple) else (spec,)
    return " or ".join("a tensor dict" if t is Tensors else "a mapping" if t is dict else t.__name__ for t in types)


def check_shape(obj: Any, spec: Spec, *, path: str | Path, what: str, where: str = "",
                error: type[BadFileError] = BadFileError) -> None:
    """Raise ``error`` naming the first key whose value does not fit ``spec`` (types and required keys)."""
    label = f"{where} " if where else "its content "
    if isinstance(spec, Mapping):
        if not isinstance(obj, dict):
            raise error(f"{path} is not {what}: {label}is {type(obj).__name__}, expected a mapping with keys "
                        f"{', '.join(k.rstrip('?') for k in spec)}")
        for key, sub in spec.items():
            name = key.rstrip("?")
            if name not in obj:
                if key.endswith("?"):
                    continue
                raise error(f"{path} is not {what}: {label}has no key {name!r} (keys: {sorted(map(str, obj))[:8]})")
            check_shape(obj[name], sub, path=path, what=what, where=f"{where}.{name}" if where else name, error=error)
        return
    types = spec if isinstance(spec, tuple) else (spec,)
    if Tensors in types and isinstance(obj, dict):
        bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
        if not bad:
            return
        raise error(f"{path} is not {what}: {label}entry {bad[0]!r} is {type(obj[bad[0]]).__name__}, expected a tensor")
    if not isinstance(obj, tuple(t for t in types if t is not Tensors)):
        raise error(f"{path} is not {what}: {label}is {type(obj).__name__}, expected {_type_names(spec)}")


def allowed_packages(allow: Sequence[str] | None = ()) -> tuple[str, ...]:
    """The packages the user allows beyond ganlab and torch: ``allow`` (``safe.allow``) and ``GANLAB_SAFE_ALLOW``.

    Raises a one-line ``ValueError`` naming ``safe.allow`` for anything that is not a dotted package name.
    """
    if isinstance(allow, str):
        allow = [allow]
    names = [str(a) for a in (allow or ())] + [n for n in re.split(r"[,\s]+", os.environ.get(ALLOW_ENV, "")) if n]
    bad = [n for n in names if not _PACKAGE.fullmatch(n)]
    if bad:
        raise ValueError(f"safe.allow / {ALLOW_ENV}: {bad[0]!r} is not a package name; valid: dotted module names, "
                         f"e.g. safe.allow=[mypkg] or {ALLOW_ENV}=mypkg,otherpkg")
    return tuple(dict.fromkeys(names))


def _resolve(target: str, allow: Sequence[str] = ()) -> Any:
    """The object ``target`` names, reached without leaving the allowed packages (and ``allow``), or None.

    The prefix alone is not enough: ``ganlab.data.folder.Path.write_text`` starts with an allowed prefix
    but reaches pathlib through a name imported into the module; so the resolved object's own module
    must be allowed too (checked by the callers), and private names (``__globals__``, ``_private``) are
    never followed.
    """
    parts = target.split(".")
    user = tuple(f"{p}." for p in allow)
    if not target.startswith(ALLOWED_TARGETS + user) or any(not p or p.startswith("_") for p in parts):
        return None
    try:
        obj: Any = importlib.import_module(parts[0])  # "ganlab", "torch" or an allowed package, by the prefix check
    except ImportError:
        return None
    for i, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif inspect.ismodule(obj):  # a submodule not imported yet, e.g. ganlab.nets.mlp
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                return None
        else:
            return None
    return obj


def _allowed_object(target: str, allow: Sequence[str] = ()) -> bool:
    """True when ``target`` resolves, without leaving the allowed packages, to a class defined in them, or to a
    class or function of a package the user allows (``allow``).

    Other functions are never allowed here (one may do work with side effects:
    ganlab.metrics.extractors.clip.convert_openai_release writes its ``out`` file); a stored dataset source is
    checked by ``check_dataset_source``.
    """
    obj = _resolve(target, allow)
    home = f"{getattr(obj, '__module__', None)}."
    if allow and home.startswith(tuple(f"{p}." for p in allow)):  # the user's own package, allowed by name
        return inspect.isclass(obj) or inspect.isfunction(obj)
    return inspect.isclass(obj) and home.startswith(ALLOWED_TARGETS)


def current_target(target: str) -> str:
    """``target`` as named today: a stored path of a component that moved (``MOVED``) is renamed."""
    for before, now in MOVED.items():
        if target == before or (before.endswith(".") and target.startswith(before)):
            return now + target[len(before):]
    return target


def current_targets(node: Any) -> Any:
    """A plain config container (a checkpoint's stored config) with every ``_target_`` renamed by
    ``current_target``; other values untouched. Returns a new container."""
    if isinstance(node, dict):
        return {k: current_target(v) if k == "_target_" and isinstance(v, str) else current_targets(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [current_targets(v) for v in node]
    return node


def check_targets(node: Any, *, path: str | Path, where: str, error: type[BadFileError] = BadFileError,
                  allow: Sequence[str] = ()) -> None:
    """Refuse a config from ``path`` that names anything but a ganlab/torch component, or an interpolation.

    Args:
        node: a plain container or an OmegaConf node (walked recursively: dicts, lists, ``_args_``).
        path: the file the config came from (named in the error).
        where: the config key of ``node``, e.g. "generator".
        allow: the user's own packages whose components may be named too (``allowed_packages``).
    """
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, dict):
        target = node.get("_target_")
        if "_target_" in node and not (isinstance(target, str) and _allowed_object(target, allow)):
            allowed = ", ".join([ALLOWED_TEXT, *allow])
            raise error(f"{path}: its config names _target_ {target} (at {where}), which is not a ganlab/torch "
                        f"component; refusing to build it (allowed: classes under {allowed}; {HOW_TO_ALLOW})")
        for key, value in node.items():
            check_targets(value, path=path, where=f"{where}.{key}", error=error, allow=allow)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, path=path, where=f"{where}[{i}]", error=error, allow=allow)
    elif isinstance(node, str) and "${" in node:
        # a stored config is resolved when saved; an interpolation left in it could call a resolver
        # (oc.env reads the environment, oc.create makes new _target_ nodes after this check)
        raise error(f"{path}: its config holds the interpolation {node!r} at {where}; a stored config is "
                    f"resolved when saved, so refusing to build it")


def build_stored(node: Any, *, path: str | Path, where: str, error: type[BadFileError] = BadFileError,
                 allow: Sequence[str] = (), **kwargs: Any) -> Any:
    """``instantiate(node)`` for a config read from ``path``, after ``check_targets``; errors in one line.

    Args:
        node: a dict / DictConfig with a ``_target_`` (the config key ``where`` of the stored config).
        allow: the user's own packages whose components may be named too, besides those of ``GANLAB_SAFE_ALLOW``.
        kwargs: extra arguments for the target (given by ganlab, not by the file).
    """
    if not isinstance(node, Mapping) and not OmegaConf.is_dict(node) or "_target_" not in node:
        raise error(f"{path}: its config's {where} is {type(node).__name__} {str(node)[:60]!r}, expected a "
                    f"mapping with a _target_ (as ganlab-train writes it)")
    check_targets(node, path=path, where=where, error=error, allow=allowed_packages(allow))  # + GANLAB_SAFE_ALLOW
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:  # the component refused its arguments
        cause = e.__cause__ if e.__cause__ is not None else e
        raise error(f"{path}: its config's {where} cannot be built: {cause}".splitlines()[0]) from e


@functools.lru_cache(maxsize=1)
def dataset_factories() -> frozenset[str]:
    """The dataset factories a stored config may call: the ``source._target_`` of each of ganlab's dataset
    configs (conf/dataset/*.yaml), read without resolving anything."""
    from ganlab.config import CONFIG_DIR

    names = set()
    for path in sorted((Path(CONFIG_DIR) / "dataset").glob("*.yaml")):
        source = OmegaConf.to_container(OmegaConf.load(path), resolve=False).get("source")
        if isinstance(source, dict) and isinstance(source.get("_target_"), str):
            names.add(source["_target_"])
    return frozenset(names)


def check_dataset_source(node: Any, *, path: str | Path, error: type[BadFileError] = BadFileError) -> None:
    """Refuse a stored ``dataset.source`` unless it calls one of ``dataset_factories`` (``_partial_``) with plain
    arguments that factory takes and no download: what ganlab-train saves, nothing a crafted file could add.

    Args:
        node: the stored ``dataset.source`` (a plain container or an OmegaConf node).
        path: the file it came from (named in the error).
    """
    where = "dataset.source"
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=False)
    if not isinstance(node, dict) or node.get("_target_") not in dataset_factories():
        target = node.get("_target_") if isinstance(node, dict) else type(node).__name__
        raise error(f"{path}: its config's {where} names {target}, which is not one of ganlab's dataset factories; "
                    f"refusing to call it (allowed: {', '.join(sorted(dataset_factories()))})")
    factory = _resolve(node["_target_"])
    if not inspect.isfunction(factory) or not f"{factory.__module__}.".startswith("ganlab.data."):
        raise error(f"{path}: its config's {where} names {node['_target_']}, which does not resolve to a ganlab "
                    f"dataset factory; refusing to call it")
    known = set(inspect.signature(factory).parameters)
    for key, value in node.items():
        if key in ("_target_", "_partial_"):
            continue
        if key not in known:
            raise error(f"{path}: its config's {where}.{key} is not an argument of {node['_target_']} (arguments: "
                        f"{', '.join(sorted(known))}); refusing to call it")
        plain = value is None or isinstance(value, (str, int, float, bool)) or (
            isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value))
        if not plain or (isinstance(value, str) and "${" in value):
            raise error(f"{path}: its config's {where}.{key} is {str(value)[:60]!r}, not a plain value as "
                        f"ganlab-train saves it; refusing to call {node['_target_']}")
    if node.get("download") not in (None, False):
        raise error(f"{path}: its config's {where}.download={node['download']}: a stored config never downloads; "
                    f"put the files under {where}.root, or pass real.source.download=true to allow it")
