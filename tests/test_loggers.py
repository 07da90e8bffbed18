"""logger=[tensorboard,csv,mlflow,wandb]: the same scalars, hyperparameters, alerts and final values in every backend
(and the same images where a backend holds images), read back offline; a resumed run continues the same MLflow and
W&B runs; ganlab-compare reads CSV runs; unknown or missing loggers are one-line errors."""

from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY, TINY_MLP, cli_env

from ganlab.cli.train import train
from ganlab.config import ConfigError
from ganlab.loggers import check_installed, check_names

ALL = "logger=[tensorboard,csv,mlflow,wandb]"
# an alert at the first health check (step 2): r_t >= -1 always holds
ALERT = ["health.every_n_steps=2", "health.detectors.discriminator_overfitting.rt_max=-1.0",
         "health.detectors.discriminator_overfitting.patience=1"]
NOT_TAGS = {"wall_time", "trainer/global_step", "epoch", "step"}  # bookkeeping columns, not logged tags


# ------------------------------------------------------------------ reading each backend back, offline
def tensorboard(run: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    scalars = {t: {e.step: e.value for e in acc.Scalars(t)} for t in acc.Tags()["scalars"]}
    texts = {t: [e.tensor_proto.string_val[0].decode() for e in acc.Tensors(t)] for t in acc.Tags()["tensors"]
             if t.endswith("/text_summary")}
    data = plugin_data_pb2.HParamsPluginData.FromString(
        acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content)
    hparams = {k: v.string_value or (v.number_value if v.HasField("number_value") else v.bool_value)
               for k, v in data.session_start_info.hparams.items()}
    return {"scalars": scalars, "images": set(acc.Tags()["images"]), "texts": texts, "hparams": hparams}


def csv_logger(run: Path) -> dict:
    scalars: dict[str, dict[int, float]] = {}
    with (run / "csv" / "metrics.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            for tag, cell in row.items():
                if cell not in ("", None) and tag not in NOT_TAGS:
                    scalars.setdefault(tag, {})[int(row["step"])] = float(cell)
    text = run / "csv" / "text.csv"  # written at the first text entry (a health alert)
    texts = list(csv.DictReader(text.open(newline=""))) if text.is_file() else []
    return {"scalars": scalars, "texts": texts, "hparams": yaml.safe_load((run / "csv" / "hparams.yaml").read_text()),
            "config": yaml.safe_load((run / "csv" / "config.yaml").read_text())}


def mlflow_logger(run: Path) -> dict:
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # as ganlab's logger sets it: MLflow 3 asks for it
    ids = json.loads((run / "loggers.json").read_text())["mlflow"]
    client = MlflowClient(ids["tracking_uri"])
    info = client.get_run(ids["run_id"])
    scalars = {tag: {m.step: m.value for m in client.get_metric_history(ids["run_id"], tag)}
               for tag in info.data.metrics}

    def files(path: str = "") -> list[str]:
        out = []
        for item in client.list_artifacts(ids["run_id"], path):
            out += files(item.path) if item.is_dir else [item.path]
        return out

    runs = client.search_runs([info.info.experiment_id])
    return {"scalars": scalars, "latest": dict(info.data.metrics), "params": dict(info.data.params),
            "files": files(), "run_id": ids["run_id"], "runs": len(runs), "status": info.info.status,
            "client": client}


def wandb_records(path: Path) -> list:
    """The protobuf records of a W&B run file (LevelDB log format: 32 KiB blocks of CRC, length, type, data)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, records, parts = path.read_bytes(), 7, [], b""  # 7: the ":W&B" header, magic and version
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        length, kind = struct.unpack("<HB", data[pos + 4: pos + 7])
        parts += data[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
        elif kind == 0:
            break
    return records


def wandb_logger(run: Path) -> dict:
    out = {"scalars": {}, "config": {}, "summary": {}, "ids": [], "history_keys": set(), "media": []}
    for folder in sorted((run / "wandb").glob("offline-run-*")):
        (file,) = folder.glob("run-*.wandb")
        for record in wandb_records(file):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                out["ids"].append(record.run.run_id)
            elif kind == "config":
                out["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
            elif kind == "summary":
                out["summary"].update({u.key or "/".join(u.nested_key): json.loads(u.value_json)
                                       for u in record.summary.update})
            elif kind == "history":
                items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                # a media entry (image, html) is a nested record with a _type field: not a scalar
                media = {k.rsplit("/", 1)[0] for k in items if k.endswith("/_type")}
                out["history_keys"] |= set(items)
                step = items.get("trainer/global_step")
                for key, value in items.items():
                    scalar = isinstance(value, (int, float)) and not key.startswith("_") and key not in NOT_TAGS
                    if scalar and step is not None and not any(key.startswith(f"{m}/") for m in media):
                        out["scalars"].setdefault(key, {})[int(step)] = float(value)
        out["media"] += [p.relative_to(folder / "files" / "media").as_posix()
                         for p in (folder / "files" / "media").rglob("*") if p.is_file()]
    return out


def wandb_env(folder: Path) -> dict[str, str]:
    """W&B's own folders (settings, cache, artifacts) inside ``folder``, and no console banner."""
    return {"WANDB_SILENT": "true", "WANDB_DIR": str(folder), "WANDB_CONFIG_DIR": str(folder / ".wandb-config"),
            "WANDB_CACHE_DIR": str(folder / ".wandb-cache"), "WANDB_DATA_DIR": str(folder / ".wandb-data")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One run with all four loggers (4 steps, an evaluation every 2, an alert at step 2), read back."""
    out = tmp_path_factory.mktemp("loggers")
    mp = pytest.MonkeyPatch()
    for k, v in wandb_env(out).items():
        mp.setenv(k, v)
    mp.delenv("GANLAB_OUTPUT_ROOT", raising=False)
    from ganlab.config import compose

    try:
        train(compose([f"paths.output_dir={out}", ALL, *TINY_MLP, *TINY, *ALERT]))
    finally:
        mp.undo()
    first = {name: read(out) for name, read in (("tb", tensorboard), ("csv", csv_logger), ("mlflow", mlflow_logger),
                                                    ("wandb", wandb_logger))}
    return {"dir": out, "first": first}


def plain(params: dict) -> dict:
    """Hyperparameters as each backend gives them back (TensorBoard: numbers as floats; MLflow: text), comparable."""
    def value(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v)

    return {k: value(v) for k, v in params.items()}


def test_every_backend_has_the_same_scalars_hparams_alerts_and_images(runs):
    tb, table, ml, wb = (runs["first"][k] for k in ("tb", "csv", "mlflow", "wandb"))
    tags = set(tb["scalars"])
    assert {"train/d_loss", "train/g_loss", "val/fid", "health/alert/discriminator_overfitting", "health/r_t"} <= tags
    assert set(table["scalars"]) == tags
    assert set(ml["scalars"]) == tags
    assert set(wb["scalars"]) == tags
    for tag in ("train/d_loss", "val/fid", "health/r_t"):  # the same points, not just the same names
        for other in (table, ml, wb):
            assert other["scalars"][tag].keys() == tb["scalars"][tag].keys(), tag
            for step, value in tb["scalars"][tag].items():
                assert other["scalars"][tag][step] == pytest.approx(value, rel=1e-6), (tag, step)
    # the alert: its scalar at step 2 everywhere, its message wherever text is held
    for backend in (tb, table, ml, wb):
        assert backend["scalars"]["health/alert/discriminator_overfitting"][2] == 1.0
    (message,) = tb["texts"]["health/alerts/text_summary"]
    assert "discriminator overfitting since step 2" in message
    assert [r["text"] for r in table["texts"]] == [message] and table["texts"][0]["step"] == "2"
    assert "health/alerts/step_0000002.txt" in ml["files"]
    assert Path(ml["client"].download_artifacts(ml["run_id"], "health/alerts/step_0000002.txt")).read_text() == message
    assert any(m.startswith("html/health/alerts") for m in wb["media"])
    # hyperparameters: the HParams entry (headline settings and the run's overrides), identical in each
    hp = tb["hparams"]
    assert hp["dataset"] == "mnist5k" and hp["loss"] == "NonSaturating" and hp["trainer.max_steps"] == 4
    assert plain(table["hparams"]) == plain(hp)
    assert plain(ml["params"]) == plain(hp)
    assert plain({k: wb["config"][k] for k in hp}) == plain(hp)
    # the resolved config
    assert table["config"]["generator"]["hidden"] == [32, 64] == wb["config"]["config"]["generator"]["hidden"]
    assert "config.yaml" in ml["files"]
    # images: TensorBoard, MLflow and W&B hold the sample grids (the CSV logger holds none)
    assert {"samples", "real"} <= tb["images"]
    assert {f.split("+")[0] for f in ml["files"] if f.startswith("images/")} >= {"images/samples", "images/real"}
    assert {m.split("/")[1].rsplit("_", 2)[0] for m in wb["media"] if m.startswith("images/")} >= {"samples", "real"}


def test_final_values_agree(runs):
    tb, ml, wb = (runs["first"][k] for k in ("tb", "mlflow", "wandb"))
    final = tb["scalars"]["val/fid"][max(tb["scalars"]["val/fid"])]
    assert ml["latest"]["val/fid"] == pytest.approx(final, rel=1e-6)
    assert wb["summary"]["val/fid"] == pytest.approx(final, rel=1e-6)
    assert wb["summary"]["trainer/global_step"] == 4


def test_loggers_of_a_resumed_run_continue_the_same_backend_runs(tmp_path, monkeypatch):
    """What resume=auto relies on: loggers built again for the same run directory reopen its MLflow and W&B runs
    (ids in loggers.json) and append to its CSV file, dropping the rows from purge_step on."""
    from ganlab.loggers.backends import CSVLogger, MLflowLogger, WandbLogger

    for k, v in wandb_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("GANLAB_OUTPUT_ROOT", raising=False)
    ids = tmp_path / "loggers.json"
    # the first process logs steps 1-4 and is killed; the second resumes from a checkpoint of step 2
    for first, steps, purge in ((True, range(1, 5), None), (False, range(3, 7), 3)):
        loggers = [MLflowLogger(run_dir=str(tmp_path), run_file=str(ids)),
                   WandbLogger(save_dir=str(tmp_path), run_dir=str(tmp_path), run_file=str(ids)),
                   CSVLogger(str(tmp_path), purge_step=purge)]
        for step in steps:
            for lg in loggers:
                lg.log_metrics({"train/d_loss": float(step)}, step=step)
        for lg in loggers:
            lg.finalize("success")
        if first:
            stored = json.loads(ids.read_text())
    assert json.loads(ids.read_text()) == stored  # the same ids, not new ones
    ml, wb = mlflow_logger(tmp_path), wandb_logger(tmp_path)
    assert ml["run_id"] == stored["mlflow"]["run_id"] and ml["runs"] == 1 and ml["status"] == "FINISHED"
    assert sorted(ml["scalars"]["train/d_loss"]) == [1, 2, 3, 4, 5, 6]
    assert wb["ids"] == [stored["wandb"]["id"]] * 2  # two offline parts of one W&B run (wandb sync joins them)
    assert sorted(wb["scalars"]["train/d_loss"]) == [1, 2, 3, 4, 5, 6]
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open(newline="")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]  # steps 3, 4 of the killed run replaced


def test_compare_reads_a_csv_only_run(runs, tmp_path):
    from ganlab.runs.read import find_runs, read_run

    run = tmp_path / "run"
    shutil.copytree(runs["dir"], run, ignore=shutil.ignore_patterns("tensorboard", "wandb", "mlruns"))
    assert find_runs([tmp_path]) == [run.resolve()]
    from_csv = read_run(run)
    from_events = read_run(runs["dir"])
    assert set(from_csv.curves) == set(from_events.curves)
    assert from_csv.curves["train/d_loss"] == pytest.approx(from_events.curves["train/d_loss"], rel=1e-6)
    assert from_csv.values["val/fid_final"] == pytest.approx(from_events.values["val/fid_final"], rel=1e-6)
    assert from_csv.steps == from_events.steps == 4 and from_csv.status.name == from_events.status.name
    assert 0 < from_csv.values["wall_s"] == pytest.approx(from_events.values["wall_s"], abs=1.0)


def test_unknown_logger_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"^logger=\[tensorboard,comet\]: unknown logger comet; valid: csv, mlflow, "
                                         r"tensorboard, wandb"):
        check_names(["debug=fast", "logger=[tensorboard,comet]"])
    check_names(["logger=[tensorboard,csv,mlflow,wandb]", "~logger", "logger=csv"])  # valid ones pass
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", "logger=[tensorboard,comet]"], cwd=tmp_path,
                          env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("ganlab-train: error: logger=[tensorboard,comet]: unknown logger comet; valid:")
    assert list(tmp_path.iterdir()) == []


def test_a_logger_whose_package_is_missing_is_named(monkeypatch, compose_cfg):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    cfg = compose_cfg(*TINY_MLP, "logger=[tensorboard,wandb]")
    with pytest.raises(ValueError, match=r"^logger=wandb needs the wandb package, which is not installed; "
                                         r"pip install -e '\.\[wandb\]'"):
        check_installed(cfg.logger)
    with pytest.raises(ConfigError, match="logger=wandb needs the wandb package"):
        train(cfg)


@pytest.mark.slow
def test_resume_auto_continues_the_same_runs_from_the_command_line(tmp_path):
    """ganlab-train resume=auto (Hydra's run directory logic): the killed-and-continued run keeps its backend runs."""
    env = {**cli_env(), **wandb_env(tmp_path)}
    args = [sys.executable, "-m", "ganlab.cli.train", ALL, *TINY_MLP, *TINY, "metrics=none", "resume=auto"]
    for steps in (4, 6):
        proc = subprocess.run([*args, f"trainer.max_steps={steps}"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = [p.parent for p in tmp_path.glob("outputs/*/*/loggers.json")]
    assert (tmp_path / "outputs" / "mlruns").is_dir()  # the file store in the output root, shared by runs
    ml, wb = mlflow_logger(run), wandb_logger(run)
    assert ml["runs"] == 1 and max(ml["scalars"]["train/d_loss"]) == 6
    assert len(wb["ids"]) == 2 and len(set(wb["ids"])) == 1
    assert sorted(csv_logger(run)["scalars"]["train/d_loss"]) == [1, 2, 3, 4, 5, 6]
