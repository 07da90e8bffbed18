"""The comparison table: rows per run or per seed group, the columns shown, fitting into a width, text and CSV.

Default columns: the run, the overrides that differ between runs, status, last trained step, health
verdict and the headline metrics (HEADLINE) that any run has; when that is wider than the limit the
least important columns go first (other metrics, then the overrides merge into one column, then
verdict and best FID). ``wide=True`` shows every column, as the CSV always does.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from ganlab.runs.read import Run

# (value key, short header): the results a reader looks at first, in this order, where any run has them
HEADLINE = (
    ("val/fid_final", "fid"), ("val/fid_best", "fid best"),
    ("val/modes_final", "modes"), ("val/reverse_kl_final", "rev kl"), ("val/high_quality_final", "hq %"),
    ("val/classes_covered_final", "classes"), ("val/class_kl_final", "class kl"), ("val/speckle_final", "speckle"),
    ("val/kid_final", "kid"), ("eval/fid", "eval fid"),
)
# the headline columns that stay longest (priority 1): the first result of image and of 2-D toy runs
FIRST = {"val/fid_final", "val/modes_final"}
ORDER = ["fid", "kid", "fid_inf", "is", "precision", "recall", "density", "coverage", "modes", "reverse_kl",
         "high_quality", "classes_covered", "class_kl", "speckle"]
RUN_CAP, OVERRIDE_CAP, STATUS_CAP, VERDICT_CAP = 28, 14, 22, 24
STATUS_STYLE = {"finished": "green", "running": "cyan", "stopped-by-alert": "yellow", "crashed": "red"}


class Stat(NamedTuple):
    """Mean, sample std (None for one value) and count of one column over a group's runs."""

    mean: float
    std: float | None
    n: int


@dataclass
class Column:
    """A table column: ``key`` in the rows and the CSV, ``header`` as shown, ``priority`` 0 (always
    shown) to 4 (first to go when the table is too wide), ``cap`` the longest text cell (cut with …)."""

    key: str
    header: str
    numeric: bool = False
    priority: int = 0
    cap: int | None = None


def stat(values: list[float]) -> Stat | None:
    """Mean, sample std (ddof=1) and count; None when there are no values."""
    if not values:
        return None
    return Stat(statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))


def fmt(value: Any, n: int | None = None) -> str:
    """A cell as text: 4 significant digits, no exponent for large values like step counts; a group's
    ``mean ± std``, with ``(count)`` when fewer than its ``n`` runs have the value."""
    if value is None:
        return ""
    if isinstance(value, Stat):
        text = fmt(value.mean) if not value.std else f"{fmt(value.mean)} ± {spread(value.std)}"
        return text if n is None or value.n == n else f"{text} ({value.n})"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def spread(std: float) -> str:
    """A standard deviation to 2 significant digits (no exponent above 100): it qualifies the mean."""
    return f"{std:.0f}" if abs(std) >= 100 else f"{std:.2g}"


def _metric_order(name: str) -> tuple[int, str]:
    """Sort key: the known metrics in ORDER, then the rest alphabetically."""
    base = name.rsplit("/", 1)[-1]
    return (ORDER.index(base), name) if base in ORDER else (len(ORDER), name)


