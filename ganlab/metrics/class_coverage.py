"""Class and mode coverage of generated samples by the dataset's own classifier (labelled data).

A classifier of the dataset's classes labels every generated sample; the class histogram p of the
samples is compared with the real class distribution q: ``class_kl`` = KL(p || q) = sum_c p_c log(p_c / q_c)
(nats; 0 for a perfect balance, log 10 = 2.30 for a collapse onto one of 10 equally likely classes),
``classes_covered`` = classes with p_c >= min_share * q_c, and ``confidence`` = the mean max-probability
(low for malformed samples the classifier cannot read).
"""

from __future__ import annotations

import io
import logging
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ganlab.metrics.metric import EvalMetric

log = logging.getLogger(__name__)


def class_statistics(pred: Tensor, real: Tensor, min_share: float = 0.1) -> dict[str, Any]:
    """Histogram, KL to the real distribution and classes covered of predicted labels.

    Args:
        pred: predicted class of each generated sample, int [N] in 0..C-1.
        real: the real class distribution [C] (any non-negative weights, e.g. label counts).
        min_share: a class is covered when its generated share is at least ``min_share`` times its real share.

    Returns:
        ``class_kl`` (KL(p || q) in nats; inf when p puts mass on a class q lacks), ``classes_covered`` (int)
        and ``histogram`` (float64 [C], the generated shares p).
    """
    q = real.double().cpu() / real.double().sum()
    if pred.numel() == 0:
        raise ValueError("class statistics of no samples: num_samples must be > 0")
    if int(pred.min()) < 0 or int(pred.max()) >= q.numel():
        raise ValueError(f"predicted classes must lie in 0..{q.numel() - 1}; got {int(pred.min())}..{int(pred.max())}")
    p = torch.bincount(pred.flatten().long().cpu(), minlength=q.numel()).double() / pred.numel()  # [C]
    on = p > 0
    kl = float((p[on] * (p[on] / q[on]).log()).sum())  # 0 log 0 = 0; p_c > 0 = q_c gives inf
    covered = (p >= min_share * q - 1e-12).logical_and(q > 0)  # 1e-12: 0.01 >= 0.1 * 0.1 despite rounding
    return {"class_kl": kl, "classes_covered": int(covered.sum()), "histogram": p}


def histogram_image(p: Tensor, q: Tensor) -> np.ndarray:
    """Generated vs real class shares as bars, an RGB array [H, W, 3]."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, changes no global backend
    from PIL import Image

    fig = Figure(figsize=(4, 2.5), dpi=100)
    ax = fig.subplots()
    c = np.arange(len(p))
    ax.bar(c - 0.2, p.numpy(), 0.4, label="generated")
    ax.bar(c + 0.2, (q / q.sum()).numpy(), 0.4, label="real")
    ax.set(xticks=c, xlabel="class", ylabel="share")
    ax.legend(fontsize=6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return np.asarray(Image.open(buf).convert("RGB"))


class ClassCoverage(EvalMetric):
    """``class_kl``, ``classes_covered`` and ``confidence`` of generated samples (``class_statistics``), and
    a ``classes`` histogram image (generated vs real shares).

    Args:
        classifier: has ``logits(x [N, C, H, W]) -> [N, num_classes]`` for the dataset's own classes (the
            dataset's ``classifier``); None: the dataset has none and the metric logs one line and gives nothing.
        real_counts: the real class distribution [num_classes] (None: the labels of the training set at setup).
        min_share: covered when the generated share is at least ``min_share`` x the real share.
        plot: also give the histogram image.
    """

    best: ClassVar[dict[str, str]] = {"class_kl": "min"}

    def __init__(self, classifier: nn.Module | None, real_counts: Tensor | None = None, min_share: float = 0.1,
                 plot: bool = True) -> None:
        super().__init__()
        if classifier is not None and not hasattr(classifier, "logits"):
            raise ValueError(f"metrics: ClassCoverage needs a classifier with logits(); {type(classifier).__name__} "
                             f"has none (set dataset.classifier to a classifier of the dataset's classes, or null)")
        self.classifier, self.min_share, self.plot = classifier, min_share, plot
        self.real = None if real_counts is None else torch.as_tensor(real_counts).double()
        self._last: dict[str, Any] = {}
        if classifier is None:
            log.info("class coverage off: the dataset has no classifier of its classes (dataset.classifier=null)")

    def provides(self) -> dict[str, Any]:
        return {} if self.classifier is None else {"classifier": self.classifier, "min_share": self.min_share}

    def setup(self, trainer: Any, pl_module: Any) -> None:
        if self.classifier is None:
            return
        self.classifier.to(pl_module.device)
        if self.real is None:
            self.set_real_labels(trainer.datamodule.real_images().y)

    def set_real_labels(self, labels: Tensor | None) -> None:
        """The real class distribution from the training labels [N]."""
        if labels is None:
            raise ValueError("class coverage needs the dataset's labels; "
                             "set dataset.classifier=null for unlabelled data")
        self.real = torch.bincount(labels.long().cpu()).double()

    def update(self, samples: Tensor, indices: Tensor) -> None:
        if self.classifier is None:
            return
        prob = self.classifier.logits(samples).float().softmax(1)  # [B, num_classes]
        conf, pred = prob.max(1)
        self.add(pred=pred, confidence=conf)

    def compute(self) -> dict[str, float]:
        if self.classifier is None:
            return {}
        if self.real is None:
            raise ValueError("ClassCoverage: no real class distribution; call setup() or set_real_labels() first")
        pred = self.rows("pred")
        real = torch.nn.functional.pad(self.real, (0, max(0, int(pred.max()) + 1 - self.real.numel())))
        stats = class_statistics(pred, real, self.min_share)
        self._last = {"p": stats["histogram"], "q": real}
        return {"class_kl": stats["class_kl"], "classes_covered": float(stats["classes_covered"]),
                "confidence": float(self.rows("confidence").double().mean())}

    def histogram(self) -> Tensor | None:
        """Generated class shares [C] of the last ``compute`` (None before)."""
        return self._last.get("p")

    def images(self) -> dict[str, np.ndarray]:
        if not self.plot or not self._last:
            return {}
        return {"classes": histogram_image(self._last["p"].float(), self._last["q"].float())}
