"""Keys of the command line: a top-level key added with ``+`` must be a config group or a key of the config.

Hydra lets ``+anything=value`` through: ``+regularizer=r1`` (the group is ``regularizers``) adds an unused key
and trains without the regularizer. Such a key is refused with the nearest existing name; keys for people's
own code go under ``+user.*``, which is never checked.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

USER_NAMESPACE = "user"


@functools.lru_cache(maxsize=8)
def groups(config_dir: str | Path) -> frozenset[str]:
    """The top-level names that always exist: the config groups (the folders of the config tree, Hydra's own
    ``hydra`` included) and the root config's own keys (conf/train.yaml: ``seed``, ``threads``, ...)."""
    from omegaconf import OmegaConf

    root = Path(config_dir)
    primary = root / "train.yaml"
    own = OmegaConf.to_container(OmegaConf.load(primary), resolve=False) if primary.is_file() else {}
    return frozenset({p.name for p in root.iterdir() if p.is_dir()} | {k for k in own if k != "defaults"})


def _parse(override: str) -> tuple[str, str] | None:
    """``+a.b=1`` / ``++a.b=1`` / ``+group@pkg=x`` -> (``a.b`` / ``group``, the text as typed); None otherwise."""
    if not override.startswith("+") or "=" not in override:
        return None
    key = override.lstrip("+").split("=", 1)[0].split("@", 1)[0]
    return key, override


def _covered(leaf: str, keys: Iterable[str]) -> bool:
    return any(leaf == k or leaf.startswith(f"{k}.") or leaf.startswith(f"{k}[") for k in keys)


def unknown_additions(raw: dict[str, Any], overrides: Sequence[str],
                      group_names: frozenset[str] | set[str]) -> list[tuple[str, str]]:
    """(override, its top-level name) of each ``+`` override whose top-level name is new: neither a group nor
    a key that the config has apart from what the ``+`` overrides themselves put there.

    Args:
        raw: the composed config as a plain container, unresolved.
        overrides: the command line's overrides (``hydra.overrides.task``).
        group_names: the config groups (``groups``).
    """
    from ganlab.checks.domains import leaves

    added: dict[str, list[tuple[str, str]]] = {}
    for override in overrides:
        parsed = _parse(override)
        if parsed is not None:
            key, text = parsed
            top = key.split(".", 1)[0].split("[", 1)[0].split("/", 1)[0]
            added.setdefault(top, []).append((key, text))
    unknown = []
    for top, items in added.items():
        if top in group_names or top in (USER_NAMESPACE, "hydra"):
            continue
        keys = [k for k, _ in items]
        node = raw.get(top)
        inside = [leaf for leaf, _ in leaves(node, top)] if isinstance(node, (dict, list)) else [top]
        if top not in raw or all(_covered(leaf, keys) for leaf in inside):
            unknown.append((items[0][1], top))
    return unknown


def suggestion(name: str, raw: dict[str, Any], group_names: frozenset[str] | set[str], new: set[str]) -> str | None:
    """The existing group or top-level key nearest to ``name`` (None when nothing is close)."""
    candidates = sorted((group_names | set(raw)) - new - {"hydra"})
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def refusal(raw: dict[str, Any], overrides: Sequence[str], group_names: frozenset[str] | set[str]) -> str | None:
    """The one-line refusal of the first unknown ``+`` key, or None when every added key is known."""
    unknown = unknown_additions(raw, overrides, group_names)
    if not unknown:
        return None
    override, top = unknown[0]
    near = suggestion(top, raw, group_names, {t for _, t in unknown})
    hint = f"did you mean {override.replace(top, near, 1)}?" if near else "no group or key is close"
    return (f"{override}: '{top}' is neither a config group nor a key of the config ({hint}); valid: an existing "
            f"group or key, or +{USER_NAMESPACE}.{top}... for keys of your own code")
