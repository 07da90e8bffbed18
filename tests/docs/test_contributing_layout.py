"""CONTRIBUTING.md's layout names every script where it lies, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def layout() -> dict[str, str]:
    """path at the start of a line of the layout block -> the text beside it (continuation lines included)."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        if line and not line[0].isspace():
            key, _, rest = line.partition(" ")
            entries[key] = rest
        elif key is not None:
            entries[key] += " " + line.strip()
    return entries


def test_every_script_folder_lists_exactly_its_files():
    entries = layout()
    folders = sorted(d for d in (REPO / "scripts").iterdir() if d.is_dir() and not d.name.startswith((".", "_")))
    assert [d.name for d in folders] == ["assets", "bench", "checks", "studies"]
    assert not [p.name for p in (REPO / "scripts").iterdir() if p.is_file()], "scripts/ holds folders only"
    for folder in folders:
        listed = set(re.findall(r"[\w.-]+\.(?:py|sh)", entries.get(f"scripts/{folder.name}/", "")))
        on_disk = {p.name for p in folder.iterdir() if p.is_file()}
        assert listed == on_disk, (folder.name, "missing:", on_disk - listed, "gone:", listed - on_disk)


def test_every_path_the_layout_names_exists():
    for key in layout():
        for path in key.rstrip(",").split(","):
            if path.startswith(("ganlab/", "scripts/", "conf/", "tests/", "docs/")):
                assert (REPO / path).exists(), path
