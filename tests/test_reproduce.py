"""ganlab-reproduce: a 2-seed reduced-budget run writes the tables; agreement arithmetic; errors."""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO

from ganlab.cli.reproduce import Row, main
from ganlab.runs.read import read_run

SMALL = ["--set", "dataset.source.n=5000", "metrics.num_samples=500", "metrics.batch_size=500"]


@pytest.fixture
def tests_on_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")


@pytest.mark.slow  # two training runs; the refusals and the agreement rule below run by default
def test_reduced_two_seed_run_writes_tables_and_reuses_finished_seeds(tmp_path, tests_on_path, capsys):
    args = ["veegan_gan_ring", "--budget", "20", "--jobs", "2", "--out", str(tmp_path), *SMALL]
    assert main([*args, "--seeds", "2"]) == 0
    out = tmp_path / "budget20" / "veegan_gan_ring"
    md = (out / "reproduce.md").read_text()
    assert "REDUCED BUDGET" in md and "20 of the protocol's 25,000 steps" in md
    report = json.loads((out / "reproduce.json").read_text())
    assert report["reduced"] and report["budget"] == 20 and report["protocol_steps"] == 25000
    rows = {r["metric"]: r for r in report["rows"]}
    assert list(rows)[:2] == ["modes", "high_quality"]  # the published numbers first, then reverse KL
    assert rows["modes"]["published"] == 1.0 and rows["high_quality"]["published"] == 99.3
    assert rows["modes"]["n"] == 2 and 0 <= rows["modes"]["mean"] <= 8
    assert "reverse_kl" in rows and rows["reverse_kl"]["published"] is None
    assert {r["seed"] for r in report["runs"]} == {0, 1} and all(r["steps"] == 20 for r in report["runs"])
    seed0 = (out / "seed0" / "reproduce_run.json").stat().st_mtime_ns
    # one more seed: the two finished runs are reused, not retrained or overwritten
    assert main([*args, "--seeds", "3"]) == 0
    assert (out / "seed0" / "reproduce_run.json").stat().st_mtime_ns == seed0
    report = json.loads((out / "reproduce.json").read_text())
    assert {r["seed"] for r in report["runs"]} == {0, 1, 2}
    assert "veegan_gan_ring seed 2: ok" in capsys.readouterr().out
    assert report["overrides"] == SMALL[1:] and f"- extra overrides: `{' '.join(SMALL[1:])}`" in md
    # the same seeds with other overrides are refused up front, before anything trains
    other = [*args[:-len(SMALL)], "--set", "dataset.source.n=6000", "--seeds", "4"]
    assert main(other) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"ganlab-reproduce: error: {out / 'seed0'} was trained with --set {' '.join(SMALL[1:])}, "
                   "not dataset.source.n=6000; use another --out or remove it")
    assert not (out / "seed3").exists()


