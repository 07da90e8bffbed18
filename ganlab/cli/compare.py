"""ganlab-compare: tabulate, plot and report the runs under some folders, grouped over seeds."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from pathlib import Path

from ganlab.cli import boundary
from ganlab.runs.read import CompareError, find_runs, read_run
from ganlab.runs.report import REPORT_TAGS, plot, write_html
from ganlab.runs.table import (
    build_table,
    fit,
    group_runs,
    protocol_lines,
    render,
    short_keys,
    sort_rows,
    varying_keys,
    write_csv,
)

DEFAULT_WIDTH = 120


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="ganlab-compare", description=__doc__)
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run directories or sweep directories")
    p.add_argument("--runs", action="store_true", help="one row per run even when seeds could be grouped")
    p.add_argument("--wide", action="store_true", help="every column (full override keys, every metric, timings)")
    p.add_argument("--width", type=int, metavar="N",
                   help=f"fit the table into N characters (default {DEFAULT_WIDTH}, or the terminal's if narrower)")
    p.add_argument("--sort", metavar="COLUMN", help="sort by this column (e.g. val/fid_best, or its header: fid)")
    p.add_argument("--reverse", action="store_true", help="sort in descending order")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="keep runs with this override")
    p.add_argument("--csv", type=Path, metavar="PATH", help="also write every column as CSV")
    p.add_argument("--plot", action="append", default=[], metavar="TAG", help="plot this scalar (repeatable)")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder for --plot PNGs")
    p.add_argument("--html", type=Path, metavar="PATH",
                   help="write a self-contained HTML report (table, curves, last sample grids) to PATH")
    args = p.parse_args(argv)
    if args.width is not None and args.width < 40:
        p.error(f"--width {args.width}: valid: 40 or more characters")
    return args


def table_width_limit(requested: int | None) -> int:
    """--width, else DEFAULT_WIDTH, narrowed to the terminal when printing to a narrower one."""
    if requested is not None:
        return requested
    if sys.stdout.isatty():
        return min(DEFAULT_WIDTH, shutil.get_terminal_size().columns)
    return DEFAULT_WIDTH


def compare(args: argparse.Namespace) -> None:
    """Find, read, filter, tabulate, plot and report the runs as the options say."""
    from rich.console import Console

    paths = find_runs(args.dirs)
    if not paths:
        raise CompareError(f"no runs (tensorboard/events.out.tfevents.* or csv/metrics.csv) under "
                           f"{', '.join(map(str, args.dirs))}")
    for item in args.filter:
        if "=" not in item:
            raise CompareError(f"--filter {item}: expected KEY=VALUE")
    if args.html and args.html.is_dir():
        raise CompareError(f"--html {args.html} is a folder; valid: a file path such as report.html")
    runs = [read_run(p) for p in paths]
    for item in args.filter:
        key, _, value = item.partition("=")
        runs = [r for r in runs if r.overrides.get(key.lstrip("+")) == value]
    if not runs:
        raise CompareError(f"no runs left after --filter {' '.join(args.filter)} (of {len(paths)} found)")
    # the common parent names the runs; with one run that is the run itself, so name it by its folder
    parent = Path(os.path.commonpath([r.path for r in runs]))
    parent = parent.parent if parent in {r.path for r in runs} else parent
    for r in runs:
        r.label = str(r.path.relative_to(parent))
    keys = varying_keys(runs)
    groups = group_runs(runs, keys)
    grouped = not args.runs and any(len(g) > 1 for g in groups.values())
    columns, rows = build_table(runs, grouped, wide=args.wide)
    every, _ = build_table(runs, grouped, wide=True)
    if args.sort:
        try:
            sort_rows(every + columns, rows, args.sort, args.reverse)  # by key, or by a shown header
        except ValueError as e:
            raise CompareError(str(e)) from e

    width = table_width_limit(args.width)
    shown, hidden = (columns, []) if args.wide else fit(columns, rows, width)
    what = f"{len(groups)} groups of {len(runs)} runs" if grouped else f"{len(runs)} run{'s' * (len(runs) != 1)}"
    title = f"{what} under {parent}"
    console = Console(width=10_000, highlight=False)  # never wrap: --wide tables are meant for `less -S`
    console.print(render(shown, rows, title))
    notes = [f"not shown: {', '.join(c.key for c in hidden)} (--wide shows every column)"] if hidden else []
    notes += protocol_lines(runs, "protocol", "val/*") + protocol_lines(runs, "eval_protocol", "eval/*")
    for note in notes:
        for line in textwrap.wrap(note, width=width, subsequent_indent="  ", break_on_hyphens=False,
                                  break_long_words=False):  # paths stay whole
            console.print(line, soft_wrap=True)

    if args.csv:
        write_csv(args.csv, every, rows)
        print(f"wrote {args.csv}")
    short = short_keys(keys)
    if grouped:
        curves = {", ".join(f"{short[k]}={v}" for k, v in key if v != "") or "defaults": g
                  for key, g in groups.items()}
    else:
        curves = {r.label: [r] for r in runs}
    for tag in args.plot:
        print(f"wrote {plot(tag, curves, args.out)}")
    if args.html:
        tags = list(dict.fromkeys([*REPORT_TAGS, *args.plot]))
        write_html(args.html, title, (shown, rows), (every, rows), notes, runs, curves, tags)
        print(f"wrote {args.html}")


@boundary.command("ganlab-compare", code=2)
def main(argv: list[str] | None = None) -> int:
    """Console entry point (``ganlab-compare``); returns the exit code."""
    compare(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
