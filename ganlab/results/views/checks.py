"""Views of the config fuzz (docs/config-fuzz.md): counts per config, every case, and the end-to-end runs.

Records: ``experiments/results/config_fuzz/<config>.json`` (one per fuzzed config, its cases under ``cases``) and
``experiments/results/config_fuzz/end_to_end.json`` (the cases run as ganlab-train subprocesses), written by
``scripts/checks/config_fuzz.py``.
"""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view


def _fuzzed(records: list[Record]) -> list[Record]:
    return [r for r in records if (r.get("params") or {}).get("config")]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@view("config_fuzz", header=["config", "preset", "leaves", "cases", "refused in validation", "refused when built",
                             "documented valid", "failures"])
def config_fuzz(records: list[Record]) -> Table:
    """One row per fuzzed config, and the total."""
    rows, total = [], [0] * 6
    for r in _fuzzed(records):
        m = r["metrics"]
        counts = [m["leaves"], m["cases"], m["refused_at_config"], m["refused_at_build"], m["valid"], m["failures"]]
        total = [a + int(b) for a, b in zip(total, counts, strict=True)]
        preset = f"`{' '.join(r['params']['overrides'])}`" if r["params"]["overrides"] else "(the default)"
        rows.append([r["params"]["config"], preset, *(f"{int(c):,}" for c in counts)])
    rows.append(["**all**", "", *(f"**{c:,}**" for c in total)])
    return Table(rows=rows, records=_fuzzed(records))


@view("config_fuzz_cases", header=["config", "override", "bad value", "outcome", "message (one line)"])
def config_fuzz_cases(records: list[Record]) -> Table:
    """Every case: the override, the kind of bad value, refused or documented valid, and the line it ended in."""
    rows = [[r["params"]["config"], f"`{_cell(c['override'])}`", c["kind"],
             c["outcome"] + (" (built)" if c["stage"] == "build" else ""), _cell(c["message"])]
            for r in _fuzzed(records) for c in r["cases"]]
    return Table(rows=rows, records=_fuzzed(records))


@view("config_fuzz_end_to_end", header=["config", "override", "exit", "stderr (all of it)", "traceback",
                                        "'Training for' printed"])
def config_fuzz_end_to_end(records: list[Record]) -> Table:
    """The cases run as ganlab-train subprocesses: exit status, the whole of stderr, no traceback, refused first."""
    ends = [r for r in records if r["run"] == "end_to_end"]
    rows = [[c["config"], f"`{_cell(c['override'])}`", c["returncode"], _cell(c["stderr"]),
             "yes" if c["traceback"] else "no", "yes" if c["training_started"] else "no"]
            for r in ends for c in r["cases"]]
    return Table(rows=rows, records=ends)
