"""Run every `ganlab-*` command of the README's quick start and cookbook with a tiny budget.

    python scripts/checks/check_readme_commands.py            # all of them (minutes on 2 CPU cores)
    python scripts/checks/check_readme_commands.py --list     # what would run and what is skipped, and why
    python scripts/checks/check_readme_commands.py --only 0 5 # by index in --list

The logic is the importable module ganlab.tools.readme_commands (ganlab/tools/), which tests import.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
runpy.run_module("ganlab.tools.readme_commands", run_name="__main__", alter_sys=True)
