"""Sweeps: filesystem-safe run names, failed trials that do not stop a sweep, and the sweep summary."""

from __future__ import annotations

import json
import os
import re
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

FAILED_FILE, RESULT_FILE = "failed.json", "result.json"


def path_safe(text: str, limit: int = 120) -> str:
    """Overrides string -> a folder name: '/' and other unsafe characters become '_', long names are cut."""
    name = re.sub(r"[^\w.=,+\-\[\]]", "_", str(text)) or "defaults"
    return name[:limit]


SWEEP_KEYS_ENV = "GANLAB_SWEEP_KEYS"


def run_name(num: int, overrides: list[str]) -> str:
    """Folder name of a sweep's run: its number and the overrides the sweep varies (all when unknown).

    The swept keys are found once per sweep by ``SweepSummary.on_multirun_start`` and passed in an
    environment variable (inherited by local and joblib workers), so fixed overrides shared by all
    runs do not bury the ones that tell runs apart.
    """
    swept = json.loads(os.environ.get(SWEEP_KEYS_ENV, "null"))
    items = [o for o in overrides if swept is None or o.split("=", 1)[0].lstrip("+~") in swept]
    return path_safe(f"{num}_{','.join(items)}" if items else str(num))


def swept_keys(config: DictConfig) -> list[str]:
    """Keys a multirun varies: comma lists / range / choice / interval overrides and sweeper params."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    return keys + [str(k) for k in (config.hydra.sweeper.get("params") or {})]


def record_failure(run_dir: str | Path, error: BaseException) -> dict[str, Any]:
    """Write ``failed.json`` (error type, one-line message, traceback) into the trial's directory."""
    message = str(error).splitlines()[0] if str(error) else ""
    info = {"status": "failed", "error": type(error).__name__, "message": message,
            "traceback": "".join(traceback.format_exception(error))[-4000:]}
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / FAILED_FILE).write_text(json.dumps(info, indent=2))
    return info


def record_result(run_dir: str | Path, metric: str, value: float | None) -> None:
    (Path(run_dir) / RESULT_FILE).write_text(json.dumps({"status": "ok", "metric": metric, "value": value}))


class SweepSummary(Callback):
    """Hydra callback: names runs by what the sweep varies; at the end of a multirun, writes
    summary.json and summary.md in the sweep folder, listing every run with its overrides, status,
    optimized metric, or the error that stopped it."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ[SWEEP_KEYS_ENV] = json.dumps(swept_keys(config))
        if "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower():
            from ganlab.console import plain_optuna_logging

            plain_optuna_logging()  # before the sweeper logs: no colour codes in log files

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        runs = []
        for run in sorted(p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").is_dir()):
            overrides = OmegaConf.load(run / ".hydra" / "overrides.yaml")
            entry: dict[str, Any] = {"run": run.name, "overrides": list(overrides)}
            if (run / FAILED_FILE).is_file():
                failed = json.loads((run / FAILED_FILE).read_text())
                entry.update(status="failed", error=f"{failed['error']}: {failed['message']}")
            elif (run / RESULT_FILE).is_file():
                entry.update(json.loads((run / RESULT_FILE).read_text()))
            else:
                entry.update(status="unknown")
            runs.append(entry)
        (sweep / "summary.json").write_text(json.dumps({"runs": runs}, indent=2))
        lines = ["| run | status | metric | value / error |", "|---|---|---|---|"]
        for r in runs:
            detail = r.get("error") if r["status"] == "failed" else r.get("value")
            lines.append(f"| {r['run']} | {r['status']} | {r.get('metric', '')} | {detail} |")
        (sweep / "summary.md").write_text("\n".join(lines) + "\n")
