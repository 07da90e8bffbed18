"""Class coverage on hand-made label sets: histogram, KL to the real distribution, classes covered, confidence."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.metrics.class_coverage import ClassCoverage, class_statistics

UNIFORM = torch.full((10,), 500)


def test_balanced_labels_have_zero_kl_and_cover_every_class():
    s = class_statistics(torch.arange(10).repeat(7), UNIFORM)
    assert s["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert s["classes_covered"] == 10
    torch.testing.assert_close(s["histogram"], torch.full((10,), 0.1, dtype=torch.float64))


def test_collapse_onto_one_class_is_log_10():
    s = class_statistics(torch.full((100,), 1), UNIFORM)
    assert s["class_kl"] == pytest.approx(math.log(10), abs=1e-12)  # 1 * log(1 / 0.1)
    assert s["classes_covered"] == 1


def test_hand_computed_kl_of_an_unbalanced_set():
    # 4 samples: class 0 twice, 1 and 2 once -> p = (1/2, 1/4, 1/4, 0); real q = (0.4, 0.2, 0.2, 0.2)
    s = class_statistics(torch.tensor([0, 0, 1, 2]), torch.tensor([4.0, 2.0, 2.0, 2.0]))
    expected = 0.5 * math.log(0.5 / 0.4) + 2 * 0.25 * math.log(0.25 / 0.2)  # = 0.2231 nats
    assert s["class_kl"] == pytest.approx(expected, abs=1e-12) and expected == pytest.approx(0.22314, abs=1e-5)
    assert s["classes_covered"] == 3


def test_covered_needs_min_share_of_the_real_share():
    # 1 of 100 samples in class 9: share 0.01 = 0.1 x 0.1 (covered); 0 in class 8 (not covered)
    pred = torch.cat([torch.arange(8).repeat_interleave(12), torch.tensor([9] * 1 + [0] * 3)])
    assert pred.numel() == 100
    assert class_statistics(pred, UNIFORM, min_share=0.1)["classes_covered"] == 9
    assert class_statistics(pred, UNIFORM, min_share=0.2)["classes_covered"] == 8


def test_out_of_range_labels_are_a_one_line_error():
    with pytest.raises(ValueError, match=r"must lie in 0\.\.9; got 0\.\.10"):
        class_statistics(torch.tensor([0, 10]), UNIFORM)


class Fixed(torch.nn.Module):
    """A 'classifier' whose logits are the pixel values of the first 3 pixels: class = argmax."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :3] * 10


def test_metric_object_reports_kl_coverage_confidence_and_an_image():
    m = ClassCoverage(Fixed(), real_counts=torch.tensor([1.0, 1.0, 1.0]))
    m.reset()
    x = torch.zeros(4, 3)
    x[[0, 1], 0] = 1.0  # two confident class-0 samples
    x[2, 1] = 1.0  # one confident class-1 sample
    # sample 3: all logits equal -> class 0 by argmax, confidence 1/3
    m.update(x[:2], torch.arange(2))
    m.update(x[2:], torch.arange(2, 4))
    out = m.compute()
    p = torch.tensor([0.75, 0.25, 0.0], dtype=torch.float64)
    kl = float((p[:2] * (p[:2] * 3).log()).sum())
    assert out["class_kl"] == pytest.approx(kl, abs=1e-9)
    assert out["classes_covered"] == 2.0
    conf1 = 1 / (1 + 2 * math.exp(-10))  # softmax max of logits (10, 0, 0)
    assert out["confidence"] == pytest.approx((3 * conf1 + 1 / 3) / 4, abs=1e-6)
    img = m.images()["classes"]
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype.name == "uint8"


def test_no_classifier_skips_itself():
    m = ClassCoverage(None)
    m.update(torch.zeros(2, 1, 4, 4), torch.arange(2))
    assert m.compute() == {} and m.images() == {}


def test_a_feature_without_logits_is_refused():
    with pytest.raises(ValueError, match="needs a classifier with logits"):
        ClassCoverage(torch.nn.Identity())
