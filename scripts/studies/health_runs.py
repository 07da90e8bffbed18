"""The labelled runs of the health monitor: known-bad and known-good ganlab-train runs, and its score on them.

    python scripts/studies/health_runs.py --list                       # every run, its label and its command
    python scripts/studies/health_runs.py --runs minimax_dcgan default_s1 --jobs 2 --out outputs/health_runs
    python scripts/studies/health_runs.py --all --jobs 2               # the whole set (hours on a 2-core CPU)
    python scripts/studies/health_runs.py --table --out outputs/health_runs   # score the runs found in --out
    python scripts/studies/health_runs.py --runs grid_collapse --set trainer.max_steps=5000   # a reduced budget
    python scripts/studies/health_runs.py --table --rejudge --out outputs/health_runs  # alerts of today's detectors

The logic is the importable module ganlab.tools.health_runs (ganlab/tools/), which tests import.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
runpy.run_module("ganlab.tools.health_runs", run_name="__main__", alter_sys=True)
