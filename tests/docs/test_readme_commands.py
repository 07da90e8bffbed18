"""The README's quick start and cookbook commands still work (scripts/checks/check_readme_commands.py).

Default suite: every command is found, classified, and each runnable ganlab-train command composes
and passes ganlab's consistency checks (in-process, no training). Slow: every runnable command runs
with a tiny budget.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab.config import compose, validate
from ganlab.tools import readme_commands as check

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "checks" / "check_readme_commands.py"

COMMANDS = check.readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
TRAIN = [c for c in COMMANDS if c.tokens[0] == "ganlab-train" and not c.skip]


def test_the_readme_has_commands_and_most_run_here():
    assert len(COMMANDS) >= 20
    # the quick start: a 20-step check, then the default run
    assert [c.line for c in COMMANDS[:2]] == ["ganlab-train debug=fast", "ganlab-train"]
    runnable = [c for c in COMMANDS if not c.skip]
    assert len(runnable) >= 0.7 * len(COMMANDS), [c.line for c in COMMANDS if c.skip]
    assert {c.tokens[0] for c in runnable} >= {"ganlab-train", "ganlab-eval", "ganlab-sample", "ganlab-compare"}


def test_skips_and_budget():
    parsed = check.readme_commands("```bash\nganlab-train a=1 \\\n    b=2   # comment\nganlab-train -m seed=1,2\n"
                                   "pip install x\nganlab-train trainer=gpu\n```\n")
    assert [c.tokens for c in parsed] == [["ganlab-train", "a=1", "b=2"], ["ganlab-train", "-m", "seed=1,2"],
                                          ["ganlab-train", "trainer=gpu"]]
    assert [c.skip is None for c in parsed] == [True, False, False]
    assert check.with_budget(["trainer.max_steps=30000", "seed=3"], ["trainer.max_steps=2"]) == \
        ["seed=3", "trainer.max_steps=2"]


@pytest.mark.parametrize("command", TRAIN, ids=[c.line[len("ganlab-train "):][:60] or "default" for c in TRAIN])
def test_readme_train_command_composes(command, tmp_path):
    argv = check.plan(command, tmp_path, 0, tmp_path / "first")
    # a resume command names the first run's checkpoint; validate checks that ckpt_path is a file
    (tmp_path / "first" / "checkpoints").mkdir(parents=True)
    (tmp_path / "first" / "checkpoints" / "last.ckpt").touch()
    overrides = [a for a in argv[3:] if not a.startswith("hydra.")]
    cfg = compose(overrides)
    validate(cfg)
    assert cfg.trainer.max_steps in (2, 4)


@pytest.mark.slow
def test_every_readme_command_runs_with_a_tiny_budget():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=3600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " 0 failed" in proc.stdout
