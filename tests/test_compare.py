"""ganlab-compare on fake run directories: known scalars in, known tables, statuses, CSV, plots and reports out."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganlab.cli.compare import main
from ganlab.runs.read import find_runs
from ganlab.runs.table import fmt

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
CONFIG = """dataset:
  name: mnist5k
  batch_size: {batch_size}
  feature:
    _target_: ganlab.metrics.extractors.digits.DigitFeatures
    weights: null
    version: v2
trainer:
  max_steps: {max_steps}
metrics:
  num_samples: {num_samples}
  callbacks:
    evaluation:
      metrics:
        features:
          feature: ${{dataset.feature}}
          max_real: null
"""


def make_run(run: Path, overrides: list[str], fid: tuple[float, ...] = (), *, max_steps: int | None = None,
             train_to: int | None = None, scalars: dict[str, dict[int, float]] | None = None, num_samples: int = 2000,
             grids: tuple[int, ...] = (), age_s: float | None = None) -> Path:
    """A run directory as ganlab-train leaves it: event file, .hydra/overrides.yaml, .hydra/config.yaml.

    ``fid``: val/fid at steps 100, 200, ...; train/d_loss at 0, at those steps and at ``train_to``;
    ``max_steps`` defaults to the last of those (a finished run); ``grids``: steps of sample-grid PNGs;
    ``age_s``: every file's mtime set that far back (a run that stopped writing).
    """
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(run / "tensorboard"))
    writer.add_scalar("train/d_loss", 1.0, global_step=0, walltime=1000.0)
    for i, value in enumerate(fid):
        step = 100 * (i + 1)
        writer.add_scalar("train/d_loss", 0.5, global_step=step, walltime=1000.0 + step / 10)
        writer.add_scalar("val/fid", value, global_step=step, walltime=1000.0 + step / 10)
        writer.add_scalar("val/eval_seconds", 3.0, global_step=step, walltime=1000.0 + step / 10)
    if train_to is not None:
        writer.add_scalar("train/d_loss", 0.4, global_step=train_to, walltime=1000.0 + train_to / 10)
    for tag, points in (scalars or {}).items():
        for step, value in points.items():
            writer.add_scalar(tag, value, global_step=step, walltime=1000.0 + step / 10)
    writer.close()
    last = max([100 * len(fid), train_to or 0, *[max(p) for p in (scalars or {}).values()]])
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run / ".hydra" / "config.yaml").write_text(CONFIG.format(batch_size=BATCH_SIZE, num_samples=num_samples,
                                                              max_steps=last if max_steps is None else max_steps))
    for i, step in enumerate(grids):
        (run / "samples").mkdir(exist_ok=True)
        Image.new("RGB", (10, 10), (20 * i, 200, 30)).save(run / "samples" / f"samples_{step:07d}.png")
    if age_s is not None:
        backdate(run, age_s)
    return run


def backdate(run: Path, age_s: float) -> None:
    """Every file of the run last written ``age_s`` seconds ago."""
    then = time.time() - age_s
    for path in run.rglob("*"):
        os.utime(path, (then, then))


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


def table_lines(out: str) -> list[str]:
    """The lines rich drew the table with (borders and rows)."""
    return [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]


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
        "loss", "n", "status", "steps_mean", "steps_std", "verdict",
        "val/fid_best_mean", "val/fid_best_std", "val/fid_final_mean", "val/fid_final_std",
        "wall_s_mean", "wall_s_std", "images/s_mean", "images/s_std",
    ]  # fmt: skip
    assert [r["loss"] for r in rows] == ["hinge", "nonsaturating"]
    for row in rows:
        fids = [v for (loss, _), v in FID.items() if loss == row["loss"]]
        best, final = [min(v) for v in fids], [v[-1] for v in fids]
        assert row["n"] == "3" and row["status"] == "finished" and row["verdict"] == "-"
        for column, values in (("val/fid_best", best), ("val/fid_final", final)):
            mean, std = statistics.mean(values), statistics.stdev(values)
            assert float(row[f"{column}_mean"]) == pytest.approx(mean, rel=1e-12)
            assert float(row[f"{column}_std"]) == pytest.approx(std, rel=1e-12)
            assert f"{fmt(mean)} ± {std:.2g} │" in out  # all 3 runs have it: no (count)
        assert float(row["steps_mean"]) == 200
        assert float(row["wall_s_mean"]) == pytest.approx(WALL_SECONDS)
        assert float(row["images/s_mean"]) == pytest.approx(200 * BATCH_SIZE / WALL_SECONDS)


def test_per_run_table_sorted(sweep: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "runs.csv"
    assert main([str(sweep), "--runs", "--sort", "fid", "--csv", str(out_csv)]) == 0  # a header names its column
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


def test_plot_has_one_legend_entry_per_group_with_its_mean(sweep: Path, tmp_path: Path, capsys) -> None:
    assert main([str(sweep), "--plot", "val/fid", "--out", str(tmp_path / "plots")]) == 0
    png = tmp_path / "plots" / "val_fid.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([str(sweep), "--plot", "val/nope", "--out", str(tmp_path)]) == 2
    assert "val/nope" in capsys.readouterr().err

    from ganlab.runs.read import read_run
    from ganlab.runs.report import figure

    runs = [read_run(p) for p in find_runs([sweep])]
    groups = {f"loss={loss}": [r for r in runs if r.overrides["loss"] == loss] for loss in ("hinge", "nonsaturating")}
    ax = figure("val/fid", groups).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss=hinge (n=3)", "loss=nonsaturating (n=3)"]
    for line, loss in zip(ax.get_lines(), ("hinge", "nonsaturating"), strict=True):
        runs_fid = [v for (name, _), v in FID.items() if name == loss]
        assert list(line.get_xdata()) == [100, 200]
        assert list(line.get_ydata()) == pytest.approx([statistics.mean(v[i] for v in runs_fid) for i in (0, 1)])


def test_errors_are_one_line(sweep: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("ganlab-compare: error: no runs") and str(tmp_path / "empty") in captured.err
    assert main([str(sweep), "--sort", "val/nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main([str(sweep), "--html", str(tmp_path)]) == 2  # a folder, before any work
    assert capsys.readouterr().err.startswith(f"ganlab-compare: error: --html {tmp_path} is a folder")


def test_metrics_json_adds_eval_columns_and_its_protocol(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run", ["loss=hinge"], (50.0, 40.0))
    card = {"feature": {"name": "digits", "version": "v2", "sha256": "0123456789abcdef"}, "num_generated": 10000,
            "real": {"num_images": 5000, "dataset": "mnist5k", "split": "train"}}
    evaluations = [{"metrics": {"fid": 30.0}, "card": {}},
                   {"metrics": {"fid": 24.5, "kid": 0.5, "kid_std": 0.01, "kid_subsets": 100}, "card": card}]
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "metrics.json").write_text(json.dumps({"evaluations": evaluations}))
    out_csv = tmp_path / "eval.csv"
    assert main([str(run), "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "1 run under" in out
    header, rows = read_csv(out_csv)
    assert "eval/fid" in header and "eval/kid_subsets" not in header  # the last evaluation; no protocol settings
    assert float(rows[0]["eval/fid"]) == 24.5 and rows[0]["run"] == "run"
    protocol = " ".join(out.split("protocol of eval/*: ")[1].split())
    assert protocol.startswith("features digits v2 (sha256 0123456789ab); samples 10000; real 5000 mnist5k (train)")
    assert "kid_subsets 100" in protocol


def test_console_script(sweep: Path) -> None:
    script = Path(sys.executable).parent / "ganlab-compare"
    result = subprocess.run([str(script), str(sweep)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 groups of 6 runs" in result.stdout


def test_logged_best_tags_are_not_repeated(tmp_path, capsys):
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    (run / ".hydra" / "config.yaml").write_text("dataset:\n  batch_size: 4\n")
    writer = SummaryWriter(log_dir=str(run / "tensorboard"))
    for step, value in ((1, 5.0), (2, 3.0)):
        writer.add_scalar("val/fid", value, step)
        writer.add_scalar("val/fid_best", min(5.0, value), step)
    writer.close()
    assert main([str(tmp_path), "--runs", "--csv", str(tmp_path / "t.csv")]) == 0
    header = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert "val/fid_best" in header and "val/fid_best_final" not in header and "val/fid_best_best" not in header


# ------------------------------------------------------------------ mixed runs: width, protocol, status
KID_PRDC = {tag: {100: v, 200: v} for tag, v in {
    "val/kid": 0.021, "val/kid_std": 0.002, "val/kid_subsets": 100.0, "val/kid_subset_size": 1000.0,
    "val/precision": 0.61, "val/recall": 0.42, "val/density": 0.88, "val/coverage": 0.51, "val/prdc_k_pr": 3.0,
    "val/prdc_k_dc": 5.0, "val/is": 8.1, "val/is_std": 0.1, "val/is_splits": 10.0, "val/class_kl": 0.2,
    "val/classes_covered": 10.0, "val/confidence": 0.97}.items()}
TOY = {"val/modes": {100: 12.0, 200: 21.0}, "val/high_quality": {100: 55.0, 200: 71.5},
       "val/reverse_kl": {100: 0.9, 200: 0.31}}
OPTUNA = ["optim.g.lr=0.000167568138614885", "optim.d.lr=0.0002", "optim.beta1=0.0", "optim.beta2=0.9",
          "game.n_critic=1"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Runs of different presets, metric sets and sweeps, as a user's outputs/ and multirun/ folders hold them."""
    root = tmp_path_factory.mktemp("mixed")
    make_run(root / "outputs/2026-12-01/10-00-00", ["debug=fast"], (80.0, 60.0),
             scalars={"val/class_kl": {100: 0.5, 200: 0.25}, "val/classes_covered": {100: 8.0, 200: 10.0}})
    make_run(root / "outputs/2026-12-01/10-05-00",
             ["experiment=dcgan_mnist5k", "metrics.callbacks.evaluation.metrics.features.metrics=[fid,kid,prdc,is]",
              "trainer.max_steps=200", "callbacks.model_checkpoint.snapshot_every_n_steps=100"],
             (70.0, 40.0), scalars=KID_PRDC)
    make_run(root / "outputs/2026-12-01/10-09-00", ["experiment=veegan_gan_grid", "dataset=grid", "metrics=modes"],
             train_to=200, scalars=TOY, num_samples=2500)
    for i, seed in enumerate((0, 1)):
        name = f"{i}_" + ",".join(OPTUNA) + f",seed={seed}"
        make_run(root / "multirun/2026-12-01/11-00-00" / name, [*OPTUNA, f"seed={seed}", "sweep=optuna"],
                 (90.0 - i, 55.0 + i))
    return root


