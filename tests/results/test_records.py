"""Results records: write_record fills commit, machine and date; reading validates and skips tools' reports."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from ganlab.results import RecordError, read_records, write_record
from ganlab.results.records import command_line

REPO = Path(__file__).resolve().parents[2]


def test_write_record_fills_commit_machine_and_date(tmp_path):
    path = write_record("zoo_v2-cpu", "dragan-s0", {"fid": 9.8, "class_kl": None, "diverged": float("inf")},
                        command="python scripts/zoo_compare.py --only dragan", card={"feature": "digits v2"},
                        params={"seed": 0}, root=tmp_path, published={"fid": 8.9})
    assert path == tmp_path / "zoo_v2-cpu" / "dragan-s0.json"
    rec = json.loads(path.read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert rec["commit"] == head
    assert rec["machine"].startswith("cpu-") or "x" in rec["machine"].split(",")[0]
    assert abs(dt.datetime.fromisoformat(rec["date"]) - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert rec["metrics"] == {"fid": 9.8, "class_kl": None, "diverged": None}  # inf is not JSON: stored as null
    assert (rec["study"], rec["run"], rec["card"], rec["params"], rec["published"]) == (
        "zoo_v2-cpu", "dragan-s0", {"feature": "digits v2"}, {"seed": 0}, {"fid": 8.9})
    assert [r["run"] for r in read_records(tmp_path / "zoo_v2-cpu")] == ["dragan-s0"]


def test_an_existing_record_is_not_overwritten(tmp_path):
    write_record("s", "r", {"fid": 1.0}, command="x", root=tmp_path)
    with pytest.raises(RecordError, match="already exists"):
        write_record("s", "r", {"fid": 2.0}, command="x", root=tmp_path)
    assert json.loads((tmp_path / "s" / "r.json").read_text())["metrics"]["fid"] == 1.0
    write_record("s", "r", {"fid": 2.0}, command="x", root=tmp_path, overwrite=True)
    assert json.loads((tmp_path / "s" / "r.json").read_text())["metrics"]["fid"] == 2.0


@pytest.mark.parametrize("metrics,match", [({"fid": "7.1"}, "metrics.fid is '7.1'"), ({"ok": True}, "metrics.ok")])
def test_a_metric_must_be_a_number(tmp_path, metrics, match):
    with pytest.raises(RecordError, match=match):
        write_record("s", "r", metrics, command="x", root=tmp_path)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("study,run", [("../up", "r"), ("s", "a/b"), ("/abs", "r")])
def test_names_stay_inside_the_root(tmp_path, study, run):
    with pytest.raises(RecordError, match="relative folder name"):
        write_record(study, run, {}, command="x", root=tmp_path)


def test_reading_skips_tool_reports_and_names_a_bad_record(tmp_path):
    write_record("s", "a", {"fid": 1.0}, command="x", root=tmp_path)
    (tmp_path / "s" / "reproduce.json").write_text(json.dumps({"veegan_gan_ring": {"rows": []}}))
    assert [r["run"] for r in read_records(tmp_path / "s", base=tmp_path)] == ["a"]
    assert read_records(tmp_path / "s", base=tmp_path)[0]["_file"] == "s/a.json"
    bad = {"study": "s", "run": "b", "metrics": {"fid": 1.0}}  # a record without command, commit, ...
    (tmp_path / "s" / "b.json").write_text(json.dumps(bad))
    with pytest.raises(RecordError) as e:
        read_records(tmp_path / "s")
    assert "b.json: missing key(s) command, commit, machine, date, card" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(RecordError, match="no such results file"):
        read_records(tmp_path / "nothing")


def test_command_line_names_the_tool_not_the_venv_path():
    assert command_line(["/venv/bin/ganlab-eval", "ckpt=a b.ckpt"]) == "ganlab-eval 'ckpt=a b.ckpt'"
    assert command_line(["scripts/zoo_compare.py", "--steps", "1500"]) == "python scripts/zoo_compare.py --steps 1500"
    main = str(REPO / "ganlab" / "results" / "__main__.py")
    assert command_line([main, "check"]) == "python -m ganlab.results check"
