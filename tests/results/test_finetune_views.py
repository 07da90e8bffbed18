"""Views transfer and truncation (ganlab/results/views/finetune.py) on hand-made records."""

from __future__ import annotations

import pytest

from ganlab.results import get_view


def record(run: str, metrics: dict, **extra) -> dict:
    return {"study": "s", "run": run, "command": "x", "commit": "c", "machine": "m", "date": "d", "metrics": metrics,
            "card": None, **extra}


def test_transfer_rows_are_mean_and_std_over_seeds_per_arm():
    records = [record(f"{arm}-s{s}", {"fid_test": fid, "precision_test": 0.5, "recall_test": 0.1 * s,
                                      "copy_share": 0.0, "ct": -1.0}, params={"arm": arm, "seed": s})
               for arm, fids in (("scratch", (200.0, 220.0, 240.0)), ("finetune", (10.0, 12.0, 14.0)))
               for s, fid in enumerate(fids)]
    records.append(record("pretrained-s0", {"fid_test": 190.0}, params={"arm": "pretrained", "seed": 0}))
    table = get_view("transfer")(records)
    assert [row[0] for row in table.rows] == ["pretrained on digits 0-4, not fine-tuned",
                                              "from scratch on the 500 images", "fine-tuned (`init_from`)"]
    assert table.rows[0][1:3] == [1, "190.0"] and table.rows[0][3] == "–"  # one run: its value, no spread
    assert table.rows[1][1:3] == [3, "220.0 ± 20.0"] and table.rows[2][2] == "12.0 ± 2.0"
    assert table.rows[2][4] == "0.100 ± 0.100"  # recall 0.0, 0.1, 0.2
    assert "fine-tuned (`init_from`) minus from scratch: -208.0" in table.notes[0]


def test_truncation_rows_follow_the_sweep():
    r = record("x_psi", {"psi=1/fid": 20.0, "psi=1/precision": 0.6, "psi=1/recall": 0.4, "psi=1/coverage": 0.7,
                         "psi=1/class_kl": 0.05, "psi=1/speckle_vs_real": 12.0,
                         "psi=0.5/fid": 40.0, "psi=0.5/precision": 0.9, "psi=0.5/recall": 0.1,
                         "psi=0.5/fid_test": 44.0, "psi=0.5/precision_test": 0.95, "psi=0.5/recall_test": 0.05},
               sweep={"key": "truncation.psi", "values": [1.0, 0.5]})
    table = get_view("truncation")([r])
    assert table.rows == [["`psi=1`", "20.0", "0.600", "0.400", "0.700", "–", "–", "–", "0.050", "12.0"],
                          ["`psi=0.5`", "40.0", "0.900", "0.100", "–", "44.0", "0.950", "0.050", "–", "–"]]
    assert table.header[1] == "FID (feature version not recorded) vs train"  # the record has no card
    with pytest.raises(ValueError, match="one sweep record per marker"):
        get_view("truncation")([r, r])
