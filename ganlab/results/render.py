"""Render every results table in the docs from its records, or check that each rendered table is current.

A results table sits between two markers; the renderer rewrites what is between them::

    <!-- results: experiments/results/zoo_v2-cpu view=zoo_v2 [key=value ...] -->
    | ... the table, then one line naming its records, commit and machine ... |
    <!-- /results -->

PATH is relative to the repository root. The documents are README.md, docs/*.md, experiments/**/*.md and
benchmarks/**/*.md, except a tool's own report (a ``NAME.md`` beside the ``NAME.json`` the same tool wrote,
or any file under a ``results/`` folder): those are results files, not documents.

Any other markdown table whose body holds a digit (outside code spans, links and images) is taken for a table
of measured numbers and must be inside a marker, unless the line before it declares what its numbers are:
``<!-- not-results: settings of conf/... -->`` (defaults, thresholds, published numbers quoted from papers).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ganlab.results.records import RecordError, read_records
from ganlab.results.registry import Record, Table, get_view
from ganlab.results.tables import markdown_table

DOC_GLOBS = ("README.md", "docs/*.md", "experiments/**/*.md", "benchmarks/**/*.md")
OPEN = re.compile(r"^<!-- results: (?P<path>\S+) view=(?P<view>[\w.-]+)(?P<params>(?: [\w.-]+=\S+)*) -->\s*$")
CLOSE = re.compile(r"^<!-- /results -->\s*$")
EXEMPT = re.compile(r"^<!-- not-results: \S.* -->\s*$")
_CODE = re.compile(r"`[^`]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\([^)]*\)")
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


class RenderError(ValueError):
    """A marker that cannot be rendered: one line naming the document, its line and what is wrong."""


@dataclass
class Block:
    """One marked results table in a document (line numbers are 1-based, of the two markers)."""

    doc: Path
    open_line: int
    close_line: int
    path: str
    view: str
    params: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def where(self) -> str:
        """``docs/ada.md:97`` for messages."""
        return f"{self.doc.as_posix()}:{self.open_line}"


def is_tool_report(doc: Path) -> bool:
    """A tool's own markdown report (beside its JSON, or in a results folder): a results file, not a document."""
    return doc.with_suffix(".json").exists() or "results" in doc.parent.parts


def doc_files(root: Path) -> list[Path]:
    """The documents whose results tables are rendered (paths relative to ``root``)."""
    found: set[Path] = set()
    for pattern in DOC_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(p.relative_to(root) for p in found if not is_tool_report(p))


def find_blocks(text: str, doc: Path) -> list[Block]:
    """The marked blocks of one document, in order; a marker left open or nested is a :class:`RenderError`."""
    blocks: list[Block] = []
    current: Block | None = None
    body: list[str] = []
    for i, line in enumerate(text.split("\n"), start=1):
        m = OPEN.match(line)
        if m:
            if current is not None:
                raise RenderError(f"{doc}:{i}: a results marker inside the one opened at line {current.open_line}")
            params = dict(p.split("=", 1) for p in m["params"].split())
            current, body = Block(doc, i, 0, m["path"], m["view"], params), []
        elif CLOSE.match(line):
            if current is None:
                raise RenderError(f"{doc}:{i}: '<!-- /results -->' without an opening "
                                  "'<!-- results: PATH view=NAME -->'")
            current.close_line, current.body = i, "\n".join(body)
            blocks.append(current)
            current = None
        elif current is not None:
            body.append(line)
        elif line.lstrip().startswith("<!-- results"):
            raise RenderError(f"{doc}:{i}: malformed marker {line.strip()!r}; write "
                              "'<!-- results: PATH view=NAME -->' (PATH relative to the repository root)")
    if current is not None:
        raise RenderError(f"{doc}:{current.open_line}: results marker never closed with '<!-- /results -->'")
    return blocks


def _short(commit: str) -> str:
    return commit[:7] if re.fullmatch(r"[0-9a-f]{8,40}", commit) else commit


def provenance(records: list[Record], block: Block) -> str:
    """The line under a table naming its records, whether they are per run or recovered, commit and machine."""
    links = ", ".join(f"[`{p}`]({os.path.relpath(p, block.doc.parent.as_posix() or '.')})"
                      for p in block.path.split(","))
    runs = [r for r in records if r.get("per_run", True)]
    means = [r for r in records if not r.get("per_run", True)]
    recovered = [r for r in records if r.get("recovered")]
    groups: dict[tuple[str, str], int] = {}
    for r in records:
        key = (_short(r["commit"]) + (" with uncommitted changes" if r.get("dirty") else ""), r["machine"])
        groups[key] = groups.get(key, 0) + 1
    where = "; ".join(f"commit `{c}` on {m}" + (f" ({n} records)" if len(groups) > 1 else "")
                      for (c, m), n in groups.items())
    inferred = " (inferred: see each record's `commit_basis`)" if any(r.get("commit_basis") for r in records) else ""
    dates = sorted({r["date"][:10] for r in records})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    sources = sorted({r["source"] for r in recovered if r.get("source")})
    src = f" ({', '.join(f'`{s}`' for s in sources)})" if sources else ""
    what = []
    if runs:
        k = sum(bool(r.get("recovered")) for r in runs)
        what.append(f"{len(runs)} run record{'s' if len(runs) != 1 else ''}"
                    + ("" if not k else ", recovered from git history" if k == len(runs) else f", {k} recovered "
                       "from git history") + (src if k else ""))
    if means:
        recovered_means = any(r.get("recovered") for r in means)
        what.append((f"{len(means)} record{'s' if len(means) != 1 else ''} of means only: no per-run records"
                     if runs else "no per-run records: only the table's means or cells were kept"
                     + (", recovered from git history" if recovered_means else ""))
                    + ("" if runs and any(r.get("recovered") for r in runs) else src))
    return f"Records: {links}, view `{block.view}`: {'; '.join(what)}; measured at {where}{inferred}, {when}."


