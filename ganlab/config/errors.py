"""Configuration errors: one line that names the config key, whatever component refused its value."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from ganlab.errors import UserError


class ConfigError(UserError, ValueError):
    """An inconsistent or invalid configuration, reported before any work starts."""


def build(node: Any, key: str, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)`` with errors reduced to one line that names the config key."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        # Hydra names the nested node that failed (e.g. model.generator) on a "full_key:" line
        where = [line.split(":", 1)[1].strip() for line in str(e).splitlines() if line.startswith("full_key:")]
        raise ConfigError(f"{where[0] if where and where[0] else key}: {cause}".splitlines()[0]) from e
