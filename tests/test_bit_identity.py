"""Short CPU runs end bit-identical to the recorded runs (scripts/checks/check_bit_identity.py says when)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, cli_env


@pytest.mark.slow
def test_recorded_runs_are_reproduced_bit_for_bit():
    cases = ["default", "pack2", "simultaneous", "ema"]  # scripts/checks/check_bit_identity.py runs all nine
    script = REPO / "scripts" / "checks" / "check_bit_identity.py"
    proc = subprocess.run([sys.executable, str(script), "--cases", *cases], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert f"{len(cases)}/{len(cases)} cases bit-identical" in proc.stdout