def varying_keys(runs: list[Run]) -> list[str]:
    """Override keys whose value (or absence) is not the same in all runs: group choices (``loss``,
    ``experiment``) first, then dotted keys, each alphabetically."""
    keys = sorted({k for r in runs for k in r.overrides}, key=lambda k: ("." in k, k))
    return [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each dotted key -> its shortest suffix that no other key ends with (``optim.g.lr`` -> ``g.lr``)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for i in range(len(parts) - 1, -1, -1):
            suffix = ".".join(parts[i:])
            if not any(other != key and (other == suffix or other.endswith("." + suffix)) for other in keys):
                out[key] = suffix
                break
        else:
            out[key] = key
    return out


def numeric_columns(runs: list[Run]) -> list[str]:
    """Value columns in a stable order: val/* scores (best then final), timings, then eval/*."""
    seen = {c for r in runs for c in r.values}
    first = [c for c in seen if c.startswith("val/")]
    last = [c for c in seen if c.startswith("eval/")]
    middle = [c for c in ("wall_s", "images/s") if c in seen]
    by_order = sorted(first, key=lambda c: (_metric_order(c.rsplit("_", 1)[0]), not c.endswith("_best")))
    return by_order + middle + sorted(last, key=_metric_order)


def group_runs(runs: list[Run], keys: list[str]) -> dict[tuple[tuple[str, str], ...], list[Run]]:
    """Runs keyed by their (key, value) varying overrides other than seed, so seeds of one setting fall together."""
    groups: dict[tuple[tuple[str, str], ...], list[Run]] = {}
    for r in runs:
        groups.setdefault(tuple((k, r.overrides.get(k, "")) for k in keys if k != "seed"), []).append(r)
    return groups


def summarize(values: list[str]) -> str:
    """One text for a group: the common value, or counts (``2 finished, 1 crashed``)."""
    counts = Counter(values)
    if len(counts) == 1:
        return values[0]
    return ", ".join(f"{n} {v}" for v, n in counts.most_common())


def _overrides_text(items: list[tuple[str, str]], short: dict[str, str]) -> str:
    """``lr=1e-4, loss=hinge``: the given (key, value) pairs with short keys, defaults (empty) left out."""
    return ", ".join(f"{short[k]}={v}" for k, v in items if v != "")


def build_table(runs: list[Run], grouped: bool, wide: bool = False) -> tuple[list[Column], list[dict[str, Any]]]:
    """(columns, rows) of the per-run table, or of the per-group table with Stat cells.

    Rows hold every column's value (``overrides`` too: the merged form of the override columns), so
    the rows can be sorted or written to CSV by any column whichever ones are shown.
    """
    keys, numeric = varying_keys(runs), numeric_columns(runs)
    short = short_keys(keys)
    present = {c for r in runs for c in r.values}
    if grouped:
        keys = [k for k in keys if k != "seed"]
    cols = [] if grouped else [Column("run", "run", priority=0, cap=None if wide else RUN_CAP)]
    cols += [Column(k, k if wide else short[k], priority=3, cap=None if wide else OVERRIDE_CAP) for k in keys]
    cols += [Column("n", "n", numeric=True)] if grouped else []
    cols += [Column("status", "status", cap=None if wide else STATUS_CAP)]
    cols += [Column("reason", "reason")] if wide and not grouped else []
    cols += [Column("steps", "steps", numeric=True, priority=1)]
    if wide or any(r.verdict != "-" for r in runs):
        cols.append(Column("verdict", "verdict", priority=2, cap=None if wide else VERDICT_CAP))
    if wide:
        cols += [Column(c, c, numeric=True, priority=4) for c in numeric]
    else:
        cols += [Column(k, h, numeric=True, priority=1 if k in FIRST else 2 if k == "val/fid_best" else 4)
                 for k, h in HEADLINE if k in present]

    if not grouped:
        rows = []
        for r in runs:
            rows.append({"run": r.label, **{k: r.overrides.get(k, "") for k in keys},
                         "overrides": _overrides_text([(k, r.overrides.get(k, "")) for k in keys], short),
                         "status": r.status.name, "reason": r.status.reason, "verdict": r.verdict,
                         **r.values})
        return cols, rows
    rows = []
    for key, members in group_runs(runs, varying_keys(runs)).items():
        row: dict[str, Any] = {**dict(key), "n": len(members), "overrides": _overrides_text(list(key), short),
                               "status": summarize([r.status.name for r in members]),
                               "verdict": summarize([r.verdict for r in members])}
        for col in ["steps", *numeric]:
            row[col] = stat([r.values[col] for r in members if col in r.values])
        rows.append(row)
    return cols, rows


def sort_rows(columns: list[Column], rows: list[dict[str, Any]], column: str, reverse: bool) -> None:
    """Sort in place by a column's key or header (``val/fid_final``, ``fid``, ``val/fid_final_mean``);
    rows without a value go last either way."""
    by_name = {c.key: c.key for c in columns} | {c.header: c.key for c in columns}
    key = by_name.get(column) or by_name.get(column.removesuffix("_mean"))
    if key is None:
        raise ValueError(f"--sort {column}: no such column; columns: {', '.join(c.key for c in columns)}")

    def value(row: dict[str, Any]) -> Any:
        v = row.get(key)
        return v.mean if isinstance(v, Stat) else v

    present = sorted((r for r in rows if value(r) not in (None, "")), key=value, reverse=reverse)
    rows[:] = present + [r for r in rows if value(r) in (None, "")]


def cell(row: dict[str, Any], col: Column) -> str:
    """The text of one cell, cut to the column's cap: run names in the middle (sweep runs differ at
    both ends: ``3_...,seed=1``), other text at the end."""
    text = fmt(row.get(col.key), row.get("n") if isinstance(row.get("n"), int) else None)
    if col.cap is None or len(text) <= col.cap:
        return text
    if col.key == "run":
        head = (col.cap - 1) * 2 // 5
        return f"{text[:head]}…{text[len(text) - (col.cap - 1 - head):]}"
    return text[: col.cap - 1] + "…"


def split_header(header: str, width: int) -> str:
    """A header wider than its column's cells, broken once (at '.', ' ', else '_') to keep the column narrow."""
    if len(header) <= width:
        return header
    for seps in (". ", "_"):
        cuts = [i for i, ch in enumerate(header) if ch in seps and 0 < i < len(header) - 1]
        if cuts:
            i = min(cuts, key=lambda i: max(i + 1, len(header) - i - 1))
            return f"{header[: i + 1].rstrip()}\n{header[i + 1:]}"
    return header


def column_width(col: Column, rows: list[dict[str, Any]]) -> int:
    """Characters the column takes without its padding and borders."""
    content = max((len(cell(r, col)) for r in rows), default=0)
    return max(content, *(len(line) for line in split_header(col.header, content).split("\n")))


def table_width(cols: list[Column], rows: list[dict[str, Any]]) -> int:
    """Width of the table as rich draws it: cells, one space of padding each side, a border between and around."""
    return sum(column_width(c, rows) for c in cols) + 3 * len(cols) + 1


def fit(cols: list[Column], rows: list[dict[str, Any]], width: int) -> tuple[list[Column], list[Column]]:
    """(shown, hidden) columns with the table at most ``width`` characters wide where that is possible.

    Text is cut to the columns' caps only when the whole text does not fit. Then columns go by
    priority, the rightmost of the least important first; before the overrides go, two
    or more of them merge into one ``overrides`` column (``lr=1e-4, loss=hinge``) cut to the space left.
    """
    whole = [replace(c, cap=None) for c in cols]  # text is cut only when the table does not fit uncut
    if table_width(whole, rows) <= width:
        return whole, []
    shown, hidden = list(cols), []
    while table_width(shown, rows) > width:
        candidates = [(c.priority, i) for i, c in enumerate(shown) if c.priority > 0]
        if not candidates:
            break
        priority, i = max(candidates)
        separate = [c for c in shown if c.priority == 3 and c.key not in ("verdict", "overrides")]
        if priority <= 3 and len(separate) >= 2:
            at = shown.index(separate[0])
            rest = [c for c in shown if c not in separate]
            room = width - table_width(rest, rows) - 3
            merged = Column("overrides", "overrides", priority=3, cap=max(room, 16))
            shown = rest[:at] + [merged] + rest[at:]
            continue
        hidden.append(shown.pop(i))
    return shown, hidden


def render(cols: list[Column], rows: list[dict[str, Any]], title: str, color: bool = True) -> Any:
    """A rich Table of the given columns (status cells coloured when ``color``)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for col in cols:
        content = max((len(cell(r, col)) for r in rows), default=0)
        table.add_column(Text(split_header(col.header, content)), justify="right" if col.numeric else "left",
                         no_wrap=True)
    for row in rows:
        cells = []
        for col in cols:  # Text: values like [32,64] are not markup
            style = STATUS_STYLE.get(str(row.get(col.key)), "") if col.key == "status" and color else ""
            cells.append(Text(cell(row, col), style=style))
        table.add_row(*cells)
    return table


def protocol_lines(runs: list[Run], attr: str, what: str) -> list[str]:
    """The protocol settings of the runs as one paragraph (none without settings); a setting that
    differs between runs lists its values with the runs (or their count)."""
    settings: dict[str, dict[str, list[str]]] = {}
    for r in runs:
        for key, value in getattr(r, attr).items():
            settings.setdefault(key, {}).setdefault(value, []).append(r.label)
    if not settings:
        return []
    parts, differ = [], []
    for key, values in settings.items():
        if len(values) == 1:
            parts.append(f"{key} {next(iter(values))}")
            continue
        differ.append(key)
        which = {v: ", ".join(labels) if len(labels) <= 2 else f"{len(labels)} runs" for v, labels in values.items()}
        parts.append(f"{key} " + " / ".join(f"{v} ({runs_})" for v, runs_ in which.items()))
    text = f"protocol of {what}: " + "; ".join(parts)
    if differ:
        text += f". Protocols differ in {', '.join(differ)}: compare numbers only between runs of one protocol"
    return [text]


def write_csv(path: Path, columns: list[Column], rows: list[dict[str, Any]]) -> None:
    """The table with raw numbers; a Stat column becomes <key>_mean and <key>_std."""
    keys = [c.key for c in columns]
    stat_cols = {k for k in keys if any(isinstance(r.get(k), Stat) for r in rows)}
    header = [h for k in keys for h in ((f"{k}_mean", f"{k}_std") if k in stat_cols else (k,))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            cells: list[Any] = []
            for k in keys:
                v = row.get(k)
                cells += ([v.mean, v.std] if v else [None, None]) if k in stat_cols else [v]
            writer.writerow(["" if x is None else x for x in cells])
