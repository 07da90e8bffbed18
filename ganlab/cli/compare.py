"""ganlab-compare: tabulate and plot the TensorBoard scalars of many runs, grouped over seeds."""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table
from rich.text import Text

LOWER_IS_BETTER = {"fid", "kid", "fid_inf"}
HIGHER_IS_BETTER = {"precision", "recall", "density", "coverage", "is"}
# timings and protocol settings logged next to the scores: constants of the run, not results to compare
NOT_SCORES = {"eval_seconds", "kid_subsets", "kid_subset_size", "is_splits", "fid_inf_points"}
ORDER = ["fid", "kid", "fid_inf", "is", "precision", "recall", "density", "coverage"]


class CompareError(Exception):
    """A problem to report to the user in one line."""


class Stat(NamedTuple):
    """Mean, sample std (None for one value) and count of one column over a group's runs."""

    mean: float
    std: float | None
    n: int


@dataclass
class Run:
    """One training run: its overrides, its table values and its scalar curves."""

    path: Path
    overrides: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    curves: dict[str, dict[int, float]] = field(default_factory=dict)
    label: str = ""


def find_runs(dirs: list[Path]) -> list[Path]:
    """Every directory under ``dirs`` (or one of them) that holds tensorboard/events.out.tfevents.*."""
    runs = set()
    for d in dirs:
        for event_file in d.rglob("events.out.tfevents.*"):
            if event_file.parent.name == "tensorboard":
                runs.add(event_file.parent.parent.resolve())
    return sorted(runs)


def read_overrides(run: Path) -> dict[str, str]:
    """The run's command-line overrides as key -> raw value string, without hydra.* ones."""
    path = run / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    out = {}
    for item in OmegaConf.to_container(OmegaConf.load(path), resolve=False) or []:
        key, sep, value = str(item).partition("=")
        key = key.lstrip("+")
        if key.startswith("~"):  # a deleted key: record the deletion as its value
            key, value = key[1:], "~"
        elif not sep:
            continue
        if not key.startswith("hydra."):
            out[key] = value
    return out


def read_batch_size(run: Path) -> int | None:
    """dataset.batch_size of the run's composed config, or None when it cannot be read."""
    try:
        value = OmegaConf.select(OmegaConf.load(run / ".hydra" / "config.yaml"), "dataset.batch_size")
        return int(value) if value is not None else None
    except Exception:  # missing file, or an interpolation that only resolves inside ganlab-train
        return None


