"""The renderer: blocks re-rendered from records, the check that fails on a stale block, the unmarked-table rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab.results import view, write_record
from ganlab.results.registry import VIEWS
from ganlab.results.render import RenderError, doc_files, find_blocks, run, unmarked_tables

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy(tmp_path):
    """A tiny repository: two records, a README with one marked block, a registered toy view."""

    @view("toy_fid", header=["run", "FID"])
    def toy_fid(records):
        return [[r["run"], f"{r['metrics']['fid']:.1f}"] for r in records]

    for run_, fid in (("a", 7.09), ("b", 8.39)):
        write_record("study", run_, {"fid": fid}, command="x", root=tmp_path / "experiments" / "results")
    (tmp_path / "README.md").write_text("# t\n\n<!-- results: experiments/results/study view=toy_fid -->\n"
                                        "<!-- /results -->\n\nafter\n")
    yield tmp_path
    VIEWS.pop("toy_fid")


def test_render_fills_the_block_and_check_then_passes(toy):
    assert not run(toy, write=False).ok  # the empty block differs from its records
    report = run(toy, write=True)
    assert [b.view for b in report.changed] == ["toy_fid"]
    text = (toy / "README.md").read_text()
    assert "| a | 7.1 |\n| b | 8.4 |" in text
    assert "Records: [`experiments/results/study`](experiments/results/study), view `toy_fid`: 2 run records" in text
    assert text.endswith("<!-- /results -->\n\nafter\n")  # nothing outside the markers moved
    assert run(toy, write=False).ok


def test_editing_one_number_in_a_record_makes_the_check_fail(toy):
    run(toy, write=True)
    path = toy / "experiments" / "results" / "study" / "b.json"
    rec = json.loads(path.read_text())
    rec["metrics"]["fid"] = 9.39
    path.write_text(json.dumps(rec))
    report = run(toy, write=False)
    assert not report.ok and [b.where for b in report.changed] == ["README.md:3"]


def test_a_bad_marker_is_one_line_naming_the_document_and_nothing_is_written(toy):
    readme = toy / "README.md"
    readme.write_text("<!-- results: experiments/results/study view=nope -->\n<!-- /results -->\n")
    with pytest.raises(RenderError, match=r"README.md:1: unknown view 'nope'; registered views: .*toy_fid"):
        run(toy, write=True)
    readme.write_text("<!-- results: experiments/results/missing view=toy_fid -->\n<!-- /results -->\n")
    with pytest.raises(RenderError, match="README.md:1: .*missing: no such results file"):
        run(toy, write=True)
    with pytest.raises(RenderError, match="never closed"):
        find_blocks("<!-- results: p view=v -->\n| a |\n", Path("d.md"))
    with pytest.raises(RenderError, match="malformed marker"):
        find_blocks("<!-- results: p -->\n", Path("d.md"))
    assert readme.read_text().startswith("<!-- results: experiments/results/missing")


def test_the_numbers_rule_flags_result_tables_and_spares_declared_and_number_free_ones():
    results = "| run | FID |\n|---|---|\n| default | 7.09 |\n"
    assert len(unmarked_tables(results, Path("d.md"))) == 1
    assert "d.md:1: a table with numbers outside a results marker" in unmarked_tables(results, Path("d.md"))[0]
    declared = "<!-- not-results: settings: the defaults of conf/x.yaml -->\n" + results
    assert unmarked_tables(declared, Path("d.md")) == []
    in_code = "| key | default |\n| --- | --- |\n| `lr` | `2e-4` |\n| [doc](a1.md) | ![x](b2.png) |\n"
    assert unmarked_tables(in_code, Path("d.md")) == []  # digits only in code spans, links and images
    marked = "<!-- results: p view=v -->\n" + results + "<!-- /results -->\n"
    assert unmarked_tables(marked, Path("d.md")) == []


def test_tool_reports_are_results_files_not_documents():
    docs = {p.as_posix() for p in doc_files(REPO)}
    assert {"README.md", "experiments/README.md", "benchmarks/README.md", "docs/ada.md"} <= docs
    assert "benchmarks/zoo-h100.md" not in docs  # beside zoo-h100.json, written by scripts/zoo_compare.py
    assert not any(d.startswith("experiments/results/") for d in docs)


def test_the_command_line_check_fails_on_a_stale_block_and_render_fixes_it(tmp_path):
    # a registered view (the subprocess does not see views registered by this test)
    write_record("dino", "run", {"fd_dinov2_b14": 31.66, "fd_dinov2_b14_floor": 4.12}, command="x",
                 root=tmp_path / "experiments" / "results")
    (tmp_path / "README.md").write_text("<!-- results: experiments/results/dino view=dinov2_cmmd -->\n"
                                        "<!-- /results -->\n")
    cmd = [sys.executable, "-m", "ganlab.results", "check", "--root", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1 and "README.md:1: view=dinov2_cmmd" in out.stderr
    render = subprocess.run([*cmd[:3], "render", "--root", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert render.returncode == 0, render.stderr
    assert "| `fd_dinov2_b14` | 31.66 | 4.12 |" in (tmp_path / "README.md").read_text()
    assert subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).returncode == 0
    (tmp_path / "README.md").write_text("<!-- results: experiments/results/dino view=nope -->\n<!-- /results -->\n")
    bad = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown view 'nope'" in bad.stderr


def test_a_view_name_taken_by_another_module_is_refused_even_with_the_same_function_name():
    from types import FunctionType

    from ganlab.results.registry import load_views

    load_views()
    taken = next(iter(VIEWS.values()))
    # the same function name (and qualname) in another module, as two views files could each define
    impostor = FunctionType(taken.fn.__code__, {"__name__": "elsewhere"}, taken.fn.__name__)
    assert impostor.__module__ == "elsewhere" and impostor.__qualname__ == taken.fn.__qualname__
    with pytest.raises(ValueError, match=f"view '{taken.name}' is registered twice"):
        view(taken.name, header=["x"])(impostor)
    assert VIEWS[taken.name] is taken  # the registered view is kept
    view(taken.name, header=taken.header)(taken.fn)  # the same function again (a re-import) is accepted
