"""Multirun: run folders named by overrides, a summary, failed trials that do not stop a sweep, Optuna."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY, TINY_MLP, cli_env
from hydra import compose, initialize_config_dir

from ganlab.config import CONFIG_DIR
from ganlab.sweep import path_safe

FAST = [*TINY_MLP, *TINY]


def multirun(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", "-m", *FAST, *overrides], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def sweep_dir(root: Path) -> Path:
    (sweep,) = list((root / "multirun").glob("*/*"))
    return sweep


def test_grid_names_runs_by_overrides_and_keeps_going_after_a_failure(tmp_path):
    multirun("loss=hinge,nonsaturating", "optim.d.lr=2e-4,-1", cwd=tmp_path)
    sweep = sweep_dir(tmp_path)
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(runs) == 4 and len({r.name for r in runs}) == 4
    assert all("loss=" in r.name and "optim.d.lr=" in r.name and "/" not in r.name for r in runs)
    summary = json.loads((sweep / "summary.json").read_text())["runs"]
    ok = [r for r in summary if r["status"] == "ok"]
    failed = [r for r in summary if r["status"] == "failed"]
    assert len(ok) == 2 and len(failed) == 2  # the failing trials did not stop the sweep
    assert all("optim.d.lr=-1; valid: a number > 0" in r["error"] for r in failed)  # refused before training
    assert all(r["metric"] == "val/fid" and r["value"] > 0 for r in ok)
    for r in ok:
        assert list((sweep / r["run"] / "tensorboard").glob("events.out.tfevents.*"))
    assert "| failed |" in (sweep / "summary.md").read_text()


@pytest.mark.slow  # test_optuna_failed_trial_does_not_end_the_study also runs Optuna and checks its best trial
def test_optuna_sweep_records_best_trial(tmp_path):
    multirun("sweep=optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.params={optim.d.lr:'interval(1e-4,1e-3)'}",
             cwd=tmp_path)
    sweep = sweep_dir(tmp_path)
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["name"] == "optuna"
    assert 1e-4 <= result["best_params"]["optim.d.lr"] <= 1e-3
    values = [r["value"] for r in json.loads((sweep / "summary.json").read_text())["runs"]]
    assert len(values) == 3 and result["best_value"] == min(values)


def test_optuna_failed_trial_does_not_end_the_study(tmp_path):
    multirun("sweep=optuna", "hydra.sweeper.n_trials=4", "hydra.sweeper.params={optim.d.lr:'choice(-1.0,2e-4)'}",
             cwd=tmp_path)
    sweep = sweep_dir(tmp_path)
    statuses = [r["status"] for r in json.loads((sweep / "summary.json").read_text())["runs"]]
    assert len(statuses) == 4 and "failed" in statuses and "ok" in statuses
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_params"]["optim.d.lr"] == 2e-4


def test_slurm_launcher_composes():
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"],
                      return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.gpus_per_node == 1


def test_optuna_presets_compose():
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["sweep=optuna_wgan_gp"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert {"optim.g.lr", "optim.d.lr", "optim.beta1", "game.n_critic", "regularizers.gp.weight"} <= set(params)
    assert cfg.hydra.sweeper.direction == "minimize" and cfg.loss._target_.endswith("Wasserstein")


def test_path_safe_names():
    assert path_safe("dataset.source.path=/data/x y,loss=hinge") == "dataset.source.path=_data_x_y,loss=hinge"
    assert path_safe("") == "defaults" and len(path_safe("a" * 500)) == 120


def test_joblib_launcher_runs_trials_in_parallel_processes(tmp_path):
    multirun("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2", cwd=tmp_path)
    sweep = sweep_dir(tmp_path)
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0_seed=1", "1_seed=2"]
    assert [r["status"] for r in json.loads((sweep / "summary.json").read_text())["runs"]] == ["ok", "ok"]
