"""Histograms of the toy rows' seed distributions (VEEGAN Table 1's ring and grid), from results records.

    python scripts/studies/mode_histograms.py experiments/results/veegan_gan_authors20-cpu \
        experiments/results/veegan_gan-cpu experiments/results/ring_standalone-cpu \
        --out docs/images/mode_distributions.png

One column per row and settings (``ganlab.results.views.reproduce.toy_row``, the grouping of the
``mode_distributions`` table): the modes of every seed at its last evaluation, the published 5-run mean as a
dashed line and the collapse threshold as a dotted one; below, the high-quality share of every seed; and, where
the records hold curves (``ganlab-reproduce --record``), the mode count along training of every seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganlab.results.records import RecordError, read_records
from ganlab.results.views.reproduce import COLLAPSED_BELOW, toy_row


def mode_curve(r: dict) -> dict[int, float]:
    """{step: modes} of a record: ``curves.modes`` (ganlab-reproduce --record) or ``curve`` (ring_standalone.py)."""
    if (r.get("curves") or {}).get("modes"):
        return {int(s): v for s, v in sorted(r["curves"]["modes"].items(), key=lambda kv: int(kv[0]))}
    return {row["step"]: row["modes"] for row in r.get("curve") or []}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("studies", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str, str], list[dict]] = {}
    for study in a.studies:
        try:
            records = read_records(study)
        except RecordError as e:  # a missing folder or a broken record: one line, nothing written
            raise SystemExit(f"mode_histograms: {e}") from None
        for r in records:
            key = toy_row(r)
            if key is not None:
                groups.setdefault(key, []).append(r)
    keys = sorted(groups, key=lambda k: ("grid" in k[0], "Unrolled" in k[0], k[1] != "ganlab", k[2]))
    curves = any(mode_curve(r) for k in keys for r in groups[k])
    rows = 3 if curves else 2
    fig, axes = plt.subplots(rows, len(keys), figsize=(3.2 * len(keys), 2.6 * rows), squeeze=False)
    for col, key in enumerate(keys):
        runs = sorted(groups[key], key=lambda r: r["params"]["seed"])
        grid = "grid" in key[0]
        top = 25 if grid else 8
        modes = [r["metrics"]["modes"] for r in runs]
        ax = axes[0][col]
        ax.hist(modes, bins=[b - 0.5 for b in range(top + 2)], color="tab:blue")
        ax.axvline(COLLAPSED_BELOW["grid" if grid else "ring"] - 0.5, color="k", ls=":", lw=1)
        published = next((r.get("published", {}).get("modes") for r in runs if r.get("published")), None)
        if published is None and key[1] == "stand-alone script":
            published = 1.0
        if published is not None:
            ax.axvline(published, color="tab:red", ls="--", lw=1.2)
        ax.set_title(f"{key[0]}\n{key[1]}, {key[2]}\n{len(runs)} seeds", fontsize=8)
        ax.set_xlabel(f"modes of {top} (red: published)", fontsize=8)
        ax.set_ylabel("seeds", fontsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax = axes[1][col]
        ax.hist([r["metrics"]["high_quality"] for r in runs], bins=20, range=(0, 100), color="tab:green")
        ax.set_xlabel("high-quality samples, %", fontsize=8)
        ax.set_ylabel("seeds", fontsize=8)
        if curves:
            ax = axes[2][col]
            drawn = 0
            for r in runs:
                c = mode_curve(r)
                if c:
                    ax.plot(list(c), list(c.values()), lw=0.7, alpha=0.6)
                    drawn += 1
            if not drawn:  # runs recorded before curves were kept: say so instead of an empty frame
                ax.text(0.5, 0.5, "no curves recorded", ha="center", va="center", transform=ax.transAxes, fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            ax.set_ylim(0, top + 0.5)
            ax.set_xlabel("step", fontsize=8)
            ax.set_ylabel("modes along training", fontsize=8)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
