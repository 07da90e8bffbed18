"""Results records: one JSON file per run, evaluation or benchmark invocation (issue 27's format).

A record is ``<root>/<study>/<run>.json`` holding at least ``study``, ``run``, ``command`` (the exact command
line), ``commit`` (``git rev-parse HEAD`` of the code measured), ``machine`` (e.g. ``cpu-2core, torch 2.14.1``),
``date`` (ISO 8601), ``metrics`` ({name: number or null}) and ``card`` (the evaluation card, or null).
Optional keys: ``params`` (settings that tell runs apart: seed, overrides), ``recovered`` (true when the numbers
were recovered from the project's history instead of written by the tool that measured them), ``per_run``
(false for a record that holds only a table's aggregate or its cells: "no per-run records"), ``source`` and
``commit_basis`` (where the numbers and the commit came from when no tool recorded them).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REQUIRED = ("study", "run", "command", "commit", "machine", "date", "metrics", "card")
DEFAULT_ROOT = Path("experiments/results")
_REPO = Path(__file__).resolve().parents[2]  # the checkout holding ganlab/ (the code being measured)


class RecordError(ValueError):
    """A results file that is not a valid record; the message is one line naming the file and the key."""


def git_commit(repo: Path = _REPO) -> str:
    """``git rev-parse HEAD`` of the checkout that holds ganlab (``unknown`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def git_dirty(repo: Path = _REPO) -> bool:
    """Whether tracked code (ganlab/, conf/, scripts/) differs from the commit: the record then says so."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "ganlab", "conf",
                              "scripts", "pyproject.toml"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def machine_label() -> str:
    """``cpu-<N>core`` or the GPU's name with its count, plus the torch version: the machine a number is from."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
    torch = sys.modules.get("torch")  # only read when the caller already imported it (no heavy import here)
    label = f"cpu-{cores}core"
    if torch is not None and torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        label = f"{names[0]} x{len(names)}, {cores} cores"
    version = getattr(torch, "__version__", None) if torch is not None else None
    return f"{label}, {platform.machine()}, torch {version}" if version else f"{label}, {platform.machine()}"


def command_line(argv: list[str] | None = None) -> str:
    """The exact command line of this process: ``python scripts/x.py ...`` or ``ganlab-eval ...``."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    head = Path(argv[0])
    if head.name == "__main__.py":  # python -m package: name the package, not its file
        try:
            first = ["python", "-m", ".".join(head.resolve().parent.relative_to(_REPO).parts)]
        except ValueError:
            first = ["python", "-m", head.parent.name]
    elif head.suffix == ".py":
        first = ["python", os.path.relpath(head) if head.is_absolute() else head.as_posix()]
    else:  # a console script (ganlab-eval): its name, not the venv's path
        first = [head.name]
    return shlex.join([*first, *argv[1:]])


def _clean_metrics(metrics: Mapping[str, Any], where: str) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for name, value in metrics.items():
        if value is None:
            out[str(name)] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f"{where}: metrics.{name} is {value!r}; a metric must be a number or null")
        else:  # a diverged run's inf/NaN is stored as null: JSON has no non-finite numbers
            out[str(name)] = value if math.isfinite(value) else None
    return out


def _check_name(kind: str, name: str) -> None:
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or (kind == "run" and len(parts) != 1):
        raise RecordError(f"{kind}={name!r}: a {kind} name is a relative folder name without '..'"
                          + (" and without '/'" if kind == "run" else ""))


def write_record(study: str, run: str, metrics: Mapping[str, Any], *, command: str | None = None,
                 card: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                 root: str | Path = DEFAULT_ROOT, overwrite: bool = False, **extra: Any) -> Path:
    """Write ``<root>/<study>/<run>.json``; commit, machine and date are filled here, not by the caller.

    Args:
        study: the study folder (e.g. ``zoo_v2-cpu``); run: the file name without ``.json`` (e.g. ``dragan-s0``).
        metrics: {name: number or None}; card: the evaluation card (protocol) or None.
        command: the exact command line (default: this process's); params: what tells runs apart (seed, ...).
        overwrite: an existing record is refused unless True (nothing already written is lost).
        extra: further JSON keys (e.g. ``published``); they cannot replace the required ones.
    Returns:
        the path written.
    """
    _check_name("study", study)
    _check_name("run", run)
    clash = sorted(set(extra) & set(REQUIRED))
    if clash:
        raise RecordError(f"write_record: {clash} are filled by write_record itself")
    path = Path(root) / study / f"{run}.json"
    if path.exists() and not overwrite:
        raise RecordError(f"{path}: a record already exists; pass overwrite=True or choose another run name")
    record: dict[str, Any] = {
        "study": study, "run": run, "command": command if command is not None else command_line(),
        "commit": git_commit(), "machine": machine_label(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "metrics": _clean_metrics(metrics, str(path)), "card": dict(card) if card is not None else None,
    }
    if git_dirty():
        record["dirty"] = True  # the code measured had uncommitted changes on top of `commit`
    if params:
        record["params"] = dict(params)
    record.update(extra)
    return save_record(record, path)


def save_record(record: Mapping[str, Any], path: str | Path) -> Path:
    """Validate ``record`` and write it to ``path`` atomically (a reader never sees half a record)."""
    path = Path(path)
    record = validate(dict(record), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def is_record(obj: Any) -> bool:
    """A JSON object is a record when it has ``study`` and ``metrics`` (tools' other reports are not)."""
    return isinstance(obj, dict) and "study" in obj and "metrics" in obj


def validate(record: Any, where: str) -> dict[str, Any]:
    """The record itself, or a one-line :class:`RecordError` naming the file and the key that is wrong."""
    if not isinstance(record, dict):
        raise RecordError(f"{where}: a record is a JSON object, not {type(record).__name__}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise RecordError(f"{where}: missing key(s) {', '.join(missing)}; a record needs {', '.join(REQUIRED)}")
    for key in ("study", "run", "command", "commit", "machine", "date"):
        if not isinstance(record[key], str) or (key != "command" and not record[key]):
            raise RecordError(f"{where}: '{key}' must be a non-empty string, not {record[key]!r}")
    if not isinstance(record["metrics"], dict):
        raise RecordError(f"{where}: 'metrics' must be an object {{name: number}}")
    _clean_metrics(record["metrics"], where)
    if record["card"] is not None and not isinstance(record["card"], dict):
        raise RecordError(f"{where}: 'card' must be an object or null")
    return record


def read_records(path: str | Path, *, base: str | Path | None = None) -> list[dict[str, Any]]:
    """The records of a study folder (every ``*.json`` record under it, sorted by path) or of one record file.

    JSON files under a folder that are not records (a tool's own report, e.g. ``reproduce.json``) are skipped;
    a file that looks like a record but is invalid raises :class:`RecordError`. Each record gets ``_file``,
    its path relative to ``base`` (default: the current directory).
    """
    path = Path(path)
    base = Path(base) if base is not None else Path.cwd()
    if not path.exists():
        raise RecordError(f"{path}: no such results file or folder")
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    out = []
    for f in files:
        try:
            obj = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise RecordError(f"{f}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if path.is_dir() and not is_record(obj):
            continue
        record = dict(validate(obj, str(f)))
        try:
            record["_file"] = f.relative_to(base).as_posix()
        except ValueError:
            record["_file"] = f.as_posix()
        out.append(record)
    if not out:
        raise RecordError(f"{path}: holds no results record (a JSON object with study, run, metrics, ...)")
    return out
