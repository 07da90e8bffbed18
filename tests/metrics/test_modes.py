"""Mode metrics of the 2-D mixtures on hand-placed points: exact expected values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlab.data.toy import grid_means, load_ring, ring_means
from ganlab.metrics.mode_coverage import ModeCoverage, mode_metrics, scatter_image

MEANS = ring_means(8)
STD = 0.01


def test_ring_has_eight_distinct_modes_on_the_unit_circle():
    assert MEANS.shape == (8, 2)
    assert torch.cdist(MEANS, MEANS).add(torch.eye(8) * 9).min() > 0.7  # 2 sin(pi/8) = 0.765 apart
    torch.testing.assert_close(MEANS.norm(dim=1), torch.ones(8))
    assert grid_means().unique(dim=0).shape == (25, 2)


def test_all_points_on_modes():
    samples = MEANS.repeat(10, 1)  # 80 points, 10 on each centre
    m = mode_metrics(samples, MEANS, STD)
    assert m == {"modes": 8, "high_quality": 100.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


def test_half_off_the_modes():
    on = MEANS.repeat(5, 1)  # 40 points on the modes
    off = MEANS.repeat(5, 1) * 0.5  # 40 points at radius 0.5: 50 std from every centre
    m = mode_metrics(torch.cat([on, off]), MEANS, STD)
    assert m["modes"] == 8 and m["high_quality"] == 50.0 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_one_mode_missing_and_uneven_histogram():
    # modes 0..6 captured; mode 0 gets 2 points, the others 1: p = (2, 1, 1, 1, 1, 1, 1) / 8
    samples = torch.cat([MEANS[:7], MEANS[:1]]) + torch.tensor([2.9 * STD, 0.0])  # just inside 3 std
    m = mode_metrics(samples, MEANS, STD)
    p = np.array([2, 1, 1, 1, 1, 1, 1]) / 8
    assert m["modes"] == 7 and m["high_quality"] == 100.0
    assert m["reverse_kl"] == pytest.approx(float((p * np.log(p * 8)).sum()), rel=1e-12)


def test_threshold_is_three_std_and_collapse_gives_log_k():
    just_out = MEANS[:1] + torch.tensor([3.1 * STD, 0.0])
    assert mode_metrics(just_out, MEANS, STD)["high_quality"] == 0.0
    assert math.isnan(mode_metrics(just_out, MEANS, STD)["reverse_kl"])  # no high-quality point: undefined
    collapsed = mode_metrics(MEANS[3:4].repeat(50, 1), MEANS, STD)
    assert collapsed["modes"] == 1 and collapsed["reverse_kl"] == pytest.approx(math.log(8))


def test_real_ring_data_scores_all_modes_and_scatter_plot_renders():
    data = load_ring(n=2500, seed=1)
    m = mode_metrics(data.x, MEANS, STD)
    assert m["modes"] == 8 and m["high_quality"] > 98.5  # 98.9 % of a 2-D normal lies within 3 std
    assert m["reverse_kl"] < 0.01
    image = scatter_image(data.x[:500], MEANS, STD)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.std() > 0


def test_mode_coverage_object_equals_mode_metrics_and_checks_shape():
    metric = ModeCoverage(MEANS, STD)
    samples = torch.cat([MEANS[:7], MEANS[:1]]) + torch.tensor([2.9 * STD, 0.0])  # as in the uneven test
    metric.reset()
    metric.update(samples[:5], torch.arange(5))
    metric.update(samples[5:], torch.arange(5, 8))
    assert metric.compute() == mode_metrics(samples, MEANS, STD)
    assert metric.compute()["modes"] == 7
    assert metric.images()["modes"].shape[2] == 3 and ModeCoverage(MEANS, STD, plot=False).images() == {}
    with pytest.raises(ValueError, match=r"metrics=modes needs flat 2-d samples \(dataset=ring or grid\)"):
        metric.update(torch.zeros(2, 1, 4, 4), torch.arange(2))
