"""``python -m ganlab.results render|check [--root DIR] [DOC ...]``: rewrite or check the docs' results tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganlab.results.records import RecordError
from ganlab.results.render import RenderError, describe, run

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render or check every block, print one line per finding; 0 when all is current."""
    parser = argparse.ArgumentParser(prog="python -m ganlab.results", description=__doc__)
    parser.add_argument("action", choices=["render", "check"],
                        help="render: rewrite every results block from its records; check: fail if one differs")
    parser.add_argument("docs", nargs="*", type=Path, help="documents to handle (default: all, relative to --root)")
    parser.add_argument("--root", type=Path, default=REPO, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    write = args.action == "render"
    try:
        report = run(args.root, write=write, docs=args.docs or None)
    except (RenderError, RecordError) as e:
        print(f"ganlab.results: error: {e}", file=sys.stderr)
        return 2
    for line in describe(report, write=write):
        print(line, file=sys.stderr if not write else sys.stdout)
    print(f"{report.blocks} results blocks, {len(report.changed)} {'re-rendered' if write else 'out of date'}, "
          f"{len(report.unmarked)} unmarked tables with numbers")
    return 0 if (report.ok or (write and not report.unmarked)) else 1


if __name__ == "__main__":
    sys.exit(main())
