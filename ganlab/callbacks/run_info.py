"""Run metadata for every logger: the resolved config, the hyperparameters that tell runs apart (TensorBoard's
HParams tab) and, at the end, the final values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl

from ganlab.loggers.base import add_run_info, add_summary

# the settings every run shows in the HParams tab (callbacks.run_info.settings replaces the list)
SETTINGS = ("dataset.name", "generator._target_", "discriminator._target_", "loss._target_", "optim.g.lr",
            "optim.d.lr", "optim.beta1", "optim.beta2", "dataset.batch_size", "game.n_critic", "trainer.max_steps",
            "seed", "ema.decay", "augment", "regularizers")
# command-line keys that say where things are, not how the GAN is trained
NOT_SETTINGS = ("dir", "path", "_target_", "root", "weights", "resume")


def _lookup(config: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a dotted key in a nested dict."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _value(key: str, value: Any) -> bool | int | float | str:
    """A config value as an HParams value: a ``_target_`` as its class name, a component as its class
    name, a dict of components (augment, regularizers) as its names, lists as text."""
    if key.endswith("_target_"):
        return str(value).rsplit(".", 1)[-1]
    if isinstance(value, Mapping):
        if "_target_" in value:
            return str(value["_target_"]).rsplit(".", 1)[-1]
        return ",".join(str(k) for k in value) or "none"
    if isinstance(value, (bool, int, float, str)):
        return value
    return "null" if value is None else str(list(value)) if isinstance(value, Sequence) else str(value)


def hparams_of(config: Mapping[str, Any], settings: Sequence[str], overrides: Sequence[str]) -> dict[str, Any]:
    """The HParams entry of a run: ``settings`` (named without ``._target_`` / ``.name``) and the keys of
    the command-line ``overrides`` (``key=value``; deletions, paths and ``_target_`` keys left out).

    Args:
        config: the resolved run config (nested dicts).
        settings: dotted keys every run shows; a key the config lacks is left out.
        overrides: the run's task overrides as typed (``optim.g.lr=1e-4``, ``loss=hinge``, ``+regularizers=r1``).

    Returns:
        name -> bool / int / float / str; a group choice (``experiment=dcgan_mnist5k``) as typed.
    """
    out: dict[str, Any] = {}
    for key in settings:
        found, value = _lookup(config, key)
        if found:
            out[key.removesuffix("._target_").removesuffix(".name")] = _value(key, value)
    for item in overrides:
        key, sep, typed = str(item).partition("=")
        key = key.lstrip("+")
        if not sep or key.startswith("~") or key.rsplit(".", 1)[-1].endswith(NOT_SETTINGS) or key in settings:
            continue
        if key.removesuffix("._target_").removesuffix(".name") in out:  # e.g. loss=hinge: shown as loss already
            continue
        found, value = _lookup(config, key)
        group = isinstance(value, Mapping) and "_target_" not in value  # e.g. experiment=...: as typed
        out[key] = typed if not found or group else _value(key, value)
    return out


class RunInfo(pl.Callback):
    """At the start of training, send the resolved config and the HParams entry to every logger; at the end, the
    final values (``final_values``).

    The HParams entry holds what tells runs apart (``hparams_of``: a fixed list of headline settings
    and the run's command-line overrides), not the whole config, so the tab's table stays readable.
    It lists the metric tags without writing values for them, so the tab links to the real curves
    (Lightning's own ``log_hyperparams`` would add a fake point at step 0).

    Args:
        metrics: scalar tags shown as metrics in the HParams tab.
        settings: dotted config keys shown for every run.
        overrides: the run's command-line overrides (``${ganlab.task_overrides:}``: Hydra's task overrides).
    """

    def __init__(self, metrics: Sequence[str] = ("val/fid", "val/fid_best", "train/d_loss", "train/g_loss"),
                 settings: Sequence[str] = SETTINGS, overrides: Sequence[str] = ()) -> None:
        self.metrics, self.settings, self.overrides = list(metrics), list(settings), list(overrides)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        config = getattr(pl_module, "config", None)
        if not trainer.is_global_zero or config is None or trainer.global_step > 0:
            return  # a resumed run's backends hold these from its first start
        add_run_info(trainer, config, hparams_of(config, self.settings, self.overrides), self.metrics)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            add_summary(trainer, final_values(trainer))


def final_values(trainer: pl.Trainer) -> dict[str, float]:
    """The run's final values: the latest of each ``train/*`` and ``val/*`` scalar, and the last step."""
    values = {k: float(v) for k, v in trainer.callback_metrics.items()
              if k.startswith(("train/", "val/")) and getattr(v, "numel", lambda: 1)() == 1}
    return {**values, "trainer/global_step": float(trainer.global_step)}
