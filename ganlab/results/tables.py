"""Markdown tables and number formatting shared by the views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``| a | b |`` / ``|---|---|`` / rows; a cell ``None`` is empty, ``|`` inside a cell is escaped."""
    def cell(v: Any) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header {len(header)}: {list(row)!r}")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def num(x: float | None, digits: int = 1, *, sep: bool = True) -> str:
    """A number with a fixed count of decimals and thousands separators (``1,171.5``); None as ``–``."""
    if x is None:
        return "–"
    return f"{x:,.{digits}f}" if sep else f"{x:.{digits}f}"


def sig(x: float | None, figures: int = 3) -> str:
    """A number to ``figures`` significant figures without exponent (``0.0988``, ``24.4``, ``8``)."""
    if x is None:
        return "–"
    return f"{float(f'{x:.{figures}g}'):g}" if abs(x) < 1e6 else f"{x:.{figures}g}"


def pm(mean: float, spread: float, digits: int = 1) -> str:
    """``mean ± spread`` with the same decimals."""
    return f"{num(mean, digits)} ± {num(spread, digits)}"


def pct(share: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: ``7.8 %``."""
    return "–" if share is None else f"{share * 100:.{digits}f} %"


def seq(values: Sequence[float | None], digits: int = 1, joiner: str = ", ") -> str:
    """Per-seed values: ``14.7, 17.9, 15.8``."""
    return joiner.join(num(v, digits) for v in values)


def select(records: Sequence[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    """The records whose ``params`` match every given value (``seed=1``, ``preset="dcgan_mnist5k"``)."""
    return [r for r in records if all(r.get("params", {}).get(k) == v for k, v in params.items())]


def values(records: Sequence[dict[str, Any]], name: str) -> list[float]:
    """One metric over records (ordered by ``params.seed`` where there is one); records without it are skipped."""
    ordered = sorted(records, key=lambda r: (r.get("params", {}).get("seed", 0), r["run"]))
    return [r["metrics"][name] for r in ordered if r["metrics"].get(name) is not None]


def only(records: Sequence[dict[str, Any]], what: str) -> dict[str, Any]:
    """The one record of a selection; a ValueError names ``what`` when there are none or several."""
    if len(records) != 1:
        raise ValueError(f"expected one record for {what}, found {len(records)}")
    return records[0]


def per_run(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-run records (not the tables' means kept as "no per-run records")."""
    return [r for r in records if r.get("per_run", True)]