def test_default_table_fits_120_columns_and_wide_shows_every_column(mixed: Path, tmp_path: Path, capsys) -> None:
    for grouping in ([], ["--runs"]):
        assert main([str(mixed), *grouping]) == 0
        out = capsys.readouterr().out
        assert max(len(line) for line in out.splitlines()) <= 120, out
        header = " ".join(table_lines(out)[:3])
        assert all(h in header for h in ("status", "steps", "fid", "modes")), header
    assert main([str(mixed), "--runs", "--width", "80"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 80

    assert main([str(mixed), "--runs", "--wide", "--csv", str(tmp_path / "wide.csv")]) == 0
    wide = capsys.readouterr().out
    assert max(len(line) for line in table_lines(wide)) > 300
    assert "snapshot_every_n_steps" in wide and "0.000167568138614885" in wide  # full keys and values
    header, _ = read_csv(tmp_path / "wide.csv")  # the CSV has every column, whatever the table shows
    assert {"val/kid_std_final", "val/coverage_best", "images/s", "reason", "optim.g.lr"} <= set(header)


def test_protocol_settings_are_not_metric_columns(mixed: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "mixed.csv"
    assert main([str(mixed), "--runs", "--wide", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    header, _ = read_csv(out_csv)
    for setting in ("prdc_k_pr", "prdc_k_dc", "kid_subsets", "kid_subset_size", "is_splits", "eval_seconds"):
        assert not [c for c in header if setting in c], setting
        assert setting not in "\n".join(table_lines(out)), setting
    assert {"val/kid_final", "val/precision_best", "val/modes_best", "val/reverse_kl_best"} <= set(header)
    protocol = " ".join(out.split("protocol of val/*: ")[1].split())
    for text in ("features DigitFeatures v2", "real all training images", "kid_subsets 100", "prdc_k_pr 3"):
        assert text in protocol, text
    # two numbers of samples: the line says which runs used which and that they are not comparable
    assert "samples 2000 (4 runs) / 2500 (outputs/2026-12-01/10-09-00)" in protocol
    assert "Protocols differ in samples" in protocol


@pytest.fixture(scope="module")
def states(tmp_path_factory) -> Path:
    """One run of each status, with known last trained steps."""
    import torch

    root = tmp_path_factory.mktemp("states")
    make_run(root / "finished", ["seed=1"], (50.0, 40.0), grids=(100, 200))
    crashed = make_run(root / "crashed", ["seed=2"], (50.0,), max_steps=1000, train_to=150, grids=(100,), age_s=7200)
    (crashed / "failed.json").write_text(json.dumps({"status": "failed", "error": "TrainingDiverged",
                                                     "message": "training diverged at step 150"}))
    # killed by the machine: scalars to 740, evaluations to 500, last.ckpt at 760 (written after the last log)
    killed = make_run(root / "killed", ["seed=3"], (50.0, 45.0, 44.0, 43.0, 42.0), max_steps=1000, train_to=740)
    (killed / "checkpoints").mkdir()
    torch.save({"global_step": 760, "state_dict": {}}, killed / "checkpoints" / "last.ckpt")
    backdate(killed, 7200)
    stopped = make_run(root / "stopped", ["seed=4"], (50.0, 70.0), max_steps=1000, age_s=600)
    (stopped / "health.json").write_text(json.dumps({
        "version": 1, "verdict": "unhealthy", "problems": ["mode_collapse", "stalled_quality"],
        "stopped_by": {"detector": "mode_collapse", "step": 200, "message": "2 of 10 classes"}, "last_step": 200,
        "settings": {}, "alerts": [], "signals": {}}))
    make_run(root / "running", ["seed=5"], (50.0,), max_steps=1000, train_to=130)  # written just now
    healthy = make_run(root / "healthy", ["seed=6"], (50.0, 40.0))
    (healthy / "health.json").write_text(json.dumps({"version": 1, "verdict": "healthy", "problems": [],
                                                     "stopped_by": None, "last_step": 200}))
    return root


def test_status_steps_and_verdict_of_each_run(states: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "states.csv"
    assert main([str(states), "--runs", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    rows = {r["run"]: r for r in read_csv(out_csv)[1]}
    expected = {  # run: (status, last trained step, verdict)
        "finished": ("finished", 200, "-"),
        "crashed": ("crashed", 150, "-"),
        "killed": ("crashed", 760, "-"),  # not 500 (its last evaluation) nor 740 (its last logged scalar)
        "stopped": ("stopped-by-alert", 200, "mode_collapse,stalled_quality"),
        "running": ("running", 130, "-"),
        "healthy": ("finished", 200, "healthy"),
    }
    assert {run: (r["status"], int(r["steps"]), r["verdict"]) for run, r in rows.items()} == expected
    assert rows["crashed"]["reason"] == "TrainingDiverged: training diverged at step 150"
    assert rows["killed"]["reason"].startswith("ended at step 760 of 1000 without an error record, 2.0 h ago")
    assert rows["stopped"]["reason"] == "mode_collapse at step 200: 2 of 10 classes"
    assert rows["running"]["reason"].startswith("at step 130 of 1000, last write")
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in table_lines(out) if line.startswith("│")}
    assert {run: (status, str(steps), verdict) for run, (status, steps, verdict) in expected.items()} == {
        run: (c[1], c[2], c[3]) for run, c in cells.items()}  # run │ seed │ status │ steps │ verdict │ ...
    assert "verdict" in " ".join(table_lines(out)[:3])


def test_failed_run_that_was_resumed_is_not_crashed(tmp_path: Path) -> None:
    import torch

    from ganlab.runs.read import read_run

    run = make_run(tmp_path / "run", [], (50.0, 40.0), max_steps=400)
    (run / "failed.json").write_text(json.dumps({"error": "RuntimeError", "message": "x"}))
    backdate(run, 3600)  # the failure an hour ago; since then a resume in place wrote last.ckpt
    (run / "checkpoints").mkdir()
    torch.save({"global_step": 300}, run / "checkpoints" / "last.ckpt")
    status = read_run(run).status
    assert status.name == "running" and status.reason.startswith("at step 300 of 400")


def test_a_resumed_run_is_judged_by_its_newest_config(tmp_path: Path) -> None:
    from ganlab.runs.read import read_run

    run = make_run(tmp_path / "run", ["loss=hinge", "trainer.max_steps=200"], (50.0, 40.0), train_to=300)
    resume = run / ".hydra" / "resume_1"  # ganlab-train resume=auto trainer.max_steps=400 continued it in place
    resume.mkdir()
    (resume / "overrides.yaml").write_text("- loss=hinge\n- trainer.max_steps=400\n- resume=auto\n")
    (resume / "config.yaml").write_text(CONFIG.format(batch_size=BATCH_SIZE, num_samples=2000, max_steps=400))
    backdate(run, 3600)
    result = read_run(run)
    assert result.max_steps == 400 and result.steps == 300 and result.status.name == "crashed"
    assert result.overrides == {"loss": "hinge", "trainer.max_steps": "400"}  # resume=auto configures nothing


def test_html_report_has_table_curves_and_each_runs_last_grid(states: Path, tmp_path: Path, capsys) -> None:
    import numpy as np
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    toy = make_run(tmp_path / "runs" / "toy", ["seed=9"], scalars=TOY)  # no PNGs: the grid comes from the events
    writer = SummaryWriter(log_dir=str(toy / "tensorboard"))
    writer.add_image("modes", np.full((3, 6, 9), 0.5, dtype=np.float32), global_step=200)
    writer.close()
    report = tmp_path / "out" / "report.html"
    assert main([str(states), str(toy), "--runs", "--html", str(report)]) == 0
    parent = Path(os.path.commonpath([states, toy]))
    label = {run: str((states / run).relative_to(parent)) for run in ("finished", "crashed", "stopped", "killed")}
    page = report.read_text()
    assert f"wrote {report}" in capsys.readouterr().out
    images = {alt: base64.b64decode(data) for data, alt in
              re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page)}
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched
    for tag in ("val/fid", "train/d_loss"):
        assert images[f"curve of {tag}"][:8] == b"\x89PNG\r\n\x1a\n", tag
    # the table: every run with its status
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<table>")[1].split("</table>")[0])
    for run, status in (("crashed", "crashed"), ("stopped", "stopped-by-alert"), ("finished", "finished")):
        row = next(r for r in rows if f">{label[run]}</td>" in r)
        assert re.search(rf'<span class="status [a-z]+"[^>]*>{status}</span>', row), row
    # each run's newest grid, byte for byte; runs without one say so
    finished, crashed = images[f"samples of {label['finished']}"], images[f"samples of {label['crashed']}"]
    assert finished == (states / "finished/samples/samples_0000200.png").read_bytes()
    assert crashed == (states / "crashed/samples/samples_0000100.png").read_bytes()
    assert Image.open(io.BytesIO(images[f"samples of {toy.relative_to(parent)}"])).size == (9, 6)
    assert f"samples of {label['killed']}" not in images and page.count("no sample grid") == 4
