"""Views of the feature-space calibration (docs/calibration.md, experiments/README.md)."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view
from ganlab.results.tables import feature_space, not_recorded, select

UNITS = {"half": "", "gaussian_noise": "sigma", "salt": "fraction", "box_blur": "px", "shift": "px",
         "rotate": "deg", "drop_classes": "classes", "over_represent": "share", "memorize": "images",
         "collapse": "digit"}
METRICS = ["fid", "kid", "precision", "recall", "density", "coverage"]
NAMES = {"fid": "FID", "kid": "KID"}
VERSIONS = ("v1", "v2")


def headers(records: list[Record], metrics: list[str]) -> list[str]:
    """Per version: the first metric names the feature space (``FID (digit features v1)``), the others its
    version (``precision (v1)``)."""
    out = []
    for version in VERSIONS:
        space = feature_space(select(records, version=version))
        out += [f"{NAMES.get(m, m)} ({space if i == 0 else version})" for i, m in enumerate(metrics)]
    return out


def notes(records: list[Record]) -> list[str]:
    """The feature spaces named in full, and what the sets' records do not hold."""
    spaces = " and ".join(f"{feature_space(select(records, version=v))}" for v in VERSIONS)
    missing = not_recorded(records, ("class_kl", "speckle"), "these sets")
    return [f"(v1), (v2): {spaces}, as each record's card names them."] + ([missing] if missing else [])


def sets(records: list[Record]) -> list[tuple[str, float]]:
    """(family, strength) in the suite's order (calibration.json's order of the v1 rows)."""
    seen: dict[tuple[str, float], None] = {}
    for r in sorted(select(records, version="v1"), key=lambda r: r["_file"]):
        seen[(r["params"]["family"], r["params"]["strength"])] = None
    order = list(UNITS)
    return sorted(seen, key=lambda k: (order.index(k[0]), k[1]))


def cell(metric: str, x: float) -> str:
    """FID to 0.1, KID to 4 decimals, PRDC to 3 significant figures (as calibrate_features.py prints)."""
    if metric == "fid":
        return f"{x:.1f}"
    if metric == "kid":
        return f"{x:.4f}"
    return f"{x:.3g}"


def label(family: str, strength: float) -> str:
    return family if family == "half" else f"{family} {strength:g} {UNITS[family]}"


@view("calibration_full")
def calibration_full(records: list[Record]) -> Table:
    """Every distortion of the suite scored in digit features v1 and v2: FID, KID and PRDC."""
    rows = []
    for family, strength in sets(records):
        row: list[Any] = [label(family, strength)]
        for version in VERSIONS:
            r = select(records, family=family, strength=strength, version=version)[0]["metrics"]
            row += [cell(m, r[m]) for m in METRICS]
        rows.append(row)
    return Table(header=["set", *headers(records, METRICS)], rows=rows, notes=notes(records))


SUMMARY = [("a random half (floor)", [("half", 0)]),
           ("2 / 5 / 10 % salt", [("salt", 0.02), ("salt", 0.05), ("salt", 0.1)]),
           ("Gaussian noise sigma 0.3", [("gaussian_noise", 0.3)]),
           ("3x3 / 5x5 box blur", [("box_blur", 3), ("box_blur", 5)]),
           ("1 / 3 / 5 classes dropped", [("drop_classes", 1), ("drop_classes", 3), ("drop_classes", 5)]),
           ("copies of 10 training images", [("memorize", 10)]),
           ("only digit 1 (collapse)", [("collapse", 1)])]


SUMMARY_METRICS = ["fid", "precision", "recall"]


@view("calibration_fid")
def calibration_fid(records: list[Record]) -> Table:
    """A few rows of the calibration suite: FID, precision and recall in v1 and v2."""
    rows = []
    for name, keys in SUMMARY:
        cells = [" / ".join(cell(m, select(records, family=f, strength=s, version=v)[0]["metrics"][m])
                            for f, s in keys) for v in VERSIONS for m in SUMMARY_METRICS]
        rows.append([name, *cells])
    return Table(header=["set", *headers(records, SUMMARY_METRICS)], rows=rows, notes=notes(records))


@view("speckle_calibration", header=["set", "speckle (isolated / all foreground pixels)"])
def speckle_calibration(records: list[Record]) -> list[list[Any]]:
    """The speckle share of real digits and of distortions of them (2,500 images, seed 0)."""
    rows = sorted(records, key=lambda r: r["metrics"]["speckle"])
    return [[r["params"]["set"], f"{r['metrics']['speckle']:.6f}".rstrip("0")] for r in rows]


@view("copy_calibration", header=["set", "must be flagged", "flagged as near-copies", "median copy ratio", "C_T"])
def copy_calibration(records: list[Record]) -> Table:
    """The memorization check on known copies and near-copies of training digits, and its false-alarm rate."""
    order = {name: i for i, name in enumerate(("memorize 1000", "memorize 100", "memorize 10", "shift 1",
                                               "gaussian_noise 0.05", "gaussian_noise 0.1", "gaussian_noise 0.2",
                                               "shift 2", "box_blur 3", "rotate 5"))}
    rows = []
    for r in sorted(records, key=lambda r: order.get(r["params"]["set"], len(order))):
        m = r["metrics"]
        rows.append([r["params"]["what"], "yes" if r["params"]["required"] else "no",
                     f"{100 * m['copy_share']:.1f} %", f"{m['copy_ratio_median']:.3f}", f"{m['ct']:.1f}"])
    held = {round(r["metrics"]["copy_share_heldout"], 4) for r in records}
    tau = {round(r["metrics"]["copy_threshold"], 4) for r in records}
    notes = [f"New digits (the held-out check half of the test split, 500 digits) flagged: "
             f"{', '.join(f'{100 * h:.1f} %' for h in sorted(held))}; copy threshold tau = "
             f"{', '.join(f'{t:.3f}' for t in sorted(tau))} (fitted on the other half at rate 0.03)."]
    return Table(rows=rows, notes=notes)
