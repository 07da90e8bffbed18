"""Quiet console (ganlab/console.py), lazy start-up of the entry points and their fast --help."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import pytest
from conftest import REPO

from ganlab import console
from ganlab.cli.help import config_groups
from ganlab.config import CONFIG_DIR


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def quiet():
    """console.configure(False) for the test, undone afterwards (filters are process-wide)."""
    level = logging.getLogger("ganlab").level
    console.configure(False)
    yield
    console.configure(True)
    logging.getLogger("ganlab").setLevel(level)


def test_lightning_notices_are_hidden_and_verbose_shows_them(quiet):
    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    records, level = _Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        for message in ("GPU available: False, used: False", "TPU available: False, using: 0 TPU cores",
                        "💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]",
                        "`Trainer(limit_val_batches=1.0)` was configured so 100% of the batches will be used..",
                        "Restoring states from the checkpoint path at x.ckpt", "Checkpoint written"):
            logger.info(message)
        assert records.messages == ["Checkpoint written"]  # other lines of the same logger pass
        console.configure(True)
        logger.info("GPU available: False, used: False")
        assert records.messages[-1] == "GPU available: False, used: False"
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


def test_irrelevant_warnings_are_hidden_others_are_not(quiet):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        console.configure(False)
        warnings.warn("The dirpath has changed from 'a' to 'b', therefore `best_model_score` ...", stacklevel=1)
        warnings.warn("It is recommended to use `self.log('val/fid', ..., sync_dist=True)` when logging on epoch "
                      "level in distributed setting", stacklevel=1)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("some other warning", stacklevel=1)
    assert [str(w.message) for w in caught] == ["some other warning"]


def test_other_ranks_log_warnings_only(quiet, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    console.configure(False)
    assert logging.getLogger("ganlab").level == logging.WARNING
    assert console.rank() == 1


def _run(code: str, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


# runs an entry point's main() and reports at exit which heavy libraries it imported
PROBE = r'''
import atexit, sys
atexit.register(lambda: print("HEAVY:", sorted(m for m in ("torch", "pytorch_lightning", "torchvision",
                                                           "tensorboard") if m in sys.modules)))
sys.argv = [sys.argv[1], *sys.argv[2:]]
import importlib
importlib.import_module(sys.argv[0]).main()
'''


@pytest.mark.parametrize(("module", "args", "code"), [
    ("ganlab.cli.train", ["--help"], 0),
    ("ganlab.cli.train", ["--cfg", "job"], 0),
    ("ganlab.cli.train", ["generator.resolution=64", "hydra.run.dir=RUN"], 1),
    ("ganlab.cli.evaluate", [], 1),
    ("ganlab.cli.sample", ["--help"], 0),
])
def test_help_cfg_and_config_errors_import_no_heavy_library(tmp_path, module, args, code):
    proc = _run(PROBE, module, *[a.replace("RUN", str(tmp_path / "run")) for a in args])
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "HEAVY: []" in proc.stdout, proc.stdout[-500:]
    if code:  # the one-line error of the tool
        tool = {"ganlab.cli.train": "ganlab-train", "ganlab.cli.evaluate": "ganlab-eval"}[module]
        assert proc.stderr.strip().splitlines()[-1].startswith(f"{tool}: error: ")


def test_fast_help_lists_groups_and_the_composed_config():
    proc = _run(PROBE, "ganlab.cli.train", "--help", "loss=hinge")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "usage: ganlab-train" in out and "ganlab-train debug=fast" in out
    losses = sorted(f.stem for f in (REPO / "conf" / "loss").glob("*.yaml"))
    assert len(losses) >= 6 and f"loss: {', '.join(losses)}\n" in out  # every option of the folder, sorted
    assert "_target_: ganlab.losses.Hinge" in out  # the override is applied to the config shown
    assert "\nhydra" not in out and "\neval" not in out  # Hydra's and the eval tools' folders are not train groups
    bad = _run(PROBE, "ganlab.cli.train", "--help", "lss=x")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == "ganlab-train: error: Could not override 'lss'."


def test_config_groups_match_the_folders():
    groups = config_groups(CONFIG_DIR, skip=("hydra", "eval"))
    assert groups["trainer"] == ["cpu", "ddp", "ddp_whole", "default", "gpu"]
    assert "mnist5k" in groups["dataset"] and "hydra/launcher" not in groups and "eval/feature" not in groups
