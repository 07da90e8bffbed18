"""ganlab-compare on fake run directories: known scalars in, known tables, CSV and plots out."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab.cli.compare import find_runs, fmt, main

# val/fid at steps 100 and 200 per (loss, seed); all exact in float32, as TensorBoard stores them
FID = {
    ("hinge", 1): (50.5, 30.5),
    ("hinge", 2): (48.25, 32.75),
    ("hinge", 3): (52.0, 29.0),
    ("nonsaturating", 1): (60.0, 40.25),
    ("nonsaturating", 2): (44.0, 45.5),  # best is not final here
    ("nonsaturating", 3): (61.25, 38.0),
}
BATCH_SIZE = 64
WALL_SECONDS = 20.0  # first to last event


def make_run(run: Path, overrides: list[str], fid: tuple[float, ...]) -> Path:
    """A run directory as ganlab-train leaves it: event file, .hydra/overrides.yaml, .hydra/config.yaml."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(run / "tensorboard"))
    writer.add_scalar("train/d_loss", 1.0, global_step=0, walltime=1000.0)
    for i, value in enumerate(fid):
        step = 100 * (i + 1)
        writer.add_scalar("train/d_loss", 0.5, global_step=step, walltime=1000.0 + step / 10)
        writer.add_scalar("val/fid", value, global_step=step, walltime=1000.0 + step / 10)
        writer.add_scalar("val/eval_seconds", 3.0, global_step=step, walltime=1000.0 + step / 10)
    writer.close()
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run / ".hydra" / "config.yaml").write_text(f"dataset:\n  name: mnist5k\n  batch_size: {BATCH_SIZE}\n")
    return run


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A multirun-like sweep: 2 losses x 3 seeds, runs at different depths, one shared and one hydra override."""
    root = tmp_path_factory.mktemp("multirun") / "2026-11-27" / "10-00-00"
    for i, ((loss, seed), fid) in enumerate(FID.items()):
        run = root / (str(i) if i % 2 else f"nested/{i}")
        make_run(run, [f"loss={loss}", f"seed={seed}", "trainer.max_steps=200", f"hydra.job.num={i}"], fid)
    return root


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open() as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_finds_all_runs(sweep: Path) -> None:
    assert len(find_runs([sweep])) == 6
    assert find_runs([next(iter(find_runs([sweep])))]) == find_runs([sweep])[:1]  # a run dir itself


def test_grouped_table_over_seeds(sweep: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "table.csv"
    assert main([str(sweep), "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out.split("wrote")[0]  # the table, not the CSV path after it
    assert "2 groups of 6 runs" in out
    assert "seed" not in out and "max_steps" not in out and "hydra" not in out and "eval_seconds" not in out

    header, rows = read_csv(out_csv)
    assert header == [
        "loss", "n",
        "val/fid_best_mean", "val/fid_best_std", "val/fid_final_mean", "val/fid_final_std",
        "steps_mean", "steps_std", "wall_s_mean", "wall_s_std", "images/s_mean", "images/s_std",
    ]  # fmt: skip
    assert [r["loss"] for r in rows] == ["hinge", "nonsaturating"]
    for row in rows:
        fids = [v for (loss, _), v in FID.items() if loss == row["loss"]]
        best, final = [min(v) for v in fids], [v[-1] for v in fids]
        assert row["n"] == "3"
        for column, values in (("val/fid_best", best), ("val/fid_final", final)):
            mean, std = statistics.mean(values), statistics.stdev(values)
            assert float(row[f"{column}_mean"]) == pytest.approx(mean, rel=1e-12)
            assert float(row[f"{column}_std"]) == pytest.approx(std, rel=1e-12)
            assert f"{fmt(mean)} ± {fmt(std)} (3)" in out
        assert float(row["steps_mean"]) == 200
        assert float(row["wall_s_mean"]) == pytest.approx(WALL_SECONDS)
        assert float(row["images/s_mean"]) == pytest.approx(200 * BATCH_SIZE / WALL_SECONDS)


def test_per_run_table_sorted(sweep: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "runs.csv"
    assert main([str(sweep), "--runs", "--sort", "val/fid_final", "--csv", str(out_csv)]) == 0
    assert "6 runs" in capsys.readouterr().out
    header, rows = read_csv(out_csv)
    assert header[:3] == ["run", "loss", "seed"] and "val/fid_best" in header
    finals = [float(r["val/fid_final"]) for r in rows]
    assert finals == sorted(v[-1] for v in FID.values())
    assert {r["run"] for r in rows} >= {"1", "nested/0"}  # relative to the sweep directory


def test_filter(sweep: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "hinge.csv"
    assert main([str(sweep), "--filter", "loss=hinge", "--csv", str(out_csv)]) == 0
    assert "nonsaturating" not in capsys.readouterr().out
    header, rows = read_csv(out_csv)
    assert "loss" not in header  # the same for every run left
    assert len(rows) == 1 and rows[0]["n"] == "3"
    hinge_best = [min(v) for (loss, _), v in FID.items() if loss == "hinge"]
    assert float(rows[0]["val/fid_best_mean"]) == pytest.approx(statistics.mean(hinge_best))


def test_plot(sweep: Path, tmp_path: Path, capsys) -> None:
    assert main([str(sweep), "--plot", "val/fid", "--out", str(tmp_path / "plots")]) == 0
    png = tmp_path / "plots" / "val_fid.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([str(sweep), "--plot", "val/nope", "--out", str(tmp_path)]) == 2
    assert "val/nope" in capsys.readouterr().err


def test_errors_are_one_line(sweep: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("ganlab-compare: error: no runs") and str(tmp_path / "empty") in captured.err
    assert main([str(sweep), "--sort", "val/nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_metrics_json_adds_eval_columns(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run", ["loss=hinge"], (50.0, 40.0))
    evaluations = [{"metrics": {"fid": 30.0}, "card": {}}, {"metrics": {"fid": 24.5, "kid_subsets": 100}, "card": {}}]
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "metrics.json").write_text(json.dumps({"evaluations": evaluations}))
    out_csv = tmp_path / "eval.csv"
    assert main([str(run), "--csv", str(out_csv)]) == 0
    assert "1 run under" in capsys.readouterr().out
    header, rows = read_csv(out_csv)
    assert "eval/fid" in header and "eval/kid_subsets" not in header  # the last evaluation; no protocol settings
    assert float(rows[0]["eval/fid"]) == 24.5 and rows[0]["run"] == "run"


def test_console_script(sweep: Path) -> None:
    script = Path(sys.executable).parent / "ganlab-compare"
    result = subprocess.run([str(script), str(sweep)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 groups of 6 runs" in result.stdout


def test_logged_best_tags_are_not_repeated(tmp_path, capsys):
    from torch.utils.tensorboard import SummaryWriter

    from ganlab.cli.compare import main

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    (run / ".hydra" / "config.yaml").write_text("dataset:\n  batch_size: 4\n")
    writer = SummaryWriter(log_dir=str(run / "tensorboard"))
    for step, value in ((1, 5.0), (2, 3.0)):
        writer.add_scalar("val/fid", value, step)
        writer.add_scalar("val/fid_best", min(5.0, value), step)
    writer.close()
    assert main([str(tmp_path), "--runs", "--csv", str(tmp_path / "t.csv")]) in (0, None)
    header = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert "val/fid_best" in header and "val/fid_best_final" not in header and "val/fid_best_best" not in header
