"""Calibration of a feature space: FID, KID and PRDC of controlled distortions of the real data.

Protocol (the one of training-time FID): ``n`` = 2,500 distorted images (``ganlab.metrics.calibration.distortions``)
against the features of all real images, KID with 100 subsets of 1,000, PRDC with k = 3 / 5. A feature
space a researcher can trust ranks the sets as a person would: monotone in each distortion's strength,
a collapse onto one class worse than every pixel distortion, the floor (a random half) near 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ganlab.metrics.calibration.distortions import FAMILIES, FAMILY, distort
from ganlab.metrics.extraction import extract, real_batches
from ganlab.metrics.scoring.suite import compute_metrics

METRICS = ("fid", "kid", "prdc")
COLUMNS = ("fid", "kid", "precision", "recall", "density", "coverage", "cmmd")


@dataclass(frozen=True)
class Row:
    """One distorted set and its scores."""

    family: str
    strength: float
    values: dict[str, float]

    @property
    def label(self) -> str:
        fam = FAMILY[self.family]
        return self.family if not fam.unit else f"{self.family} {self.strength:g} {fam.unit}"


def features(extractor: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """Features [N, D] of images x [N, C, H, W] in [-1, 1] (or uint8)."""
    return extract(extractor, real_batches(x, batch_size))["features"]


def calibrate(extractor: nn.Module, x: Tensor, y: Tensor, families: Sequence[str] | None = None, n: int = 2500,
              seed: int = 0, metrics: Sequence[str] = METRICS, batch_size: int = 500) -> list[Row]:
    """Scores of every (family, strength) of the suite against the features of all reals.

    Args:
        extractor: feature extractor, images in [-1, 1] -> [N, D] (digit classifier, Inception, DINOv2, CLIP).
        x: real images [N, C, H, W] in [-1, 1] (uint8 is scaled); y: labels [N].
        families: names from ``ganlab.metrics.calibration.distortions.FAMILY`` (None: all).
        n: distorted images per set.
        seed: seed of the distortions and of the KID subsets.
        metrics: any of fid, kid, prdc, cmmd.

    Returns:
        one Row per (family, strength), in suite order.
    """
    names = list(FAMILY) if families is None else list(families)
    real = features(extractor, x, batch_size)
    rows = []
    for fam in (FAMILY[f] if f in FAMILY else _unknown(f) for f in names):
        for s in fam.strengths:
            fake = features(extractor, distort(_model_space(x), y, fam.name, s, n=n, seed=seed), batch_size)
            values = compute_metrics(real, {"features": fake}, metrics, seed=seed)
            rows.append(Row(fam.name, s, {k: float(v) for k, v in values.items() if k in COLUMNS}))
    return rows


def _unknown(name: str) -> None:
    raise ValueError(f"unknown distortion {name!r}; valid: {', '.join(FAMILY)}")


def _model_space(x: Tensor) -> Tensor:
    return x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()


def markdown_table(tables: dict[str, list[Row]], columns: Sequence[str] = COLUMNS) -> str:
    """Side-by-side markdown table: one line per distorted set, ``columns`` of each named feature space."""
    names = list(tables)
    first = tables[names[0]]
    head = ["set"] + [f"{c} ({name})" if len(names) > 1 else c for name in names for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, row in enumerate(first):
        cells = [row.label]
        for name in names:
            vals = tables[name][i].values
            cells += [_fmt(c, vals.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(column: str, v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.4f}" if column in ("kid", "cmmd") else f"{v:.3g}" if column != "fid" else f"{v:.1f}"


def plot(tables: dict[str, list[Row]], path: str | Path, metric: str = "fid") -> Path:
    """One panel per feature space: ``metric`` of each set, grouped by family (bars, log scale), as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, changes no global backend

    fig = Figure(figsize=(6 * len(tables), 7), dpi=100)
    axes = fig.subplots(1, len(tables), squeeze=False)[0]
    colors = {f.name: f"C{i}" for i, f in enumerate(FAMILIES)}
    for ax, (name, rows) in zip(axes, tables.items(), strict=True):
        vals = [max(r.values[metric], 1e-3) for r in rows]
        ax.barh(range(len(rows)), vals, color=[colors[r.family] for r in rows])
        ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel(f"{metric} (log scale; 2,500 distorted vs all reals)")
        ax.set_title(name)
        ax.grid(axis="x", alpha=0.3)
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.3g}", va="center", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def value(rows: list[Row], family: str, strength: float | None = None, metric: str = "fid") -> float:
    """The ``metric`` of one set of a calibration (the first strength of ``family`` when None)."""
    for r in rows:
        if r.family == family and (strength is None or r.strength == strength):
            return r.values[metric]
    raise KeyError(f"no calibration row {family} {strength}")