def test_unfinished_seed_is_refused_and_left_as_it_is(tmp_path, capsys):
    seed0 = tmp_path / "veegan_gan_ring" / "seed0"
    seed0.mkdir(parents=True)
    (seed0 / "train.log").write_text("interrupted")
    assert main(["veegan_gan_ring", "--seeds", "2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"ganlab-reproduce: error: {seed0} exists but did not finish and holds no checkpoints/last.ckpt "
                   "to continue from; remove it to rerun that seed")
    assert (seed0 / "train.log").read_text() == "interrupted" and not (seed0.parent / "seed1").exists()


def test_unknown_preset_is_a_one_line_error(tmp_path, capsys):
    assert main(["no_such_preset", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganlab-reproduce: error: no preset conf/experiment/no_such_preset.yaml; valid:")
    assert "veegan_gan_ring" in err and len(err.splitlines()) == 1


def test_agreement_within_the_combined_error():
    row = Row("modes", published=11.0, published_error=None, mean=10.0, se=1.0, n=5)
    assert row.combined == 1.0 and row.agrees is True
    assert Row("modes", 12.0, None, 10.0, 1.0, 5).agrees is False
    both = Row("fid", 10.0, 3.0, 15.0, 4.0, 5)  # combined sqrt(3² + 4²) = 5
    assert both.combined == 5.0 and both.agrees is True
    assert Row("fid", 10.0, None, 15.0, None, 1).agrees is None  # one seed, no error bar: undecided


def test_chunked_ensembles_write_one_record_per_seed_and_resume(tmp_path, tests_on_path, monkeypatch):
    """--chunk 2 of 3 seeds: an ensemble of seeds 0-1 and a plain run of seed 2; --record writes their records."""
    monkeypatch.chdir(tmp_path)
    args = ["veegan_gan_ring", "--ensemble", "--chunk", "2", "--budget", "20", "--record", "chunks-cpu",
            "--out", "out", *SMALL, "metrics.every_n_steps=10"]
    assert main([*args[:1], "--seeds", "3", *args[1:]]) == 0
    run_dir = tmp_path / "out" / "budget20" / "veegan_gan_ring"
    assert sorted(p.name for p in run_dir.glob("ensemble*")) == ["ensemble-seeds0-1", "ensemble-seeds2-2"]
    members = json.loads((run_dir / "ensemble-seeds0-1" / "checkpoints" / "metrics.json").read_text())
    last = members["evaluations"][-1]["members"]
    records = [json.loads((tmp_path / "experiments/results/chunks-cpu" / f"veegan_gan_ring-s{s}.json").read_text())
               for s in range(3)]
    assert [r["params"]["seed"] for r in records] == [0, 1, 2]
    assert [r["params"]["ensemble"] for r in records] == [2, 2, 1]
    for record, member in zip(records[:2], last, strict=True):  # member k of the chunk starting at 0 is seed k
        assert record["metrics"]["modes"] == member["metrics"]["modes"]
        assert record["curves"]["modes"]["20"] == member["metrics"]["modes"] and set(record["curves"]["modes"]) == {
            "10", "20"}
    plain = read_run(run_dir / "ensemble-seeds2-2").curves["val/modes"]  # a one-seed chunk is a plain run
    assert records[2]["curves"]["modes"] == {str(k): v for k, v in sorted(plain.items())}
    assert records[0]["published"]["modes"] == 1.0 and records[0]["params"]["reduced"] is True
    # a call with one more seed trains only the new chunk (seed 3) and keeps the records already written
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.glob("ensemble*/reproduce_run.json")}
    written = (tmp_path / "experiments/results/chunks-cpu/veegan_gan_ring-s0.json").stat().st_mtime_ns
    assert main([*args[:1], "--seeds", "4", *args[1:]]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.glob("ensemble*/reproduce_run.json")
            if p.parent.name != "ensemble-seeds2-3"} == before
    assert (run_dir / "ensemble-seeds2-3").is_dir()
    assert (tmp_path / "experiments/results/chunks-cpu/veegan_gan_ring-s0.json").stat().st_mtime_ns == written
    assert (tmp_path / "experiments/results/chunks-cpu/veegan_gan_ring-s3.json").is_file()


def test_chunk_needs_an_ensemble(capsys):
    with pytest.raises(SystemExit):
        main(["veegan_gan_ring", "--chunk", "2"])
    assert "--chunk 2: valid with --ensemble, as an integer >= 1" in capsys.readouterr().err


def test_a_seed_stopped_part_way_continues_from_its_last_checkpoint(tmp_path, tests_on_path):
    """A seed directory with last.ckpt and no result (a run stopped at step 20 of 40) is continued, not refused."""
    import subprocess
    import sys

    run = tmp_path / "budget40" / "veegan_gan_ring" / "seed0"
    first = subprocess.run([sys.executable, "-m", "ganlab.cli.train", "experiment=veegan_gan_ring", "seed=0",
                            f"hydra.run.dir={run}", "trainer.max_steps=20", "metrics.every_n_steps=20",
                            "~callbacks.progress_bar", *SMALL[1:]], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    (run / "train.log").write_text("the first part\n")
    # continuing it under another --set is refused before anything trains, and nothing is changed
    assert main(["veegan_gan_ring", "--seeds", "1", "--budget", "40", "--out", str(tmp_path), *SMALL,
                 "loss=hinge"]) == 2
    assert (run / "train.log").read_text() == "the first part\n"
    assert main(["veegan_gan_ring", "--seeds", "1", "--budget", "40", "--out", str(tmp_path), *SMALL]) == 0
    log = (run / "train.log").read_text()
    assert log.startswith("the first part\n") and "resuming at step 20 of 40" in log
    result = json.loads((run / "reproduce_run.json").read_text())
    assert result["ok"] and result["steps"] == 40
    assert set(read_run(run).curves["val/modes"]) == {20, 40}  # the first part's evaluation and the second's
