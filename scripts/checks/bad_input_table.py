"""Run every bad-input case in its own temporary folder and print the markdown table of docs/bad-input.md.

    python scripts/checks/bad_input_table.py > docs/bad-input.md      # regenerate the whole page
    python scripts/checks/bad_input_table.py --only "random bytes"    # run some cases (substring of `what`)

The logic is the importable module ganlab.tools.bad_input_table (ganlab/tools/), which tests import.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
runpy.run_module("ganlab.tools.bad_input_table", run_name="__main__", alter_sys=True)
