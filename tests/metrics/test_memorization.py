"""Memorization arithmetic on hand-made point sets, and the copy check on real digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlab.data.base import ImageData, to_model_space
from ganlab.metrics.memorization import (
    Memorization,
    TrainingSet,
    ct_statistic,
    fit_threshold,
    mann_whitney_z,
    memorization_scores,
    nearest,
    pairs_grid,
)


def test_spacing_and_ratio_on_three_points():
    train = TrainingSet(torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]]))
    # each point's nearest OTHER point: 3, 3, 4 (never itself)
    np.testing.assert_allclose(train.rho.numpy(), [3, 3, 4])
    ratio, dist, idx = train.ratios(torch.tensor([[1.0, 0.0], [0.0, 4.0], [3.0, 0.5]]))
    np.testing.assert_allclose(dist, [1, 0, 0.5], atol=1e-6)
    assert idx.tolist() == [0, 2, 1]
    np.testing.assert_allclose(ratio, [1 / 3, 0, 0.5 / 3], atol=1e-6)


def test_translation_tolerant_distance():
    img = -torch.ones(1, 1, 8, 8)
    img[0, 0, 2:5, 3] = 1.0  # a vertical stroke
    moved = torch.roll(img, shifts=1, dims=-1)  # one pixel to the right (the border column stays -1)
    other = -torch.ones(1, 1, 8, 8)
    other[0, 0, 6, 1:4] = 1.0
    ref = torch.cat([other, img])
    d0, i0 = nearest(moved, ref, max_shift=0)
    d1, i1 = nearest(moved, ref, max_shift=1)
    assert d0.item() == pytest.approx(math.sqrt(6 * 4), abs=1e-5)  # 6 pixels differ by 2
    assert d1.item() == pytest.approx(0.0, abs=1e-3) and i1.item() == 1


def test_threshold_is_the_quantile():
    assert fit_threshold(np.arange(101.0), 0.03) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="rate=0; valid: 0 < rate < 1"):
        fit_threshold(np.arange(5.0), 0)


def test_mann_whitney_z_by_hand():
    # x entirely below y: U = 0, mean mn/2 = 4.5, variance mn(m+n+1)/12 = 5.25
    assert mann_whitney_z(np.array([1.0, 2, 3]), np.array([4.0, 5, 6])) == pytest.approx(-4.5 / math.sqrt(5.25))
    assert mann_whitney_z(np.array([4.0, 5, 6]), np.array([1.0, 2, 3])) == pytest.approx(4.5 / math.sqrt(5.25))
    # interleaved: pairs with x > y are (4, 2), (4, 3), (5, 2), (5, 3): U = 4
    assert mann_whitney_z(np.array([1.0, 4, 5]), np.array([2.0, 3, 6])) == pytest.approx(-0.5 / math.sqrt(5.25))


def test_ct_with_one_cell_is_the_z_of_the_distances():
    g = torch.Generator().manual_seed(0)
    train = TrainingSet(torch.randn(200, 2, generator=g))
    held = torch.randn(60, 2, generator=g)
    near = train.points[:60] + 0.01 * torch.randn(60, 2, generator=g)  # copies, slightly moved
    d_h, d_g = train.nearest(held)[0], train.nearest(near)[0]
    expected = mann_whitney_z(d_g, d_h)
    assert ct_statistic(train, held, near, cells=1, min_per_cell=5) == pytest.approx(expected)
    assert expected < -5  # the copies are far closer to the training set than new points are


def test_scores_of_copies_and_of_new_points():
    g = torch.Generator().manual_seed(1)
    train = TrainingSet(torch.randn(400, 3, generator=g))
    held = torch.randn(200, 3, generator=g)
    copies = memorization_scores(train, held, train.points[:100], cells=2, min_per_cell=10)
    assert copies["copy_share"] == 1.0 and copies["nn_dist_median"] < 1e-3 and copies["ct"] < -3
    fresh = memorization_scores(train, held, torch.randn(300, 3, generator=g), cells=2, min_per_cell=10)
    assert fresh["copy_share"] < 0.15 and abs(fresh["ct"]) < 3
    assert fresh["copy_threshold"] == copies["copy_threshold"]  # fitted on the held-out reals only
    assert 0 <= fresh["copy_share_heldout"] <= 0.1


def test_metric_object_and_pairs_image():
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(120, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    metric = Memorization(space="pixels", max_shift=1, cells=2, min_per_cell=5, num_pairs=4)
    metric.set_reference(ImageData(x[:80], None, "toy"), ImageData(x[80:], None, "toy"))
    metric.reset()
    samples = to_model_space(x[:10])  # exact copies of training images
    metric.update(samples[:6], torch.arange(6))
    metric.update(samples[6:], torch.arange(6, 10))
    values = metric.compute()
    assert values["copy_share"] == 1.0
    s, n = metric.closest_pairs()
    assert s.shape == n.shape == (4, 1, 8, 8)
    torch.testing.assert_close(s, n)  # each kept sample sits beside the training image it copies
    image = metric.images()["memorization/closest_pairs"]
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert pairs_grid(s, n, nrow=2).shape == (3, 2 + 2 * 10, 2 + 4 * 10)


def test_bad_settings_are_one_line():
    with pytest.raises(ValueError, match="space='latent'; valid: pixels, features"):
        Memorization(space="latent")
    with pytest.raises(ValueError, match="space=features needs a feature extractor"):
        Memorization(space="features")
    with pytest.raises(ValueError, match="max_shift=-1; valid"):
        TrainingSet(torch.zeros(3, 1, 4, 4), max_shift=-1)


@pytest.mark.slow  # ~40 s of CPU: 4,000 x 4,000 translation-tolerant distances, k-means on 4,000 digits
def test_copies_and_near_copies_of_digits_are_flagged():
    # the bar: >= 95 % of copies and near-copies flagged, <= 5 % of new digits (the held-out check half)
    from ganlab.metrics.calibration.copies import SETS, copy_calibration

    rows = copy_calibration(n=200, sets=[s for s in SETS if s[3]])
    for row in rows:
        assert row["copy_share"] >= 0.95, row
        assert row["ct"] < -3, row
    assert rows[0]["copy_share_heldout"] <= 0.05


def test_max_samples_scores_the_first_samples_and_keeps_rows_aligned():
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(130, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    metric = Memorization(space="pixels", cells=2, min_per_cell=5, max_samples=6, num_pairs=3)
    metric.set_reference(ImageData(x[:80], None, "toy"), ImageData(x[80:120], None, "toy"))
    metric.reset()
    copies = to_model_space(x[:6])  # samples 0-5: copies; samples 6-9: noise
    noise = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    batch = torch.cat([copies, noise])
    metric.update(batch[:4], torch.arange(4))
    metric.update(batch[4:], torch.arange(4, 10))
    metric.sync(lambda rows: rows)  # one process: the gather returns the rows as they are
    assert metric.rows("points").shape[0] == 10  # a row per sample, as the evaluation gathers them
    assert metric.compute()["copy_share"] == 1.0  # only the first 6 samples are scored: all copies
    assert all(ratio < 1e-3 for ratio, _, _ in metric._best)  # the pairs come from the scored samples
