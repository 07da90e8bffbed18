"""``--help`` of the Hydra entry points, answered in about a second.

Hydra's own app help builds a config repository per group option to list the groups (168 deep copies
of the whole tree for conf/: 4 to 10 s). The same listing is a directory walk, and the composed config
one ``compose`` call. ``--hydra-help`` still shows Hydra's help.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

HELP_FLAGS = ("--help", "-h")


def config_groups(config_dir: str | Path, skip: Sequence[str] = ("hydra",)) -> dict[str, list[str]]:
    """group -> option names, from the folder tree (``dataset: [cifar10, mnist5k, ...]``), as Hydra lists them."""
    root = Path(config_dir)
    groups: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.yaml")):
        parts = path.relative_to(root).parts
        if len(parts) > 1 and parts[0] not in skip:
            groups.setdefault("/".join(parts[:-1]), []).append(path.stem)
    return dict(sorted(groups.items()))


def wants_help(argv: Sequence[str]) -> bool:
    return any(a in HELP_FLAGS for a in argv)


def print_help(tool: str, about: str, examples: Sequence[str], config_dir: str, config_name: str,
               argv: Sequence[str], skip: Sequence[str] = ("hydra",)) -> int:
    """Usage, config groups and the composed config (with the command line's overrides); returns the exit status."""
    from hydra import compose, initialize_config_dir

    overrides = [a for a in argv if not a.startswith("-")]
    try:
        with initialize_config_dir(config_dir, version_base="1.3"):
            cfg = compose(config_name, overrides=overrides)
    except Exception as e:  # Hydra's override and missing-config errors: one line, as for a run
        print(f"{tool}: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    lines = [about, "", f"usage: {tool} [GROUP=OPTION ...] [KEY=VALUE ...] [--cfg job] [-m] [--hydra-help]", ""]
    lines += [f"  {example}" for example in examples]
    lines += ["", "== Configuration groups ==", "Compose your configuration from those groups (group=option)", ""]
    lines += [f"{group}: {', '.join(options)}" for group, options in config_groups(config_dir, skip).items()]
    lines += ["", "== Config ==", "Override anything in the config (foo.bar=value)", "", OmegaConf.to_yaml(cfg)]
    print("\n".join(lines))
    return 0
