"""Lightning's loggers (TensorBoard, CSV, MLflow, Weights & Biases) with what ganlab sends beyond scalars.

Lightning's loggers carry scalars and hyperparameters. ganlab's callbacks also send sample grids, text (health
alerts), the run's resolved config and its final values (``ganlab.loggers.base``), and ``resume=auto`` must
continue the same backend run rather than start a second one. Each class adds exactly that to Lightning's.

Run ids: MLflow and W&B runs are identified by ids their backends choose; the first process of a run writes them
to ``<run dir>/loggers.json`` and a resumed run (same directory) reads them back.
"""

from __future__ import annotations

import csv
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from lightning_fabric.loggers.csv_logs import _ExperimentWriter
from lightning_utilities.core.rank_zero import rank_zero_only
from pytorch_lightning.loggers import csv_logs
from pytorch_lightning.loggers import mlflow as pl_mlflow
from pytorch_lightning.loggers import wandb as pl_wandb

from ganlab.loggers.base import RunLogger, SummaryWriterView, config_text

RUN_FILE = "loggers.json"


# ------------------------------------------------------------------ run ids for resume=auto
def read_run_ids(run_file: str | Path | None) -> dict[str, Any]:
    """backend -> its stored ids (``loggers.json`` of the run directory); {} when none were stored."""
    if not run_file or not Path(run_file).is_file():
        return {}
    try:
        data = json.loads(Path(run_file).read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@rank_zero_only
def write_run_ids(run_file: str | Path | None, backend: str, ids: Mapping[str, Any]) -> None:
    """Store ``backend``'s ids in the run's ``loggers.json`` (other backends' entries kept; atomic)."""
    if not run_file:
        return
    path = Path(run_file)
    data = read_run_ids(path)
    if data.get(backend) == dict(ids):
        return
    data[backend] = dict(ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def output_root(run_dir: str | Path) -> Path:
    """Where this launch's output tree starts: ``outputs`` for ``outputs/DATE/TIME``, ``multirun`` for a sweep's
    runs (set by ``ganlab.rundir.RunDirectory`` from Hydra's directory templates); ``run_dir`` itself when the
    directory was given literally or without ganlab-train (tests, scripts)."""
    from ganlab.rundir import OUTPUT_ROOT_ENV

    root = os.environ.get(OUTPUT_ROOT_ENV)
    # a root left by an earlier launch in this process does not hold this run: not this run's tree
    return Path(root) if root and Path(run_dir).resolve().is_relative_to(Path(root).resolve()) else Path(run_dir)


def _run_name(run_dir: str | Path, root: Path) -> str:
    """The run directory relative to the output root (``2026-01-02/10-11-12``, ``3_loss=hinge``), for the UIs."""
    run, root = Path(run_dir).resolve(), root.resolve()
    return str(run.relative_to(root)) if run != root and run.is_relative_to(root) else run.name


# ------------------------------------------------------------------ the backends
class TensorBoardLogger(pl.loggers.TensorBoardLogger, RunLogger):
    """Lightning's TensorBoard logger; images, text, the config and the HParams entry as TensorBoard shows them."""

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        SummaryWriterView(self.experiment).add_image(tag, image, step)

    def add_text(self, tag: str, text: str, step: int) -> None:
        SummaryWriterView(self.experiment).add_text(tag, text, step)

    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        SummaryWriterView(self.experiment).add_run_info(config, params, metrics)


class _ResumableWriter(csv_logs.ExperimentWriter):
    """Lightning's CSV writer deletes an existing ``metrics.csv``; this one keeps it and appends, dropping the
    rows of steps >= ``purge_step`` (written by a killed run after its last checkpoint, as TensorBoard's
    ``purge_step`` hides them), so a resumed run's file holds the whole run once."""

    def __init__(self, log_dir: str, purge_step: int | None) -> None:
        self.purge_step = purge_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            keys, rows = list(reader.fieldnames or []), list(reader)
        if self.purge_step is not None:
            rows = [r for r in rows if not r.get("step") or int(float(r["step"])) < self.purge_step]
        self.metrics_keys = keys
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)


class CSVLogger(csv_logs.CSVLogger, RunLogger):
    """Lightning's CSV logger (``<run>/csv/metrics.csv``, one column per tag, ``hparams.yaml``), resumable, with a
    ``wall_time`` column (seconds since the epoch, for ganlab-compare's timings), ``config.yaml`` and the text
    entries in ``text.csv`` (step, tag, text). It holds no images.

    Args:
        purge_step: set by ``resume=auto``: rows of this step and later in an existing file are dropped.
    """

    def __init__(self, save_dir: str, name: str = "csv", version: str | int | None = "",
                 purge_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(save_dir, name=name, version=version, **kwargs)
        self.purge_step = purge_step

    @property
    @pl.loggers.logger.rank_zero_experiment
    def experiment(self) -> _ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ResumableWriter(self.log_dir, self.purge_step)
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        super().log_metrics({**metrics, "wall_time": time.time()}, step)

    @rank_zero_only
    def add_text(self, tag: str, text: str, step: int) -> None:
        path = Path(self.log_dir) / "text.csv"
        new = not path.is_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["step", "tag", "text"])
            writer.writerow([step, tag, text])

    @rank_zero_only
    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        self.log_hyperparams(dict(params))
        Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        (Path(self.log_dir) / "config.yaml").write_text(config_text(config))


class MLflowLogger(pl_mlflow.MLFlowLogger, RunLogger):
    """Lightning's MLflow logger writing to ``<output root>/mlruns`` (a local file store; ``mlflow ui`` opens it)
    unless ``tracking_uri`` names a server or database; images and text as artifacts, the config as
    ``config.yaml``; a resumed run continues the MLflow run whose id ``run_file`` holds.

    Args:
        experiment_name: the MLflow experiment runs are grouped under.
        run_dir: the ganlab run directory (the run's name in MLflow is its path under the output root).
        tracking_uri: None: a file store under the output root (``file:<root>/mlruns``); else any MLflow URI.
        run_file: where the run id is kept for resumes (``<run dir>/loggers.json``); None: never resumed.
    """

    def __init__(self, experiment_name: str = "ganlab", run_dir: str | None = None, tracking_uri: str | None = None,
                 run_file: str | None = None, run_name: str | None = None, **kwargs: Any) -> None:
        stored = read_run_ids(run_file).get("mlflow") or {}
        root = output_root(run_dir or ".")
        # a resumed run's directory is given literally: its store is the one the first process chose
        tracking_uri = stored.get("tracking_uri") or tracking_uri or f"file:{(root / 'mlruns').resolve()}"
        if tracking_uri.startswith("file:"):
            # MLflow 3 keeps its file store but refuses it unless this is set (its database stores need a
            # migration step and lock under parallel sweep trials); setdefault: an explicit false still refuses
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        run_name = run_name or (_run_name(run_dir, root) if run_dir else None)
        super().__init__(experiment_name=experiment_name, run_name=run_name, tracking_uri=tracking_uri,
                         run_id=stored.get("run_id"), **kwargs)
        self.run_file, self.resumed = run_file, bool(stored.get("run_id"))

    @property
    @pl.loggers.logger.rank_zero_experiment
    def experiment(self) -> Any:
        first = not self._initialized
        client = super().experiment
        if first:
            write_run_ids(self.run_file, "mlflow", {"run_id": self._run_id, "tracking_uri": self._tracking_uri})
            if self.resumed:  # a finished or killed run continues: RUNNING again until this process finalizes it
                client.update_run(self._run_id, status="RUNNING")
        return client

    @rank_zero_only
    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.experiment.log_image(self.run_id, image, key=tag, step=step)

    @rank_zero_only
    def add_text(self, tag: str, text: str, step: int) -> None:
        self.experiment.log_text(self.run_id, text, f"{tag}/step_{step:07d}.txt")

    @rank_zero_only
    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        self.log_hyperparams(dict(params))
        self.experiment.log_text(self.run_id, config_text(config), "config.yaml")


class WandbLogger(pl_wandb.WandbLogger, RunLogger):
    """Lightning's Weights & Biases logger, offline unless ``offline=false`` (``wandb sync <run>/wandb/offline-run-*``
    uploads later); images as ``wandb.Image``, text as HTML entries, the resolved config under the run config's
    ``config`` key, final values in the run summary; a resumed run continues the W&B run of ``run_file``'s id.

    Args:
        save_dir: where W&B writes (``<save_dir>/wandb/``).
        offline: no network; runs are kept as files.
        run_dir: the ganlab run directory (the run's display name is its path under the output root).
        run_file: where the run id is kept for resumes (``<run dir>/loggers.json``); None: never resumed.
    """

    def __init__(self, save_dir: str | None = None, project: str = "ganlab", offline: bool = True,
                 run_dir: str | None = None, run_file: str | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        stored = (read_run_ids(run_file).get("wandb") or {}).get("id")
        run_id = kwargs.pop("id", None) or stored or uuid.uuid4().hex[:8]  # W&B's own ids: 8 characters [a-z0-9]
        name = name or (_run_name(run_dir, output_root(run_dir)) if run_dir else None)
        super().__init__(name=name, save_dir=save_dir, offline=offline, id=run_id, project=project,
                         resume="allow", **kwargs)
        if self._wandb_init.get("anonymous") is None:  # Lightning passes anonymous=None, which W&B warns about
            self._wandb_init.pop("anonymous", None)
        self.run_file = run_file
        write_run_ids(run_file, "wandb", {"id": run_id, "project": project})

    def _log(self, values: Mapping[str, Any], step: int) -> None:
        self.experiment.log({**values, "trainer/global_step": step})

    @rank_zero_only
    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        import wandb

        self._log({tag: wandb.Image(image)}, step)

    @rank_zero_only
    def add_text(self, tag: str, text: str, step: int) -> None:
        import html

        import wandb

        self._log({tag: wandb.Html(f"<p>step {step}: {html.escape(text)}</p>")}, step)

    @rank_zero_only
    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        self.log_hyperparams(dict(params))
        self.experiment.config.update({"config": dict(config)}, allow_val_change=True)

    @rank_zero_only
    def add_summary(self, values: Mapping[str, float]) -> None:
        self.experiment.summary.update(dict(values))

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        # Lightning leaves the run open until the process exits; the next run of a sweep in this process
        # (Hydra's basic launcher) would then log into this one
        if self._experiment is not None:
            self._experiment.finish(exit_code=0 if status == "success" else 1)
            self._experiment = None
