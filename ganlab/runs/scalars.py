"""A run's logged scalars, from its TensorBoard events or, for runs logged with ``logger=csv`` only, its CSV file.

Both give tag -> {step: value}; the CSV logger's ``wall_time`` column stands in for the event wall times.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

TENSORBOARD, CSV_FILE = "tensorboard", Path("csv") / "metrics.csv"
IMAGE_TAGS = ("samples", "modes")  # the newest of these is the run's picture when it has no PNG grid
NOT_SCALARS = {"step", "wall_time", "epoch"}  # columns of metrics.csv that are not logged tags


@dataclass
class Scalars:
    """tag -> {step: value} (a resumed step keeps its latest value), the wall times of the points, and the
    newest ``samples`` (or toy ``modes``) image as (PNG bytes, step) when the events hold one."""

    curves: dict[str, dict[int, float]] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    image: tuple[bytes, int] | None = None


def is_run(path: Path) -> bool:
    """``path`` holds TensorBoard events or a CSV logger's ``csv/metrics.csv``."""
    return any((path / TENSORBOARD).glob("events.out.tfevents.*")) or (path / CSV_FILE).is_file()


def run_dirs(folder: Path) -> set[Path]:
    """Every run directory under ``folder`` (or ``folder`` itself), by its event files or CSV file."""
    found = {e.parent.parent.resolve() for e in folder.rglob("events.out.tfevents.*") if e.parent.name == TENSORBOARD}
    found |= {f.parent.parent.resolve() for f in folder.rglob(CSV_FILE.name) if f.parent.name == CSV_FILE.parent.name}
    return found


def read_scalars(run: Path) -> Scalars:
    """The run's scalars from ``tensorboard/`` when it has events there, else from ``csv/metrics.csv``."""
    if any((run / TENSORBOARD).glob("events.out.tfevents.*")) or not (run / CSV_FILE).is_file():
        return _from_events(run / TENSORBOARD)
    return from_csv(run / CSV_FILE)


def _from_events(folder: Path) -> Scalars:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # scalars=0 keeps every point; of images the reservoir of 1 keeps the newest
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 1, "tensors": 1})
    acc.Reload()
    out = Scalars()
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        out.curves[tag] = {e.step: e.value for e in events}
        out.times += [e.wall_time for e in events]
    for tag in IMAGE_TAGS:
        if tag in acc.Tags()["images"]:
            event = acc.Images(tag)[-1]
            out.image = (event.encoded_image_string, event.step)
            break
    return out


def from_csv(path: Path) -> Scalars:
    """Lightning's CSV layout: a ``step`` column, one column per tag, empty cells where a row lacks a tag."""
    out = Scalars()
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            step = _number(row.get("step"))
            if step is None:
                continue
            wall = _number(row.get("wall_time"))
            if wall is not None:
                out.times.append(wall)
            for tag, cell in row.items():
                value = _number(cell)
                if tag and tag not in NOT_SCALARS and value is not None:
                    out.curves.setdefault(tag, {})[int(step)] = value  # later rows (a resume) win
    return out


def _number(cell: str | None) -> float | None:
    """A cell as a float (``nan`` and ``inf`` kept, as TensorBoard keeps them); None for an empty or text cell."""
    try:
        return float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
