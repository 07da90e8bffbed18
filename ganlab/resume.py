"""Resuming from a checkpoint that is read once: the copy ganlab checked is the one Lightning restores.

``Trainer.fit(ckpt_path=...)`` opens the path itself; checked first and read again there, the file could
change in between (a check, then a use). ``resume_from`` reads it once through ``ganlab.safe`` (data only,
layout checked), refuses it when it does not fit the module, and gives Lightning that same dictionary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_fabric.plugins import CheckpointIO

from ganlab.checkpoint import CheckpointError, check_fits, read_checkpoint


class VettedCheckpointIO(CheckpointIO):
    """The strategy's CheckpointIO, except that loading ``path`` returns the checkpoint already read (once).

    Args:
        inner: the CheckpointIO it wraps (saving and removing go there).
        path: the checkpoint of the resume.
        checkpoint: its content as ``read_checkpoint`` returned it.
    """

    def __init__(self, inner: CheckpointIO, path: str | Path, checkpoint: dict[str, Any]) -> None:
        self.inner, self.path, self._checkpoint = inner, Path(path).resolve(), checkpoint

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        self.inner.save_checkpoint(checkpoint, path, storage_options=storage_options)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if self._checkpoint is not None and Path(path).resolve() == self.path:
            checkpoint, self._checkpoint = self._checkpoint, None  # handed over once, then not kept in memory
            return checkpoint
        return self.inner.load_checkpoint(path, map_location=map_location, weights_only=weights_only)

    def remove_checkpoint(self, path: Any) -> None:
        self.inner.remove_checkpoint(path)

    def teardown(self) -> None:
        self.inner.teardown()


def resume_from(trainer: Any, module: Any, path: str | Path) -> int:
    """Read ``path`` once, refuse it when it does not fit ``module``, and have ``trainer.fit(ckpt_path=path)``
    restore exactly that copy; returns the step it was saved at."""
    if not Path(path).is_file():
        raise CheckpointError(f"ckpt_path={path} is not a file; valid: a checkpoint written by ganlab-train "
                              f"(<run>/checkpoints/last.ckpt)")
    checkpoint = read_checkpoint(path)  # through ganlab.safe: weights only, layout checked
    check_fits(module, checkpoint, path)
    strategy = trainer.strategy
    strategy.checkpoint_io = VettedCheckpointIO(strategy.checkpoint_io, path, checkpoint)
    return int(checkpoint.get("global_step", 0))