def read_run(run: Path) -> Run:
    """Scalars (all points), overrides, batch size and last metrics.json evaluation of one run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # scalars=0 keeps every point; the images and tensors (sample grids, config) are not needed
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 1, "tensors": 1})
    acc.Reload()
    result = Run(run, read_overrides(run))
    times = []
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        result.curves[tag] = {e.step: e.value for e in events}  # a resumed step keeps its latest value
        times += [e.wall_time for e in events]
    for tag, points in result.curves.items():
        name = tag[len("val/"):]
        # val/<m>_best is logged by training for the HParams tab; here <m>_best is computed from val/<m>
        if not tag.startswith("val/") or name in NOT_SCORES or name.endswith("_best") or not points:
            continue
        if name in LOWER_IS_BETTER or name in HIGHER_IS_BETTER:  # a score of unknown direction has no "best"
            result.values[f"{tag}_best"] = (min if name in LOWER_IS_BETTER else max)(points.values())
        result.values[f"{tag}_final"] = points[max(points)]
    if times:
        result.values["steps"] = max(max(c) for c in result.curves.values() if c)
        wall = max(times) - min(times)
        result.values["wall_s"] = wall
        batch_size = read_batch_size(run)
        if batch_size and wall > 0:
            result.values["images/s"] = result.values["steps"] * batch_size / wall
    metrics_json = run / "checkpoints" / "metrics.json"
    if metrics_json.is_file():
        try:
            metrics = (json.loads(metrics_json.read_text())["evaluations"] or [{}])[-1].get("metrics", {})
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CompareError(f"{metrics_json} is not a ganlab metrics.json ({e!r})") from e
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in NOT_SCORES:
                result.values[f"eval/{name}"] = float(value)
    return result


def _metric_order(name: str) -> tuple[int, str]:
    """Sort key: the known metrics in ORDER, then the rest alphabetically."""
    base = name.rsplit("/", 1)[-1]
    return (ORDER.index(base), name) if base in ORDER else (len(ORDER), name)


def varying_keys(runs: list[Run]) -> list[str]:
    """Override keys whose value (or absence) is not the same in all runs."""
    keys = sorted({k for r in runs for k in r.overrides})
    return [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]


def numeric_columns(runs: list[Run]) -> list[str]:
    """Value columns in a stable order: val/* scores, steps and timings, then eval/*."""
    seen = {c for r in runs for c in r.values}
    first = [c for c in seen if c.startswith("val/")]
    last = [c for c in seen if c.startswith("eval/")]
    middle = [c for c in ("steps", "wall_s", "images/s") if c in seen]
    # <tag>_best then <tag>_final, tags in metric order
    by_order = sorted(first, key=lambda c: (_metric_order(c.rsplit("_", 1)[0]), not c.endswith("_best")))
    return by_order + middle + sorted(last, key=_metric_order)


def group_runs(runs: list[Run], keys: list[str]) -> dict[tuple[tuple[str, str], ...], list[Run]]:
    """Runs keyed by their (key, value) varying overrides other than seed, so seeds of one setting fall together."""
    groups: dict[tuple[tuple[str, str], ...], list[Run]] = {}
    for r in runs:
        groups.setdefault(tuple((k, r.overrides.get(k, "")) for k in keys if k != "seed"), []).append(r)
    return groups


def stat(values: list[float]) -> Stat | None:
    """Mean, sample std (ddof=1) and count; None when there are no values."""
    if not values:
        return None
    return Stat(statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))


def build_table(runs: list[Run], grouped: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the per-run table, or of the per-group table with Stat cells."""
    keys, numeric = varying_keys(runs), numeric_columns(runs)
    if not grouped:
        rows = [{"run": r.label, **{k: r.overrides.get(k, "") for k in keys}, **r.values} for r in runs]
        return ["run", *keys, *numeric], rows
    group_keys = [k for k in keys if k != "seed"]
    rows = []
    for key, members in group_runs(runs, keys).items():
        row: dict[str, Any] = {**dict(key), "n": len(members)}
        for col in numeric:
            row[col] = stat([r.values[col] for r in members if col in r.values])
        rows.append(row)
    return [*group_keys, "n", *numeric], rows


def sort_rows(columns: list[str], rows: list[dict[str, Any]], column: str, reverse: bool) -> None:
    """Sort in place by ``column``; rows without a value go last either way."""
    column = column.removesuffix("_mean") if column not in columns else column
    if column not in columns:
        raise CompareError(f"--sort {column}: no such column; columns: {', '.join(columns)}")

    def value(row: dict[str, Any]) -> Any:
        v = row.get(column)
        return v.mean if isinstance(v, Stat) else v

    present = sorted((r for r in rows if value(r) not in (None, "")), key=value, reverse=reverse)
    rows[:] = present + [r for r in rows if value(r) in (None, "")]


def fmt(value: Any) -> str:
    """A cell as text: 4 significant digits, but no exponent for large values like step counts."""
    if value is None:
        return ""
    if isinstance(value, Stat):
        return fmt(value.mean) if value.std is None else f"{fmt(value.mean)} ± {fmt(value.std)} ({value.n})"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def print_table(columns: list[str], rows: list[dict[str, Any]], title: str) -> None:
    """Print with rich; wide enough off a terminal that cells are never wrapped or cut."""
    console = Console(width=None if sys.stdout.isatty() else 10_000, highlight=False)
    table = Table(title=title)
    for col in columns:
        numeric = any(isinstance(r.get(col), (int, float, Stat)) for r in rows)
        table.add_column(Text(col), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(Text(fmt(row.get(col))) for col in columns))  # Text: values like [32,64] are not markup
    console.print(table)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """The shown table with raw numbers; a Stat column becomes <col>_mean and <col>_std."""
    stat_cols = {c for c in columns if any(isinstance(r.get(c), Stat) for r in rows)}
    header = [h for c in columns for h in ((f"{c}_mean", f"{c}_std") if c in stat_cols else (c,))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            cells: list[Any] = []
            for c in columns:
                v = row.get(c)
                cells += ([v.mean, v.std] if v else [None, None]) if c in stat_cols else [v]
            writer.writerow(["" if x is None else x for x in cells])


def plot(tag: str, curves: dict[str, list[Run]], out: Path) -> Path:
    """One PNG: per curve group, the mean over its runs at their common steps, shaded ± sample std."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, leaves no global state

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    drawn = 0
    for label, members in curves.items():
        series = [r.curves[tag] for r in members if r.curves.get(tag)]
        steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
        if not steps:
            continue
        values = np.array([[s[step] for step in steps] for s in series])
        mean = values.mean(axis=0)
        (line,) = ax.plot(steps, mean, label=f"{label} (n={len(series)})")
        if len(series) > 1:
            std = values.std(axis=0, ddof=1)
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        drawn += 1
    if not drawn:
        raise CompareError(f"--plot {tag}: no run has that scalar")
    ax.set(xlabel="step", ylabel=tag, title=tag)
    ax.legend(fontsize="small")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{tag.replace('/', '_')}.png"
    fig.savefig(path, dpi=120)
    return path


def _count(n: int, noun: str) -> str:
    """'1 run', '2 runs'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="ganlab-compare", description=__doc__)
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run directories or sweep directories")
    p.add_argument("--runs", action="store_true", help="one row per run even when seeds could be grouped")
    p.add_argument("--sort", metavar="COLUMN", help="sort by this column (e.g. val/fid_best)")
    p.add_argument("--reverse", action="store_true", help="sort in descending order")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="keep runs with this override")
    p.add_argument("--csv", type=Path, metavar="PATH", help="also write the shown table as CSV")
    p.add_argument("--plot", action="append", default=[], metavar="TAG", help="plot this scalar (repeatable)")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder for --plot PNGs")
    return p.parse_args(argv)


def compare(args: argparse.Namespace) -> None:
    """Find, read, filter, tabulate and plot the runs as the options say."""
    paths = find_runs(args.dirs)
    if not paths:
        raise CompareError(f"no runs (tensorboard/events.out.tfevents.*) under {', '.join(map(str, args.dirs))}")
    runs = [read_run(p) for p in paths]
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep:
            raise CompareError(f"--filter {item}: expected KEY=VALUE")
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
    columns, rows = build_table(runs, grouped)
    if args.sort:
        sort_rows(columns, rows, args.sort, args.reverse)
    what = f"{_count(len(groups), 'group')} of {len(runs)} runs" if grouped else _count(len(runs), "run")
    print_table(columns, rows, f"{what} under {parent}")
    if args.csv:
        write_csv(args.csv, columns, rows)
        print(f"wrote {args.csv}")
    if grouped:
        curves = {", ".join(f"{k}={v}" for k, v in key) or "all runs": g for key, g in groups.items()}
    else:
        curves = {r.label: [r] for r in runs}
    for tag in args.plot:
        print(f"wrote {plot(tag, curves, args.out)}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``ganlab-compare``); returns the exit code."""
    args = parse_args(argv)
    try:
        compare(args)
    except CompareError as e:
        print(f"ganlab-compare: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
