"""Move the results behind the docs' tables into records (ganlab.results), from files and from git history.

Run once from the repository root (``python scripts/studies/recover_results [--only NAME ...]``); its
output is committed. Two kinds of record come out:

- converted: the numbers of a results file an earlier tool wrote (``reproduce.json``, ``eval.csv``, the
  benchmark JSON files, ...), one record per run, with ``source`` naming the file. The tools did not record the
  commit, so ``commit`` is the commit that added the file and ``commit_basis`` says so.
- recovered (``"recovered": true``): numbers found only in the project's history (a table in a document as
  first committed, a commit message), copied by this script from ``git show COMMIT:PATH``, never retyped.
  ``commit`` is the code the runs used where the text names it, else the last commit that changed code
  before the numbers were committed (``commit_basis`` says which). Where the history holds only a table's
  means, the record has ``"per_run": false``: "no per-run records".
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganlab.results.records import save_record

BASE = "5ead2c1"  # main when the records were made: every document table is read at this commit
CPU = "cpu-2core, x86_64"
CPU_TORCH = "cpu-2core, x86_64, torch 2.14.1+cu130"
H100 = "NVIDIA H100 80GB HBM3 x1"
CODE_PATHS = ["ganlab", "conf", "scripts", "pyproject.toml"]
RECOVERIES: dict[str, Callable[[], int]] = {}


def git(*args: str) -> str:
    """Output of a git command in this checkout."""
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def full(commit: str) -> str:
    return git("rev-parse", commit).strip()


def date_of(commit: str) -> str:
    return git("log", "-1", "--format=%cI", commit).strip()


def added_by(path: str) -> str:
    """The commit that last wrote ``path`` (the code state in which its numbers were measured)."""
    return git("log", "-1", "--format=%H", BASE, "--", path).strip()


def first_with(text: str, path: str) -> str:
    """The first commit whose version of ``path`` contains ``text`` (where a number entered the docs)."""
    out = git("log", "--reverse", "--format=%H", f"-S{text}", BASE, "--", path).split()
    if not out:
        raise SystemExit(f"recover_results: {text!r} never appears in the history of {path}")
    return out[0]


def code_before(commit: str) -> str:
    """The last commit before ``commit`` that changed code: the code whose runs ``commit`` documents."""
    return git("log", "-1", "--format=%H", f"{commit}^", "--", *CODE_PATHS).strip()


def show(commit: str, path: str) -> str:
    return git("show", f"{commit}:{path}")


def table_after(text: str, header_start: str, nth: int = 0) -> tuple[list[str], list[list[str]]]:
    """The markdown table whose header line starts with ``header_start`` (the ``nth`` such), as cells."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(header_start)]
    if len(starts) <= nth:
        raise SystemExit(f"recover_results: no table starting {header_start!r}")
    i = starts[nth]
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append(split_row(line))
    return split_row(lines[i]), rows


def split_row(line: str) -> list[str]:
    """Cells of a markdown table row (``|`` inside code spans is not a separator)."""
    cells, cur, code = [], "", False
    for ch in line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]:
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def number(cell: str) -> float | None:
    """The first number of a cell (``**16.1 ± 1.6** (...)`` -> 16.1; ``1,500`` -> 1500); None if none."""
    m = re.search(r"-?\d[\d,]*\.?\d*", cell.replace("**", ""))
    return float(m.group().replace(",", "")) if m else None


def numbers(cell: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"-?\d[\d,]*\.?\d*", cell.replace("**", ""))]


def put(root: str, study: str, run: str, metrics: dict[str, Any], *, commit: str, machine: str, date: str,
        command: str, source: str, commit_basis: str, recovered: bool, per_run: bool = True,
        params: dict[str, Any] | None = None, card: dict[str, Any] | None = None, **extra: Any) -> None:
    """Write one record with a historical commit, machine and date (write_record would stamp today's)."""
    record: dict[str, Any] = {"study": study, "run": run, "command": command, "commit": full(commit),
                              "machine": machine, "date": date, "metrics": metrics, "card": card}
    if params:
        record["params"] = {k: v for k, v in params.items() if v is not None}
    record.update({"recovered": recovered, "per_run": per_run, "source": source, "commit_basis": commit_basis})
    record.update({k: v for k, v in extra.items() if v is not None})
    save_record(record, Path(root) / study / f"{run}.json")


def recovery(fn: Callable[[], int]) -> Callable[[], int]:
    RECOVERIES[fn.__name__] = fn
    return fn
