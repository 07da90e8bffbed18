"""Named views: a view turns the records of a study folder or file into the rows of one markdown table.

Registering a view is one decorated function in any module of ``ganlab.results.views`` (they are all
imported when a view is first looked up)::

    @view("zoo_v2", header=["combination", "FID (digit features v2)"])
    def zoo_v2(records):
        return [[r["params"]["combination"], fmt(r["metrics"]["fid"], 1)] for r in records]

A view receives the records (see :mod:`ganlab.results.records`) and the marker's extra ``key=value``
arguments as strings; it returns rows (lists of cells), or a :class:`Table` when it sets its own header,
adds notes under the table, or uses only some of the records (the provenance line names those).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass
class Table:
    """A rendered table: header, rows of cells, optional notes (lines under it), the records it used."""

    header: Sequence[str] | None = None
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: list[Record] | None = None  # None: all the records of the marker's path


@dataclass(frozen=True)
class View:
    """A registered view: its name, header and function."""

    name: str
    fn: Callable[..., Any]
    header: tuple[str, ...] | None

    def __call__(self, records: list[Record], **params: str) -> Table:
        """Run the view; the result is always a :class:`Table` with a header."""
        out = self.fn(records, **params)
        table = out if isinstance(out, Table) else Table(rows=list(out))
        if table.header is None:
            table.header = self.header
        if table.header is None:
            raise ValueError(f"view {self.name!r} gives no header (pass header= to @view or return a Table)")
        return table


VIEWS: dict[str, View] = {}


def view(name: str, header: Sequence[str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(records, **params) -> rows | Table`` under ``name`` (used as ``view=name`` in a marker)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        old = VIEWS.get(name)  # the same function registered again (a module re-imported) is fine, another is not
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"view {name!r} is registered twice ({VIEWS[name].fn.__module__} and {fn.__module__})")
        VIEWS[name] = View(name, fn, tuple(header) if header is not None else None)
        return fn

    return register


def load_views() -> dict[str, View]:
    """Import every module of ``ganlab.results.views`` (each registers its views) and return the registry."""
    package = importlib.import_module("ganlab.results.views")
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
    return VIEWS


def get_view(name: str) -> View:
    """The view registered under ``name``; a KeyError names the valid ones."""
    views = load_views()
    if name not in views:
        raise KeyError(f"unknown view {name!r}; registered views: {', '.join(sorted(views))}")
    return views[name]
