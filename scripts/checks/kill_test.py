"""Kill -9 a CPU training run at random moments, resume each, and compare with an uninterrupted run.

    python scripts/checks/kill_test.py                    # 10 kills + a SIGTERM case, default MLP, 200 steps
    python scripts/checks/kill_test.py --kills 3 --steps 60

The logic is the importable module ganlab.tools.kill_test (ganlab/tools/), which tests import.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
runpy.run_module("ganlab.tools.kill_test", run_name="__main__", alter_sys=True)
