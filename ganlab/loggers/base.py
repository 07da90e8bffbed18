"""What ganlab's callbacks send to every logger of a run besides scalars: images, text, run info, final values.

``trainer.logger`` is only the first logger of a run; these functions send to all of them
(``logger=[tensorboard,csv,mlflow,wandb]``, any subset), each backend putting a kind where it can hold it
(``ganlab.loggers.backends``). A logger that is not ganlab's but writes TensorBoard events (Lightning's own
TensorBoardLogger) gets images, text and the HParams entry through its SummaryWriter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import yaml
from torch import Tensor


# ------------------------------------------------------------------ what every ganlab logger adds
class RunLogger:
    """What ganlab's callbacks send besides ``log_metrics``; a backend without a place for a kind ignores it."""

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An RGB image, uint8 [H, W, 3]."""

    def add_text(self, tag: str, text: str, step: int) -> None:
        """A line of text (health alerts)."""

    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        """The resolved config, the hyperparameters that tell runs apart, and the metric tags they explain."""

    def add_summary(self, values: Mapping[str, float]) -> None:
        """The run's final values (the last of each ``val/*`` metric, the last step)."""


def config_text(config: Mapping[str, Any]) -> str:
    """The resolved config as YAML, in the order it was composed."""
    return yaml.safe_dump(dict(config), sort_keys=False)


class SummaryWriterView(RunLogger):
    """Any logger whose ``experiment`` is a TensorBoard SummaryWriter (Lightning's own TensorBoardLogger)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def add_text(self, tag: str, text: str, step: int) -> None:
        if hasattr(self.writer, "add_text"):
            self.writer.add_text(tag, text, step)

    def add_run_info(self, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
        from torch.utils.tensorboard.summary import hparams

        if not hasattr(self.writer, "add_text"):
            return
        # indented: TensorBoard's text plugin renders markdown, where 4 spaces keep the YAML as written
        self.writer.add_text("config", "".join(f"    {line}\n" for line in config_text(config).splitlines()), 0)
        # the HParams tab lists the metric tags without values, so it links to the real curves (Lightning's own
        # log_hyperparams would write a fake point at step 0)
        for summary in hparams(dict(params), dict.fromkeys(metrics, 0.0)):
            self.writer._get_file_writer().add_summary(summary)


def _run_loggers(trainer: Any) -> Iterator[tuple[Any, RunLogger]]:
    """(logger, what it can take) for each logger of ``trainer``; loggers with nowhere to put images or text
    (a logger that is neither ganlab's nor writes TensorBoard events) are skipped."""
    for lg in getattr(trainer, "loggers", None) or ([trainer.logger] if trainer.logger is not None else []):
        if isinstance(lg, RunLogger):
            yield lg, lg
        elif hasattr(lg.experiment, "add_image"):
            yield lg, SummaryWriterView(lg.experiment)


def to_hwc(image: Tensor | np.ndarray) -> np.ndarray:
    """[3, H, W] float in [0, 1] (torchvision's make_grid) or uint8 [H, W, 3] -> uint8 [H, W, 3]."""
    if isinstance(image, Tensor):
        image = image.detach().float().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3):
            image = image.expand(3, -1, -1).permute(1, 2, 0)
        return (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.asarray(image, dtype=np.uint8)


def log_metrics(trainer: Any, scalars: Mapping[str, float], step: int) -> None:
    """Scalars to every logger at ``step`` (``trainer.logger`` is only the first of them)."""
    for lg in getattr(trainer, "loggers", None) or ([trainer.logger] if trainer.logger is not None else []):
        lg.log_metrics(dict(scalars), step=step)


def add_image(trainer: Any, tag: str, image: Tensor | np.ndarray, step: int) -> None:
    """An image ([3, H, W] in [0, 1] or uint8 [H, W, 3]) to every logger that holds images."""
    hwc = None
    for _, run_logger in _run_loggers(trainer):
        hwc = to_hwc(image) if hwc is None else hwc
        run_logger.add_image(tag, hwc, step)


def add_text(trainer: Any, tag: str, text: str, step: int) -> None:
    """A text entry to every logger."""
    for _, run_logger in _run_loggers(trainer):
        run_logger.add_text(tag, text, step)


def add_run_info(trainer: Any, config: Mapping[str, Any], params: Mapping[str, Any], metrics: Sequence[str]) -> None:
    """The resolved config and the hyperparameters to every logger."""
    for _, run_logger in _run_loggers(trainer):
        run_logger.add_run_info(config, params, metrics)


def add_summary(trainer: Any, values: Mapping[str, float]) -> None:
    """The run's final values to every logger."""
    for _, run_logger in _run_loggers(trainer):
        run_logger.add_summary(values)
