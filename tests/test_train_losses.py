"""Every loss in conf/loss trains the DCGAN on mnist5k for a few steps, in process."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import TINY

from ganlab.cli.train import train
from ganlab.config import CONFIG_DIR

LOSSES = sorted(p.stem for p in (Path(CONFIG_DIR) / "loss").glob("*.yaml"))


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_trains_dcgan(compose_cfg, loss):
    cfg = compose_cfg(*TINY, f"loss={loss}", "generator=dcgan", "discriminator=dcgan", "generator.width=8",
                      "discriminator.width=8", "~logger", "trainer.max_steps=3", "metrics.every_n_steps=3",
                      "~callbacks.model_checkpoint", "~callbacks.samples", "+trainer.enable_checkpointing=false")
    fid = train(cfg)
    assert fid is not None and math.isfinite(fid) and fid > 0
