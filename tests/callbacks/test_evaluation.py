"""The evaluation callback: any metric object plugs in, is gathered in sample order and logged as val/<name>."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger
from test_module import make_data, make_module

from ganlab.callbacks import Evaluation
from ganlab.metrics.feature_metrics import FeatureMetrics
from ganlab.metrics.gather import gather_in_order
from ganlab.metrics.metric import EvalMetric


class MeanPixel(EvalMetric):
    """A toy metric defined here: mean pixel value of the samples, whether they came in sample order."""

    best = {"mean_pixel": "max"}

    def update(self, samples, indices):
        self.add(mean=samples.flatten(1).mean(1), index=indices)  # [B], [B]

    def compute(self):
        index = self.rows("index")
        return {"mean_pixel": float(self.rows("mean").mean()), "num": index.numel(),
                "in_order": float(torch.equal(index, torch.arange(index.numel())))}

    def images(self):
        return {"toy": np.full((2, 3, 3), 7, dtype=np.uint8)}


class Recorder(Logger):
    """Keeps what is logged: scalars per step and images per tag."""

    def __init__(self):
        super().__init__()
        self.scalars: dict[int, dict[str, float]] = {}
        self.images: dict[str, list] = {}

    name, version = "recorder", 0

    @property
    def experiment(self):
        return self

    def add_image(self, tag, image, step, dataformats="CHW"):
        self.images.setdefault(tag, []).append((step, image.shape, dataformats))

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.scalars.setdefault(step, {}).update(metrics)


def test_a_new_metric_object_plugs_in_and_is_logged():
    model, data, recorder = make_module(), make_data(), Recorder()
    data.eval_samples, data.eval_batch_size = 40, 16  # batches of 16, 16, 8
    evaluation = Evaluation({"toy": MeanPixel()})
    trainer = pl.Trainer(max_steps=4, val_check_interval=2, check_val_every_n_epoch=None, logger=recorder,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=[evaluation], accelerator="cpu", log_every_n_steps=50)
    trainer.fit(model, datamodule=data)
    means = {step: logged["val/mean_pixel"] for step, logged in recorder.scalars.items() if "val/mean_pixel" in logged}
    assert sorted(means) == [2, 4]
    final = torch.cat([model.validation_step(b, 0) for b in data.val_dataloader()])  # G after step 4
    assert means[4] == pytest.approx(float(final.flatten(1).mean(1).mean()), rel=1e-6)
    last = recorder.scalars[4]
    assert last["val/num"] == 40.0 and last["val/in_order"] == 1.0
    assert last["val/mean_pixel_best"] == max(means.values())
    assert last["val/eval_seconds"] > 0
    assert recorder.images["toy"] == [(2, (2, 3, 3), "HWC"), (4, (2, 3, 3), "HWC")]
    assert trainer.callback_metrics["val/mean_pixel"].item() == pytest.approx(means[4])
    assert evaluation.state_dict() == {"best": {"mean_pixel": max(means.values())}}


def test_rows_come_back_in_sample_order():
    metric = MeanPixel()
    metric.reset()
    metric.update(torch.full((2, 1), 3.0), torch.tensor([2, 3]))  # batches seen out of order
    metric.update(torch.full((2, 1), 1.0), torch.tensor([0, 1]))
    metric.sync(gather_in_order(torch.tensor([2, 3, 0, 1])))
    assert metric.rows("mean").tolist() == [1.0, 1.0, 3.0, 3.0]
    assert metric.compute()["in_order"] == 1.0


def test_bad_metric_objects_are_one_line_errors():
    with pytest.raises(TypeError, match=r"^metrics.fid: a dict is not a metric object; valid: a subclass of"):
        Evaluation({"fid": {"_target_": "x"}})
    with pytest.raises(ValueError, match=r"^feature=None: .*dataset.feature=null.*use metrics=none"):
        FeatureMetrics(feature=None)
    with pytest.raises(ValueError, match="no 'mean' rows"):
        MeanPixel().rows("mean")
