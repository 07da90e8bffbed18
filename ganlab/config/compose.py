"""Where the config tree lives, and composing the root config as ``ganlab-train`` does (for scripts and tests)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from ganlab.config.resolvers import register_resolvers

# the config tree lives beside the package in the repository (installed with `pip install -e`)
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "train") -> DictConfig:
    """The root config composed as ``ganlab-train OVERRIDES`` would compose it (for scripts and tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))
