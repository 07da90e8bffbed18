"""ganlab-diagnose: say what went wrong in training runs (verdict, alert timeline, key numbers, one figure each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganlab.cli import boundary
from ganlab.health.diagnose import diagnose, format_report
from ganlab.health.figure import plot


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="ganlab-diagnose", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories written by ganlab-train")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write the figures here as <run name>.png (default: <run>/diagnose.png)")
    p.add_argument("--no-plot", action="store_true", help="print the reports only")
    return p.parse_args(argv)


def figure_path(run: Path, out: Path | None, taken: set[Path]) -> Path:
    """<run>/diagnose.png, or <out>/<run name>.png (parent folders prepended until the name is unused)."""
    if out is None:
        return run / "diagnose.png"
    parts = run.resolve().parts
    for depth in range(1, len(parts) + 1):
        path = out / f"{'_'.join(parts[-depth:])}.png"
        if path not in taken:
            return path
    return out / f"run{len(taken)}.png"


@boundary.command("ganlab-diagnose", code=2)
def main(argv: list[str] | None = None) -> int:
    """Console entry point (``ganlab-diagnose``): steps are check all runs, then report each one."""
    args = parse_args(argv)
    diagnoses = [diagnose(run) for run in args.runs]  # every run read before anything is written
    taken: set[Path] = set()
    for i, d in enumerate(diagnoses):
        figure = None if args.no_plot else plot(d, figure_path(d.path, args.out, taken))
        taken.add(figure)
        print(("\n" if i else "") + format_report(d, figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
