"""Every results table in the docs is rendered from its records and current; none is left outside a marker."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ganlab.results import read_records
from ganlab.results.render import doc_files, find_blocks, run

REPO = Path(__file__).resolve().parents[2]


def test_every_results_block_matches_its_records_and_every_numbers_table_is_marked():
    report = run(REPO, write=False)
    stale = [f"{b.where}: view={b.view} {b.path}" for b in report.changed]
    assert not stale, "blocks differ from their records (python -m ganlab.results render):\n" + "\n".join(stale)
    assert not report.unmarked, "\n".join(report.unmarked)
    assert report.blocks >= 30


def test_every_rendered_table_names_its_commit_and_machine():
    for doc in doc_files(REPO):
        for block in find_blocks((REPO / doc).read_text(encoding="utf-8"), doc):
            line = block.body.strip().split("\n")[-1]
            assert re.search(r"measured at commit `[0-9a-f]{7}` on \S", line), f"{block.where}: {line}"
            if "no per-run records" in block.body:
                assert "no per-run records" in line  # said in the provenance line, not only somewhere


def test_every_record_in_the_results_folders_is_valid():
    for root in (REPO / "experiments" / "results", REPO / "benchmarks" / "results"):
        records = read_records(root, base=REPO)
        assert all(r["metrics"] is not None and r["commit"] != "unknown" for r in records)
        recovered = [r for r in records if r.get("recovered")]
        assert all(r.get("source", "").startswith("git show ") for r in recovered)


def test_editing_one_number_in_a_results_file_makes_the_check_fail(tmp_path):
    for part in ("README.md", "docs", "experiments", "benchmarks"):
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / part)
    assert run(tmp_path, write=False).ok  # the copy is current
    path = tmp_path / "experiments" / "results" / "zoo_v2-cpu" / "dragan-s1.json"
    record = json.loads(path.read_text())
    record["metrics"]["fid"] += 1.0
    path.write_text(json.dumps(record))
    report = run(tmp_path, write=False)
    assert {(b.doc.as_posix(), b.view) for b in report.changed} == {
        ("experiments/README.md", "zoo_v2"), ("experiments/README.md", "zoo_v2_vs_baseline")}
