"""Shared fixtures: compose configs from conf/ exactly as ganlab-train does, sized for 2 CPU cores."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from ganlab.config import compose

REPO = Path(__file__).resolve().parent.parent

# small and fast by default: a tiny MLP GAN on mnist5k, a few steps, a small evaluation
TINY_MLP = ["generator.hidden=[32,64]", "discriminator.hidden=[64,32]"]
TINY = [
    "trainer.max_steps=4",
    "trainer.log_every_n_steps=1",
    "trainer.enable_model_summary=false",
    "+trainer.enable_progress_bar=false",
    "metrics.every_n_steps=2",
    "metrics.num_samples=200",
    "metrics.batch_size=100",
    "~callbacks.progress_bar",
    "callbacks.samples.every_n_steps=2",
]


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """Reference-feature cache of the whole test session (also seen by subprocesses), never ~/.cache."""
    os.environ["GANLAB_CACHE"] = str(tmp_path_factory.mktemp("ganlab-cache"))


@pytest.fixture(autouse=True)
def _small_threads():
    torch.set_num_threads(1)  # many tiny ops: threads only add contention on 2 cores


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """compose_cfg(*overrides) -> the composed root config, writing under tmp_path."""

    def _compose(*overrides: str) -> DictConfig:
        return compose([f"paths.output_dir={tmp_path}", *overrides])

    return _compose


def cli_env() -> dict[str, str]:
    """Environment for ganlab-train subprocesses: one thread per process, tests' helpers importable."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HYDRA_FULL_ERROR="0")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env
