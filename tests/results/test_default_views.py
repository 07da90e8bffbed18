"""Views of the default run on the train split (ganlab/results/views/defaults.py) on hand-made records."""

from __future__ import annotations

from ganlab.results import get_view

KEYS = ("fid", "fid_test", "fid_train_matched", "fid_gap", "precision", "recall", "class_kl", "speckle_vs_real",
        "copy_share", "ct")


def record(seed: int, **metrics: float) -> dict:
    values = dict.fromkeys(KEYS, 1.0) | metrics
    return {"study": "default_run-test", "run": f"seed{seed}", "command": "x", "commit": "c", "machine": "m",
            "date": "d", "metrics": values, "card": None, "params": {"seed": seed}}


def test_headline_rows_by_seed_then_mean_and_sample_std():
    records = [record(6, fid=9.0, fid_test=11.0, recall=0.30), record(4, fid=7.0, fid_test=8.0, recall=0.20),
               record(5, fid=8.0, fid_test=8.0, recall=0.25)]
    table = get_view("default_run_headline")(records)
    assert [row[0] for row in table.rows] == ["4", "5", "6", "mean ± std (3)"]
    assert table.rows[0][1:3] == ["7.00", "8.00"] and table.rows[2][4] == "0.300"
    # FID train 7, 8, 9: mean 8, sample std 1; FID test 8, 8, 11: mean 9, std sqrt(3)
    assert table.rows[3][1] == "8.00 ± 1.00" and table.rows[3][2] == "9.00 ± 1.73"
    assert table.rows[3][4] == "0.250 ± 0.050"


def test_one_seed_has_no_mean_row():
    assert len(get_view("default_run_headline")([record(4)]).rows) == 1


def test_test_split_table_shows_copies_as_percent_and_the_spread():
    records = [record(4, copy_share=0.01, fid_gap=-0.5), record(5, copy_share=0.03, fid_gap=0.5)]
    rows = get_view("default_run_test")(records).rows
    assert rows[0][0] == "4" and rows[0][9] == "1.0 %" and rows[0][4] == "-0.50"
    assert rows[2][9] == "2.0 % ± 1.4" and rows[2][4] == "0.00 ± 0.71"
