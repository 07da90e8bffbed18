"""Run loggers: ``logger=[tensorboard,csv,mlflow,wandb]`` (any subset; ``conf/logger/``), checked before any work.

This package's top level imports neither torch nor Lightning, so ganlab-train checks the ``logger=`` choice
in a second: an unknown name or a backend whose package is missing is a one-line error before anything is
written. The loggers themselves are in ``ganlab.loggers.backends``; what callbacks send through them in
``ganlab.loggers.base``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LOGGER_DIR = Path(__file__).resolve().parent.parent.parent / "conf" / "logger"
# logger class -> (the package it needs, the extra that installs it)
NEEDS = {
    "ganlab.loggers.backends.MLflowLogger": ("mlflow", "mlflow"),
    "ganlab.loggers.backends.WandbLogger": ("wandb", "wandb"),
}


def available(config_dir: str | Path = LOGGER_DIR) -> list[str]:
    """The logger names ``logger=`` accepts: the files of ``conf/logger``."""
    return sorted(p.stem for p in Path(config_dir).glob("*.yaml"))


def _names(value: Any) -> list[str]:
    """The names an override's value selects (a name, a list, a sweep of either)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [n for v in value for n in _names(v)]
    inner = getattr(value, "list", None)  # Hydra's ChoiceSweep (ganlab-train -m logger=csv,tensorboard)
    return _names(inner) if inner is not None else []


def check_names(argv: Sequence[str], config_dir: str | Path = LOGGER_DIR) -> None:
    """Raise ValueError (one line) when a ``logger=`` override names a logger ``conf/logger`` lacks.

    Hydra's own answer is a multi-line listing; this one names the key, the unknown name and the valid ones.
    Arguments Hydra cannot parse are left to Hydra.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    valid = available(config_dir)
    for arg in argv:
        if not arg.lstrip("+~").startswith("logger=") and not arg.lstrip("+~").startswith("logger@"):
            continue
        try:
            (override,) = OverridesParser.create().parse_overrides([arg])
        except Exception:  # Hydra reports its own syntax errors
            continue
        if override.is_delete():
            continue
        unknown = [n for n in _names(override.value()) if n not in valid]
        if unknown:
            raise ValueError(f"{arg}: unknown logger {', '.join(unknown)}; valid: {', '.join(valid)} "
                             f"(one or a list, e.g. logger=[tensorboard,csv]; none: ~logger)")


def check_installed(loggers: Mapping[str, Any] | None) -> None:
    """Raise ConfigError (one line) when a chosen logger's package is not installed (``pip install -e .[mlflow]``)."""
    from ganlab.config.errors import ConfigError

    for name, node in (loggers or {}).items():
        target = node.get("_target_") if isinstance(node, Mapping) else None
        package, extra = NEEDS.get(str(target), (None, None))
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(f"logger={name} needs the {package} package, which is not installed; "
                             f"pip install -e '.[{extra}]' (or pip install {package}), or drop {name} from logger=")


def build_loggers(loggers: Mapping[str, Any] | None) -> list[Any]:
    """The loggers of the ``logger`` node (name -> logger config), in order; a single logger node
    (``_target_`` at its top, the layout before logger lists) is built as the one logger."""
    from ganlab.config.errors import build

    if not loggers:
        return []
    check_installed(loggers)
    if "_target_" in loggers:
        return [build(loggers, "logger")]
    return [build(node, f"logger.{name}") for name, node in loggers.items() if node is not None]
