"""Run metadata in TensorBoard: the resolved config as text and the HParams tab."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import yaml
from torch.utils.tensorboard.summary import hparams


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"optim.d.lr": 0.0002, ...} with scalar leaves (lists as strings)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif isinstance(value, Sequence):
            out[name] = str(list(value))
        elif value is None:
            out[name] = "null"
    return out


class RunInfo(pl.Callback):
    """At the start of training, write the resolved config (text) and the HParams entry.

    The HParams entry lists the metric tags without writing values for them, so the tab links
    to the real curves (Lightning's own ``log_hyperparams`` would add a fake point at step 0).

    Args:
        metrics: scalar tags shown as metrics in the HParams tab.
    """

    def __init__(self, metrics: Sequence[str] = ("val/fid", "val/fid_best", "train/d_loss", "train/g_loss")) -> None:
        self.metrics = list(metrics)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        config = getattr(pl_module, "config", None)
        logger = trainer.logger
        if not trainer.is_global_zero or config is None or logger is None or trainer.global_step > 0:
            return
        writer = logger.experiment
        if not hasattr(writer, "add_text"):
            return
        text = yaml.safe_dump(config, sort_keys=False)
        writer.add_text("config", "".join(f"    {line}\n" for line in text.splitlines()), 0)
        params = {k: v for k, v in flatten(config).items() if not k.startswith(("hydra.", "paths."))}
        for summary in hparams(params, dict.fromkeys(self.metrics, 0.0)):
            writer._get_file_writer().add_summary(summary)
