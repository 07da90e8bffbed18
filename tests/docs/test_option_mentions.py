"""Every option of every config group is mentioned in the docs (README.md, docs/*.md, CONTRIBUTING.md).

A mention is ``group=option`` (also ``+group=option``), ``experiment=NAME`` for presets, or a
markdown table row that names the group (`` `group` `` or ``conf/group/``) and the option (`` `option` ``).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"

# config folders that are not groups chosen on the command line (primary configs, Hydra internals)
NOT_GROUPS = {"hydra", "eval"}
# groups nested in such folders, as they are spelled on the command line
NESTED = {"hydra/launcher": CONF / "hydra" / "launcher", "feature": CONF / "eval" / "feature"}


def groups() -> dict[str, list[str]]:
    """group name (as on the command line) -> option names, from the files under conf/."""
    found = {d.name: d for d in CONF.iterdir() if d.is_dir() and d.name not in NOT_GROUPS}
    found.update(NESTED)
    return {g: sorted(p.stem for p in d.glob("*.yaml")) for g, d in sorted(found.items()) if any(d.glob("*.yaml"))}


def docs_text() -> str:
    files = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files if f.exists())


def mentioned(text: str, group: str, option: str, rows: list[str]) -> bool:
    if re.search(rf"(?<![\w./-])\+?{re.escape(group)}=\[?([\w,]*,)?{re.escape(option)}(?![\w-])", text):
        return True
    names_group = (f"`{group}`", f"conf/{group}/")
    return any(any(n in row for n in names_group) and f"`{option}`" in row for row in rows)


def missing_mentions(text: str) -> list[str]:
    rows = [line for line in text.splitlines() if line.lstrip().startswith("|")]
    return [f"{g}={o}" for g, options in groups().items() for o in options if not mentioned(text, g, o, rows)]


def test_groups_are_found():
    g = groups()
    assert {"dataset", "generator", "discriminator", "loss", "game", "experiment", "hydra/launcher"} <= set(g)
    assert "alternating" in g["game"] and "dcgan_mnist5k" in g["experiment"]


def test_the_checker_sees_what_is_missing():
    text = "ganlab-train loss=hinge +regularizers=[r1,bcr]\n| `game` | `simultaneous` |\n"
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert mentioned(text, "loss", "hinge", rows) and mentioned(text, "regularizers", "bcr", rows)
    assert mentioned(text, "game", "simultaneous", rows)
    assert not mentioned(text, "loss", "hing", rows) and not mentioned(text, "game", "unrolled", rows)
    assert not mentioned("dataset=mnist5k", "dataset", "mnist", [])


def test_every_option_of_every_group_is_documented():
    missing = missing_mentions(docs_text())
    assert not missing, (
        f"{len(missing)} config option(s) not mentioned in README.md, docs/*.md or CONTRIBUTING.md "
        f"(write `group=option` or add a table row of the group): {', '.join(missing)}"
    )
