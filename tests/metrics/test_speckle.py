"""Speckle: isolated foreground pixels on hand-made images, and the metric object's reduction."""

import pytest
import torch

from ganlab.metrics.speckle import Speckle, isolated_pixels, speckle_share


def image(*pixels: tuple[int, int], size: int = 6) -> torch.Tensor:
    """A [1, 1, size, size] image in [-1, 1]: background -1, the given pixels +1."""
    x = -torch.ones(1, 1, size, size)
    for i, j in pixels:
        x[0, 0, i, j] = 1.0
    return x


def test_isolated_pixels_counts_by_hand():
    # a lone pixel at (0, 0) (corner: off-image counts as background), a diagonal pair (neighbours via
    # the corner) and a lone pixel at (3, 5): 2 isolated of 4 foreground
    x = image((0, 0), (2, 2), (3, 3), (5, 5))
    iso, fg = isolated_pixels(x)
    assert (int(iso), int(fg)) == (2, 4)
    # the threshold decides what is foreground: a pixel at 0.2 counts at threshold 0, not at 0.5
    y = image((1, 1))
    y[0, 0, 1, 1] = 0.2
    assert int(isolated_pixels(y, 0.0)[0]) == 1 and int(isolated_pixels(y, 0.5)[1]) == 0


def test_speckle_share_of_uint8_and_strokes():
    stroke = image(*[(i, 2) for i in range(6)])  # a vertical line: no isolated pixel
    assert speckle_share(stroke) == 0.0
    x = torch.cat([stroke, image((0, 5))])  # + one lone pixel: 1 isolated of 7
    assert speckle_share(x) == pytest.approx(1 / 7)
    as_uint8 = ((x + 1) * 127.5).round().to(torch.uint8)  # the datasets' storage format
    assert speckle_share(as_uint8) == pytest.approx(1 / 7)
    with pytest.raises(ValueError, match=r"grayscale images \[N, 1, H, W\]"):
        isolated_pixels(torch.zeros(2, 3, 4, 4))


def test_speckle_metric_reduces_over_batches_and_against_real():
    metric = Speckle(real_share=0.1)
    metric.active = True
    metric.reset()
    metric.update(image((0, 0), (2, 2), (3, 3), (5, 5)), torch.tensor([0]))  # 2 of 4
    metric.update(image(*[(i, 2) for i in range(4)]), torch.tensor([1]))  # 0 of 4
    out = metric.compute()
    assert out["speckle"] == pytest.approx(2 / 8)
    assert out["speckle_vs_real"] == pytest.approx(2.5)
    metric.active = False  # colour data: nothing
    assert metric.compute() == {}
