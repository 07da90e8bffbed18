"""Results records: one JSON file per run or evaluation, written by ganlab's tools, and tables rendered from them.

A record lives at ``experiments/results/<study>/<run>.json`` and holds at least::

    {"study", "run", "command" (the exact command line), "commit" (git HEAD of the code measured),
     "machine", "date" (ISO 8601), "metrics": {name: number}, "card": {...} | null}

Tables in the docs are rendered from a study's records (``mean_std_table``), never typed.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ("study", "run", "command", "commit", "machine", "date", "metrics", "card")


def git_commit(repo: Path = REPO) -> str:
    """HEAD of the repository holding ganlab (``-dirty`` when tracked files differ from it); "unknown" outside git."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def machine() -> str:
    """E.g. ``cpu-2core x86_64, torch 2.14.1`` (the device class the numbers were measured on)."""
    import torch

    device = f"cuda {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"cpu-{os.cpu_count()}core"
    return f"{device} {platform.machine()}, torch {torch.__version__}"


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``sys.argv`` with the program's base name), shell-quoted."""
    argv = list(sys.argv if argv is None else argv)
    return shlex.join([Path(argv[0]).name, *argv[1:]]) if argv else ""


def write_record(folder: str | Path, study: str, run: str, metrics: dict[str, Any], command: str,
                 card: dict[str, Any] | None = None, **extra: Any) -> Path:
    """Write ``<folder>/<run>.json`` (atomically), ``extra`` keys beside the required ones; returns its path."""
    bad = [k for k, v in metrics.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
    if bad:
        raise ValueError(f"results record {run}: metrics must be numbers; {bad[0]} is {type(metrics[bad[0]]).__name__}")
    # JSON has no inf / nan: such values are named in "non_finite" instead (e.g. a class KL with an empty class)
    non_finite = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    record = {"study": study, "run": run, "command": command, "commit": git_commit(), "machine": machine(),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "metrics": {k: v for k, v in metrics.items() if k not in non_finite}, "card": card,
              **({"non_finite": non_finite} if non_finite else {}), **extra}
    path = Path(folder) / f"{run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def read_records(folder: str | Path) -> list[dict[str, Any]]:
    """Every record in ``folder`` (sorted by file name), each checked for the required keys."""
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text())
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            raise ValueError(f"{path} is not a results record: it lacks {', '.join(missing)}")
        records.append(record)
    return records


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """(mean, sample standard deviation) of the values; std 0 for a single value."""
    values = list(values)
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def mean_std_table(records: Sequence[dict[str, Any]], group: str, metrics: dict[str, tuple[str, int]],
                   order: Sequence[str] | None = None, labels: dict[str, str] | None = None) -> str:
    """A markdown table, one row per value of ``record[group]``: mean ± std over its records of each metric.

    Args:
        records: results records (``read_records``).
        group: the record key whose value names a row (e.g. "arm").
        metrics: metric name in ``record["metrics"]`` -> (column header, decimals).
        order: the rows' order (default: first appearance); labels: row value -> text shown.
    """
    rows: dict[str, list[dict]] = {}
    for r in records:
        rows.setdefault(str(r[group]), []).append(r)
    keys = list(order) if order is not None else list(rows)
    lines = ["| | runs | " + " | ".join(h for h, _ in metrics.values()) + " |",
             "| --- | --- |" + " --- |" * len(metrics)]
    for key in keys:
        runs = rows.get(key, [])
        cells = [_cell([float(r["metrics"][m]) for r in runs if m in r["metrics"]
                        and not math.isnan(float(r["metrics"][m]))], d) for m, (_, d) in metrics.items()]
        lines.append(f"| {(labels or {}).get(key, key)} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
