"""scripts/checks/bad_input_table.py: a few of its cases, run as the table runs them (docs/bad-input.md)."""

from __future__ import annotations

import pytest

from ganlab.tools import bad_input_table as table

CASES = {case.what: case for case in table.CASES}


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("ganlab-eval without ckpt=", "ganlab-eval: error: ckpt=PATH is required"),
        ("random bytes", "ganlab-eval: error: bad.ckpt is not a ganlab-train checkpoint: not a torch file"),
        ("pickle payload (__reduce__ writes a file)", "ganlab-eval: error: bad.ckpt is not a ganlab-train "
                                                      "checkpoint: it asks to run or build"),
        ("foreign _target_ (generator)", "ganlab-eval: error: bad.ckpt: its config names _target_ "
                                         "pathlib.Path.write_text (at generator), which is not a ganlab/torch"),
        ("stored dataset source asks for a download", "ganlab-eval: error: bad.ckpt: its config's "
                                                      "dataset.source.download=True: a stored config never downloads"),
    ],
)
def test_cases_fail_in_one_line_and_keep_earlier_files(tmp_path, what, message):
    result = table.run_case(CASES[what], tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.message]  # one line, no traceback
    assert result.message.startswith(message)
    assert result.unchanged and result.new_files == []  # earlier outputs byte-identical, nothing written
    assert not (tmp_path / "pwned.txt").exists()
    written_by_case = {"bad.ckpt"} if CASES[what].file is not None else set()
    assert {p.name for p in tmp_path.iterdir()} == set(table.EARLIER) | written_by_case


def test_every_case_is_described():
    assert len(CASES) == len(table.CASES) >= 15  # descriptions are unique: they name the table's rows
    for case in table.CASES:
        assert case.argv[0] in table.TOOLS and case.expect in ("error", "warning")
