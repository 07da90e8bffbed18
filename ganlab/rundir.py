"""Run directories that never collide and are never reused by accident; ``resume=auto`` continues a run in place.

A Hydra callback, because Hydra writes ``<run dir>/.hydra/`` before the task function starts: only
``on_run_start`` sees the composed config before anything is written, and the run directory it
leaves in ``hydra.run.dir`` is the one Hydra (and Lightning's DDP child processes) then use.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

# keys that may differ between a run and its continuation
# (loggers only record: a run may continue with other ones, e.g. logger=[tensorboard,wandb] added on resume)
RESUME_KEYS = ("trainer.max_steps", "resume", "ckpt_path", "logger", "threads", "verbose")
LAST = Path("checkpoints") / "last.ckpt"
# the root of the output tree of this launch (``outputs``, ``multirun``), for stores shared by its runs (MLflow's)
OUTPUT_ROOT_ENV = "GANLAB_OUTPUT_ROOT"


def fail(message: str) -> None:
    """One line on stderr, exit status 1, nothing written (Hydra has not created anything yet)."""
    sys.exit(f"ganlab-train: error: {message}")


def checkpoint_step(path: Path) -> int:
    """``global_step`` of a checkpoint (memory-mapped: the tensors are not read)."""
    import torch  # only when a checkpoint is read: --help, --cfg and config errors need no torch
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def comparable(config: DictConfig | dict) -> dict:
    """The task config as written to ``.hydra/config.yaml`` (unresolved), without hydra and RESUME_KEYS."""
    data = OmegaConf.to_container(config, resolve=False) if isinstance(config, DictConfig) else dict(config)
    data.pop("hydra", None)
    for key in RESUME_KEYS:
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return data


def _logger_nodes(loggers: Any) -> list:
    """The logger configs of a ``logger`` node: name -> config (``logger=[tensorboard,csv]``), or one config."""
    if not hasattr(loggers, "get"):
        return []
    if "_target_" in loggers:
        return [loggers]
    return [node for node in loggers.values() if hasattr(node, "get")]


def runs_of(config: DictConfig, root: Path) -> list[tuple[float, Path, int]]:
    """(last.ckpt mtime, run dir, step) of every run under ``root`` with the same config, newest first."""
    mine, found = comparable(config), []
    for saved in root.glob("**/.hydra/config.yaml"):
        run = saved.parent.parent
        if (run / LAST).is_file() and comparable(OmegaConf.to_container(OmegaConf.load(saved))) == mine:
            found.append(((run / LAST).stat().st_mtime, run, checkpoint_step(run / LAST)))
    return sorted(found, key=lambda r: r[0], reverse=True)


def claim_unique(base: str) -> str:
    """Create ``base`` (or ``base_1``, ``base_2``, ...) with ``os.mkdir``, which fails when another process got
    there first, so runs started in the same second get different directories."""
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        path = base if n == 0 else f"{base}_{n}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run directory next to {base}")


def _explicit(config: DictConfig, key: str) -> bool:
    """``key`` was given a literal path on the command line (a ``${now:...}`` template is not one)."""
    given = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)  # the text as typed
    return any(o.split("=", 1)[0].lstrip("+") == key and "${" not in o for o in given)


def _template_root(template: str) -> Path:
    """``outputs/${now:...}/${now:...}`` -> ``outputs``: where runs of this template live."""
    return Path(template.split("${", 1)[0] or ".")


class RunDirectory(Callback):
    """Hydra callback: unique run directories, refusal of existing ones, ``resume=auto`` and finished-run checks."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if os.environ.get("LOCAL_RANK", "0") != "0":  # a DDP child re-running the command: rank 0 decided
            if config.get("resume") == "auto" and (Path(config.hydra.run.dir) / LAST).is_file():
                self._set(config, ckpt_path=str(Path(config.hydra.run.dir) / LAST))
            return
        resume, ckpt, max_steps = config.get("resume"), config.get("ckpt_path"), config.trainer.max_steps
        if resume not in (None, "auto"):
            fail(f"resume={resume}; valid: auto (continue the newest unfinished run of this config) or null")
        if resume == "auto" and ckpt:
            fail(f"resume=auto and ckpt_path={ckpt} both set; valid: one of them")
        template = OmegaConf.to_container(config.hydra.run, resolve=False)["dir"]
        run_dir = Path(str(config.hydra.run.dir))
        # where this run's output tree starts (outputs/ for outputs/DATE/TIME): MLflow's file store goes there
        os.environ[OUTPUT_ROOT_ENV] = str(run_dir if _explicit(config, "hydra.run.dir") else _template_root(template))
        if resume == "auto":
            root = run_dir if _explicit(config, "hydra.run.dir") else _template_root(template)
            runs = runs_of(config, root) if root.is_dir() else []
            open_runs = [r for r in runs if r[2] < max_steps]
            if open_runs:
                _, run, step = open_runs[0]
                print(f"ganlab-train: resume=auto: continuing {run} at step {step} of {max_steps}", file=sys.stderr)
                return self._continue(config, run, run / LAST, step)
            if runs:
                _, run, step = runs[0]
                fail(f"resume=auto: the newest run of this config, {run}, finished at step {step} "
                     f"(trainer.max_steps={max_steps}); valid: a larger trainer.max_steps to extend it, or no resume")
            print(f"ganlab-train: resume=auto: no run of this config under {root}; starting a new one",
                  file=sys.stderr)
        elif ckpt:
            path = Path(str(ckpt))
            if path.is_file():  # a missing file is reported by ganlab-train with the other ckpt_path checks
                step = checkpoint_step(path)
                if step >= max_steps:
                    fail(f"ckpt_path={ckpt} is at step {step}, trainer.max_steps={max_steps} is reached; "
                         f"valid: trainer.max_steps > {step} to extend the run")
                if run_dir.resolve() == path.resolve().parent.parent:  # hydra.run.dir=<its run>: in place
                    return self._continue(config, run_dir, path, step)
        if _explicit(config, "hydra.run.dir"):
            if run_dir.is_dir() and any(run_dir.iterdir()):
                fail(f"hydra.run.dir={run_dir} already holds files of another run; valid: a new or empty "
                     f"directory, or resume=auto / ckpt_path={run_dir / LAST} to continue that run")
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._set_hydra(config, ("run", "dir"), claim_unique(str(run_dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        template = OmegaConf.to_container(config.hydra.sweep, resolve=False)["dir"]
        explicit = _explicit(config, "hydra.sweep.dir")
        os.environ[OUTPUT_ROOT_ENV] = str(config.hydra.sweep.dir if explicit else _template_root(template))
        if not _explicit(config, "hydra.sweep.dir"):  # two sweeps started in the same second
            self._set_hydra(config, ("sweep", "dir"), claim_unique(str(config.hydra.sweep.dir)))

    def _continue(self, config: DictConfig, run: Path, ckpt: Path, step: int) -> None:
        """Resume in ``run``: Hydra's files go to ``.hydra/resume_N`` (the original ones stay), TensorBoard
        hides the killed run's events after ``step`` (SummaryWriter's purge_step) in the same event folder, the
        CSV logger drops its rows after ``step``; MLflow and W&B continue the run ids of ``loggers.json``."""
        n = 1 + max([int(m.group(1)) for p in (run / ".hydra").glob("resume_*")
                     if (m := re.match(r"resume_(\d+)$", p.name))], default=0)
        self._set_hydra(config, ("run", "dir"), str(run))
        self._set_hydra(config, ("output_subdir",), f".hydra/resume_{n}")
        self._set(config, ckpt_path=str(ckpt))
        with read_write(config), open_dict(config):
            for node in _logger_nodes(config.get("logger")):
                if "purge_step" in node:
                    node.purge_step = step + 1  # the first step the resumed run logs

    @staticmethod
    def _set_hydra(config: DictConfig, keys: tuple[str, ...], value: str) -> None:
        with read_write(config.hydra), open_dict(config.hydra):
            node = config.hydra
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value

    @staticmethod
    def _set(config: DictConfig, **values: Any) -> None:
        with read_write(config), open_dict(config):
            for key, value in values.items():
                config[key] = value
