"""Callbacks: evaluation logs metric objects (FID equals a direct computation), divergence stops the run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from scipy import linalg
from test_module import make_data, make_module

from ganlab.callbacks import DivergenceGuard, Evaluation
from ganlab.callbacks.divergence import TrainingDiverged
from ganlab.losses import NonSaturating
from ganlab.metrics.feature_metrics import FeatureMetrics


class MeanPool(torch.nn.Module):
    """A fixed toy feature extractor: 4x4 average pooling of 8x8 images -> 4 features."""

    num_features = 4

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 4).flatten(1)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al. 2017 with scipy's sqrtm, as an independent reference."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_training_fid_matches_direct_computation():
    model = make_module()
    data = make_data()
    data.eval_samples, data.eval_batch_size = 96, 32
    fid = FeatureMetrics(feature=MeanPool(), metrics=["fid", "kid", "prdc"], batch_size=16)
    trainer = pl.Trainer(max_steps=2, val_check_interval=2, check_val_every_n_epoch=None, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=[Evaluation({"features": fid})], accelerator="cpu")
    trainer.fit(model, datamodule=data)
    logged = trainer.callback_metrics["val/fid"].item()
    real = MeanPool()(data.real_images().x.float() / 127.5 - 1).double().numpy()
    fake = torch.cat([model.validation_step(b, 0) for b in data.val_dataloader()])
    fake = MeanPool()(fake).double().numpy()
    assert logged == pytest.approx(frechet(real, fake), rel=1e-3)
    assert {"val/kid", "val/precision", "val/recall", "val/density", "val/coverage"} <= set(trainer.callback_metrics)
    assert fid.real.shape == (64, 4)  # real features are kept for the next evaluation


class NaNLoss(NonSaturating):
    def d_loss(self, real_logits, fake_logits):
        return super().d_loss(real_logits, fake_logits) * math.nan


def test_divergence_guard_stops_with_one_line():
    model = make_module()
    model.loss = NaNLoss()
    trainer = pl.Trainer(max_steps=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=2,
                         callbacks=[DivergenceGuard()], accelerator="cpu")
    with pytest.raises(TrainingDiverged, match=r"^training diverged at step 2: train/d_loss=nan; lower optim"):
        trainer.fit(model, datamodule=make_data())


def test_guard_is_quiet_on_finite_losses():
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1,
                         callbacks=[DivergenceGuard()], accelerator="cpu")
    trainer.fit(make_module(), datamodule=make_data())
    assert trainer.global_step == 3
