"""HParams entry: headline settings plus the run's own overrides, never the whole config."""

from __future__ import annotations

from omegaconf import OmegaConf

from ganlab.callbacks.run_info import SETTINGS, hparams_of
from ganlab.config import compose

HEADLINE = {"dataset", "generator", "discriminator", "loss", "optim.g.lr", "optim.d.lr", "optim.beta1",
            "optim.beta2", "dataset.batch_size", "game.n_critic", "trainer.max_steps", "seed", "ema.decay",
            "augment", "regularizers"}


def test_hparams_are_headline_settings_and_overrides(tmp_path):
    overrides = ["loss=hinge", "optim.g.lr=1e-4", "+regularizers=r1", "experiment=dcgan_mnist5k",
                 "trainer.log_every_n_steps=10", f"paths.output_dir={tmp_path}", f"paths.cache_dir={tmp_path}/c",
                 "callbacks.model_checkpoint.dirpath=/elsewhere", "+callbacks.extra._target_=a.B",
                 "~callbacks.divergence", "dataset.feature.weights=/tmp/w.pt", "callbacks.samples.every_n_steps=50"]
    config = OmegaConf.to_container(compose([o for o in overrides if not o.startswith("+callbacks")]), resolve=True)
    params = hparams_of(config, SETTINGS, overrides)
    # 15 headline settings + the 3 overrides that are settings and not headline ones
    assert set(params) == HEADLINE | {"experiment", "trainer.log_every_n_steps", "callbacks.samples.every_n_steps"}
    assert len(params) == 18
    assert not [k for k in params if "_target_" in k or "dir" in k or "path" in k or "weights" in k]
    assert not [v for v in params.values() if isinstance(v, str) and ("/" in v or v.startswith("ganlab."))]
    assert params["loss"] == "Hinge" and params["optim.g.lr"] == 1e-4 and params["regularizers"] == "r1"
    assert params["generator"] == "DCGANGenerator" and params["dataset"] == "mnist5k"
    assert params["experiment"] == "dcgan_mnist5k" and params["trainer.log_every_n_steps"] == 10
    assert params["augment"] == "none" and params["ema.decay"] == "null"


def test_default_run_has_only_the_headline_settings(tmp_path):
    config = OmegaConf.to_container(compose([f"paths.output_dir={tmp_path}"]), resolve=True)
    params = hparams_of(config, SETTINGS, [])
    assert set(params) == HEADLINE
    assert params == {
        "dataset": "mnist5k", "generator": "MLPGenerator", "discriminator": "MLPDiscriminator",
        "loss": "NonSaturating", "optim.g.lr": 8e-4, "optim.d.lr": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
        "dataset.batch_size": 128, "game.n_critic": 1, "trainer.max_steps": 10000, "seed": 0, "ema.decay": 0.999,
        "augment": "none", "regularizers": "none",
    }  # fmt: skip