def render_block(block: Block, root: Path) -> str:
    """The new text between a block's two markers: the view's table, its notes, the provenance line."""
    try:  # PATH may name several studies, comma-separated: a table that compares them
        records = [r for p in block.path.split(",") for r in read_records(root / p, base=root)]
    except RecordError as e:
        raise RenderError(f"{block.where}: {e}") from None
    try:
        view = get_view(block.view)
    except KeyError as e:
        raise RenderError(f"{block.where}: {e.args[0]}") from None
    try:
        table: Table = view(records, **block.params)
    except (KeyError, ValueError, TypeError) as e:
        raise RenderError(f"{block.where}: view {block.view!r} failed on {block.path}: "
                          f"{type(e).__name__}: {e}") from e
    used = table.records if table.records is not None else records
    parts = [markdown_table(table.header, table.rows)]
    for note in table.notes:  # each note its own paragraph
        parts += ["", note]
    parts += ["", provenance(used, block)]
    return "\n".join(parts)


def render_text(text: str, doc: Path, root: Path) -> tuple[str, list[Block]]:
    """The document with every block re-rendered, and the blocks whose text changed."""
    lines = text.split("\n")
    changed: list[Block] = []
    for block in reversed(find_blocks(text, doc)):  # from the end, so earlier line numbers stay valid
        new = render_block(block, root)
        if new != block.body:
            changed.append(block)
        lines[block.open_line:block.close_line - 1] = new.split("\n")
    return "\n".join(lines), list(reversed(changed))


def table_spans(lines: list[str]) -> Iterable[tuple[int, int]]:
    """(first, end) line indices (0-based, end exclusive) of each markdown table: header, rule, body."""
    i = 0
    while i < len(lines) - 1:
        if lines[i].lstrip().startswith("|") and _RULE.match(lines[i + 1]):
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def has_numbers(body_rows: list[str]) -> bool:
    """Whether table rows hold a digit outside code spans, links and images (the measured-numbers rule)."""
    return any(re.search(r"\d", _LINK.sub("", _CODE.sub("", row))) for row in body_rows)


def unmarked_tables(text: str, doc: Path) -> list[str]:
    """Tables with numbers that are neither inside a results marker nor declared ``not-results``."""
    lines = text.split("\n")
    inside = set()
    for b in find_blocks(text, doc):
        inside.update(range(b.open_line, b.close_line))  # 0-based indices of the lines between the markers
    out = []
    for first, end in table_spans(lines):
        if first in inside or not has_numbers(lines[first + 2:end]):
            continue
        above = next((lines[k] for k in range(first - 1, -1, -1) if lines[k].strip()), "")
        if not EXEMPT.match(above):
            out.append(f"{doc.as_posix()}:{first + 1}: a table with numbers outside a results marker "
                       f"({lines[first].strip()[:60]}...): wrap it in '<!-- results: PATH view=NAME -->' ... "
                       "'<!-- /results -->', or declare '<!-- not-results: what its numbers are -->' above it")
    return out


@dataclass
class Report:
    """What a render or check pass found."""

    changed: list[Block] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)
    blocks: int = 0

    @property
    def ok(self) -> bool:
        """Every block current and every table with numbers marked or declared."""
        return not self.changed and not self.unmarked


def run(root: Path, *, write: bool, docs: list[Path] | None = None) -> Report:
    """Render (``write=True``: rewrite the documents) or check every results block under ``root``.

    Every block is rendered before any file is written, so an error leaves every document as it was.
    """
    report = Report()
    new_texts: dict[Path, str] = {}
    for doc in docs if docs is not None else doc_files(root):
        text = (root / doc).read_text(encoding="utf-8")
        new, changed = render_text(text, doc, root)
        report.blocks += len(find_blocks(text, doc))
        report.changed += changed
        report.unmarked += unmarked_tables(new, doc)
        if new != text:
            new_texts[doc] = new
    if write:
        for doc, new in new_texts.items():
            (root / doc).write_text(new, encoding="utf-8")
    return report


def describe(report: Report, *, write: bool) -> list[str]:
    """One line per finding, for the command line."""
    verb = "re-rendered" if write else "differs from its records (run `python -m ganlab.results render`)"
    lines = [f"{b.where}: view={b.view} {b.path}: {verb}" for b in report.changed]
    return lines + report.unmarked

