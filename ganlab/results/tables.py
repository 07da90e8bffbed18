"""Markdown tables and number formatting shared by the views."""

from __future__ import annotations

import re
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


_ARCHS = {"vitb14": "ViT-B/14", "vitl14": "ViT-L/14", "vitl14_336": "ViT-L/14@336px", "vitb32": "ViT-B/32"}
_DIGIT_NAMES = {"digit_classifier": "v1", "digit_classifier_v2": "v2"}  # ganlab.metrics.extractors.digits.VERSIONS
NOT_RECORDED = "feature version not recorded"


def _feature_label(card: Any) -> str | None:
    """The feature space a record's card names (``digit features v2``, ``Inception``, ``DINOv2 ViT-B/14``), or
    None when the card does not say. Cards written by ganlab-eval hold ``feature`` as an object (name, class,
    version); records recovered from history hold a string (``digit_classifier_v2 (v2)``)."""
    if not isinstance(card, dict) or not card.get("feature"):
        return None
    feature = card["feature"]
    if isinstance(feature, dict):
        name, version, cls = str(feature.get("name") or ""), feature.get("version"), str(feature.get("class") or "")
    else:
        name, cls = str(feature), ""
        found = re.search(r"\((v\d+)\)", name)
        version = found.group(1) if found else None
    tokens = re.findall(r"[\w-]+", name)
    arch = re.search(r"(dinov2|clip)_(vit[a-z]\d+(?:_336)?)", name)
    if arch:
        return f"{'DINOv2' if arch.group(1) == 'dinov2' else 'CLIP'} {_ARCHS.get(arch.group(2), arch.group(2))}"
    if "inception" in name.lower() or "Inception" in cls:
        return "Inception"
    digit = next((t for t in tokens if t in _DIGIT_NAMES), None)
    if digit or cls.endswith("DigitFeatures"):
        version = version or (_DIGIT_NAMES[digit] if digit else None)
        kind = "per-channel digit features" if "stacked" in (name + cls).lower() else "digit features"
        return f"{kind} {version}" if version else f"{kind}, {NOT_RECORDED}"
    return name or None


def feature_space(records: Sequence[dict[str, Any]]) -> str:
    """The feature space of the records' FID / precision / recall, from their cards, for a table's header:
    ``digit features v2``; ``feature version not recorded`` when no card says. A ValueError when the records
    name different spaces (a view then names each group's own)."""
    labels = {_feature_label(r.get("card")) for r in records}
    named = sorted(label for label in labels if label is not None)
    if len(named) > 1 or (named and None in labels):
        spaces = named + ([NOT_RECORDED] if None in labels else [])
        raise ValueError(f"the records name several feature spaces: {spaces}")
    return named[0] if named else NOT_RECORDED


QUALITY = {"precision": "precision", "recall": "recall", "class_kl": "class KL", "speckle": "speckle"}
_PREFIX = re.compile(r"^(?:.*/)?")  # eval/fid, val/fid_final, psi=0.5/fid
_SUFFIX = re.compile(r"(?:_final|_mean|_std|_test|_train_matched|_vs_real|_end|_best)+$")


def recorded(records: Sequence[dict[str, Any]], name: str) -> bool:
    """Whether any record holds metric ``name`` in any of the forms tools write it (``eval/class_kl``,
    ``val/speckle_vs_real_final``, ``psi=1/precision``, ``precision_test``)."""
    return any(_SUFFIX.sub("", _PREFIX.sub("", key)) == name for r in records for key in r["metrics"])


def not_recorded(records: Sequence[dict[str, Any]], names: Sequence[str] = tuple(QUALITY),
                 runs: str | None = None) -> str | None:
    """``Precision and recall were not recorded for these runs.``: the quality metrics that a table shows beside
    FID where they exist (``QUALITY``) and that none of ``records`` holds; None when every one is held.
    ``runs`` names the runs (default: ``these runs``, or ``this run`` for one record)."""
    runs = runs or ("this run" if len(records) == 1 else "these runs")
    missing = [QUALITY.get(n, n) for n in names if not recorded(records, n)]
    if not missing:
        return None
    listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    return f"{listed[0].upper() + listed[1:]} {'was' if len(missing) == 1 else 'were'} not recorded for {runs}."
