"""Curves of several runs (or seed groups) in one figure, and the static HTML report of a comparison.

The report is one self-contained HTML file (CSS inline, images as base64 data URIs): it opens offline
in any browser, can be mailed or attached, and needs no server and no CDN.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import warnings
from pathlib import Path
from typing import Any

from ganlab.runs.read import CompareError, Run
from ganlab.runs.table import STATUS_STYLE, Column, cell

# curves the report draws when any run has them (results first, then the two losses)
REPORT_TAGS = ("val/fid", "val/modes", "val/reverse_kl", "train/d_loss", "train/g_loss")
LEGEND_CHARS = 48  # longer labels are cut: a legend must not cover the curves
GRID_MAX_PX = 512  # sample grids wider than this are shrunk in the report (the PNG files stay as they are)


def _label(text: str) -> str:
    return text if len(text) <= LEGEND_CHARS else text[: LEGEND_CHARS - 1] + "…"


def figure(tag: str, curves: dict[str, list[Run]]) -> Any:
    """A matplotlib Figure of ``tag``: per curve group the mean over its runs at the steps they all
    logged, shaded ± sample std when the group has several runs; one legend entry per group.

    Raises:
        CompareError: no run has ``tag``.
    """
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, leaves no global state

    # (colour index, label, curves): a group keeps its colour in every figure of one comparison
    drawn = [(i, label, [r.curves[tag] for r in members if r.curves.get(tag)])
             for i, (label, members) in enumerate(curves.items())]
    drawn = [(i, label, series) for i, label, series in drawn if series]
    if not drawn:
        raise CompareError(f"--plot {tag}: no run has that scalar")
    below = len(drawn) > 4  # many entries: the legend goes under the axes instead of over the curves
    fig = Figure(figsize=(6.4, 3.8 + (0.2 * len(drawn) if below else 0)), layout="constrained")
    ax = fig.add_subplot()
    styles = ["-", "--", ":", "-."]
    for i, label, series in drawn:
        steps = sorted(set.intersection(*(set(s) for s in series)))
        if not steps:  # runs of one group logged at different steps: each step's mean over who has it
            steps = sorted(set.union(*(set(s) for s in series)))
        values = np.array([[s.get(step, np.nan) for step in steps] for s in series], dtype=float)
        with warnings.catch_warnings():  # a NaN score (e.g. reverse KL with no mode hit) stays a gap
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            std = np.nanstd(values, axis=0, ddof=1) if len(series) > 1 else None
        # 10 colours, then the next line style, so 40 curves stay apart
        (line,) = ax.plot(steps, mean, linestyle=styles[(i // 10) % 4], color=f"C{i % 10}",
                          label=_label(label if len(curves[label]) == 1 else f"{label} (n={len(series)})"),
                          marker="o" if len(steps) <= 3 else None, markersize=3)
        if std is not None:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="step", ylabel=tag, title=tag)
    ax.grid(alpha=0.3)
    if below:
        fig.legend(loc="outside lower center", ncols=2 if len(drawn) > 8 else 1, fontsize="small", frameon=False)
    else:
        ax.legend(fontsize="small")
    return fig


def png_bytes(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plot(tag: str, curves: dict[str, list[Run]], out: Path) -> Path:
    """``figure(tag, curves)`` saved as ``out/<tag with / as _>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{tag.replace('/', '_')}.png"
    path.write_bytes(png_bytes(figure(tag, curves), dpi=120))
    return path


def grid_png(run: Run) -> bytes | None:
    """The run's newest sample grid as PNG bytes, shrunk to GRID_MAX_PX wide if larger; None without one."""
    data = run.grid.read_bytes() if run.grid is not None else run.image
    if data is None:
        return None
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.width <= GRID_MAX_PX:
        return data
    image.thumbnail((GRID_MAX_PX, GRID_MAX_PX * image.height // image.width))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _img(data: bytes, alt: str, css: str = "") -> str:
    return (f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}" alt="{html.escape(alt)}"'
            f'{f" class={chr(34)}{css}{chr(34)}" if css else ""}>')


def _table_html(cols: list[Column], rows: list[dict[str, Any]], cap: bool = True) -> str:
    head = "".join(f'<th class="{"num" if c.numeric else "text"}">{html.escape(c.header)}</th>' for c in cols)
    body = []
    for row in rows:
        tds = []
        for c in cols:
            text = cell(row, c) if cap else cell(row, Column(c.key, c.header, c.numeric))
            if c.key == "status":
                title = f' title="{html.escape(str(row.get("reason") or ""))}"'
                tds.append(f'<td><span class="status {STATUS_STYLE.get(str(row.get("status")), "other")}"{title}>'
                           f"{html.escape(text)}</span></td>")
            else:
                tds.append(f'<td class="{"num" if c.numeric else "text"}">{html.escape(text)}</td>')
        body.append(f"<tr>{''.join(tds)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta, .note { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
th { background: #f4f4f4; text-align: left; } th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { padding: 1px 7px; border-radius: 9px; font-size: 12px; color: #fff; background: #888; }
.status.green { background: #2e7d32; } .status.red { background: #c62828; }
.status.yellow { background: #b26a00; } .status.cyan { background: #00838f; }
.scroll { overflow-x: auto; }
.curves { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.curves img { width: 100%; border: 1px solid #eee; }
.grids { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; font-size: 12px; }
.card img { width: 100%; image-rendering: pixelated; display: block; margin-top: 6px; }
.card .name { font-weight: 600; overflow-wrap: anywhere; }
"""


def write_html(out: Path, title: str, table: tuple[list[Column], list[dict[str, Any]]],
               wide: tuple[list[Column], list[dict[str, Any]]], notes: list[str], runs: list[Run],
               curves: dict[str, list[Run]], tags: list[str]) -> Path:
    """Write the report: the table (and every column under a fold), protocol notes, the curves of
    ``tags`` that any run has, and each run's newest sample grid. Returns ``out``."""
    figures = []
    for tag in tags:
        if any(r.curves.get(tag) for r in runs):
            figures.append(_img(png_bytes(figure(tag, curves)), f"curve of {tag}"))
    cards = []
    for r in runs:
        data = grid_png(r)
        picture = _img(data, f"samples of {r.label}") if data else '<p class="note">no sample grid</p>'
        about = [f"grid of step {r.grid_step}" if r.grid_step is not None else "",
                 r.verdict if r.verdict != "-" else "", r.status.reason if r.status.name != "finished" else ""]
        cards.append(f'<div class="card"><div class="name">{html.escape(r.label)}</div>'
                     f'<span class="status {STATUS_STYLE.get(r.status.name, "other")}">{r.status.name}</span> '
                     f'{html.escape(" · ".join(a for a in about if a))}{picture}</div>')
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>ganlab-compare</h1>
<div class="meta">{html.escape(title)} · written {when}</div>
<h2>Runs</h2>
<div class="scroll">{_table_html(*table)}</div>
{''.join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
<details><summary class="note">every column</summary><div class="scroll">{_table_html(*wide, cap=False)}</div>
</details>
<h2>Curves</h2>
<div class="curves">{''.join(figures) or '<p class="note">no curves</p>'}</div>
<h2>Last sample grids</h2>
<div class="grids">{''.join(cards)}</div>
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
