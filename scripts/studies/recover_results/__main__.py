"""``python scripts/studies/recover_results [--only NAME ...]``: write the records recovered from files and history."""

from __future__ import annotations

import argparse

import files  # noqa: F401  (registers its recoveries)
import history  # noqa: F401
from common import RECOVERIES


def main() -> None:
    """Run every recovery (or those named) and say how many records each wrote."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(RECOVERIES), help="run only these recoveries")
    args = parser.parse_args()
    for name in args.only or sorted(RECOVERIES):
        print(f"{name}: {RECOVERIES[name]()} records")


if __name__ == "__main__":
    main()
