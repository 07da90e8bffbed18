"""The error boundary of every command: one line for user errors, one line and a traceback file for the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, TINY_MLP, cli_env

from ganlab.cli import boundary
from ganlab.errors import UserError

FAST = [*TINY_MLP, *TINY, "metrics=none", "health=none", "callbacks.samples.every_n_steps=1000"]


def train(*overrides: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlab.cli.train", *FAST, *overrides], cwd=cwd,
                          env=env or cli_env(), capture_output=True, text=True, timeout=600)


def test_an_unexpected_error_is_one_line_with_its_traceback_in_the_run_directory(tmp_path):
    run = tmp_path / "run"
    proc = train("+callbacks.boom._target_=helpers.Boom", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"ganlab-train: failed: RuntimeError: boom: an error inside training; traceback in {run / 'traceback.txt'} "
        f"(HYDRA_FULL_ERROR=1 or verbose=true prints it here)"]
    text = (run / "traceback.txt").read_text()
    assert "Traceback (most recent call last)" in text and "helpers.py" in text and "on_train_start" in text
    assert json.loads((run / "failed.json").read_text())["error"] == "RuntimeError"  # for ganlab-compare


def test_hydra_full_error_prints_the_traceback(tmp_path):
    proc = train("+callbacks.boom._target_=helpers.Boom", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path,
                 env={**cli_env(), "HYDRA_FULL_ERROR": "1"})
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "RuntimeError: boom" in proc.stderr
    assert not (tmp_path / "run" / "traceback.txt").exists()


def test_divergence_is_one_line(tmp_path):
    proc = train("optim.g.lr=1e10", "optim.d.lr=1e10", "trainer.log_every_n_steps=1", cwd=tmp_path,
                 env={**cli_env()})
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("ganlab-train: error: training diverged at step ")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("overrides", "message"), [
    (["optim.g.lr=-1e-4"], "ganlab-train: error: optim.g.lr=-0.0001; valid: a number > 0"),
    (["dataset.batch_size=8000"], "ganlab-train: error: dataset.batch_size=8000 x game.n_critic=1 = 8000 real "
                                  "samples per step, but dataset 'mnist5k' has 4000 training samples; valid: "
                                  "dataset.batch_size <= 4000"),
    (["dataset=folder"], "ganlab-train: error: dataset.source.path is required (??? in the config); valid: a "
                         "folder path"),
    (["+regularizer=r1"], "ganlab-train: error: +regularizer=r1: 'regularizer' is neither a config group nor a key "
                          "of the config (did you mean +regularizers=r1?)"),
    (["+optim.g.foo=1"], "ganlab-train: error: optim.g.foo=1: Adam.__init__() got an unexpected keyword argument "
                         "'foo'"),
    (["loss=nope"], "ganlab-train: error: In 'train': Could not find 'loss/nope'; valid: hinge, lsgan, minimax"),
    (["lss=hinge"], "ganlab-train: error: Could not override 'lss'. To append to your config use +lss=hinge"),
])
def test_the_issues_examples_are_one_line_before_training(tmp_path, overrides, message):
    proc = train(*overrides, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert "Training for" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_a_user_namespace_key_is_accepted(compose_cfg):
    from ganlab.checks import config_problem

    assert config_problem(compose_cfg("+user.my_flag=1"), ["+user.my_flag=1"]) is None
    assert config_problem(compose_cfg("+trainer.enable_progress_bar=false"), ["+trainer.enable_progress_bar=false"]) \
        is None  # a new key under an existing node
    assert config_problem(compose_cfg("+regularizers=r1"), ["+regularizers=r1"]) is None  # a group
    assert config_problem(compose_cfg("++seed=3"), ["++seed=3"]) is None  # a key of the root config
    problem = config_problem(compose_cfg("+foo.bar=1"), ["+foo.bar=1"])
    assert problem.startswith("+foo.bar=1: 'foo' is neither a config group nor a key of the config (no group or key "
                              "is close)")


def test_command_decorator_reports_user_and_unexpected_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(boundary, "_run_dir", None)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)

    @boundary.command("ganlab-x", code=2)
    def user(argv=None):
        raise UserError("settings.x=3; valid: 1 or 2\nsecond line")

    @boundary.command("ganlab-x", code=2)
    def crash(argv=None):
        raise KeyError("inner")

    assert user([]) == 2
    assert capsys.readouterr().err == "ganlab-x: error: settings.x=3; valid: 1 or 2\n"
    assert crash([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganlab-x: failed: KeyError: 'inner'; traceback in ") and "\n" not in err
    path = Path(err.split("traceback in ")[1].split(" (")[0])
    assert "KeyError: 'inner'" in path.read_text()
    path.unlink()
    assert "HYDRA_FULL_ERROR" not in __import__("os").environ  # restored after the call
    with pytest.raises(KeyError):
        crash(["verbose=true"])


def test_traceback_files_never_replace_earlier_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(boundary, "_run_dir", tmp_path)
    (tmp_path / "traceback.txt").write_text("earlier")
    path = boundary.write_traceback("ganlab-x", RuntimeError("now"))
    assert path == tmp_path / "traceback_1.txt" and (tmp_path / "traceback.txt").read_text() == "earlier"


def test_every_console_command_has_the_boundary():
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"][
        "scripts"]
    for name, target in scripts.items():
        module, func = target.split(":")
        main = getattr(__import__(module, fromlist=[func]), func)
        assert getattr(main, "__wrapped__", None) is not None, f"{name}: {target} is not decorated with " \
                                                                f"ganlab.cli.boundary.command"
