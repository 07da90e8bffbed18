"""The calibration distortions: deterministic given a seed, and each does what its name says."""

from __future__ import annotations

import pytest
import torch

from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import load_mnist5k
from ganlab.metrics.calibration.distortions import FAMILIES, distort


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist5k(resolution=32, channels=1)
    return to_model_space(data.x), data.y


@pytest.mark.parametrize("family", [f for f in FAMILIES], ids=[f.name for f in FAMILIES])
def test_deterministic_given_a_seed(mnist, family):
    x, y = mnist
    s = family.strengths[-1]
    a, b = distort(x, y, family.name, s, n=300, seed=3), distort(x, y, family.name, s, n=300, seed=3)
    assert a.shape == (300, 1, 32, 32) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    assert not torch.equal(a, distort(x, y, family.name, s, n=300, seed=4))


def _rows_in(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Index into x of each row of a (exact match), -1 when none."""
    d = torch.cdist(a.flatten(1), x.flatten(1), compute_mode="donot_use_mm_for_euclid_dist")  # exact zeros
    val, idx = d.min(1)
    return torch.where(val == 0, idx, torch.full_like(idx, -1))


def test_pixel_distortions_change_pixels_as_named(mnist):
    x, y = mnist
    salted = distort(x, y, "salt", 0.05, n=2000)
    base = distort(x, y, "half", 0, n=2000)  # the same subset: salt draws it first with the same seed
    changed = (salted != base).float().mean().item()
    background = (base < 1).float().mean().item()
    assert abs(changed - 0.05 * background) < 0.003
    shifted = distort(x, y, "shift", 2, n=500)
    assert (_rows_in(shifted, x) == -1).all()  # every image moved
    assert torch.equal(distort(x, y, "box_blur", 1, n=100), distort(x, y, "half", 0, n=100))


def test_set_distortions_reweight_the_classes(mnist):
    x, y = mnist
    idx = _rows_in(distort(x, y, "collapse", 1, n=1000), x)
    assert (idx >= 0).all() and set(y[idx].tolist()) == {1}
    idx = _rows_in(distort(x, y, "drop_classes", 3, n=1000), x)
    assert len(set(y[idx].tolist())) == 7
    idx = _rows_in(distort(x, y, "over_represent", 0.5, n=1000), x)
    assert torch.bincount(y[idx], minlength=10).max().item() == 500
    idx = _rows_in(distort(x, y, "memorize", 10, n=1000), x)
    assert (idx >= 0).all() and len(set(idx.tolist())) == 10


def test_bad_names_are_one_line_errors(mnist):
    x, y = mnist
    with pytest.raises(ValueError, match="unknown distortion 'fog'; valid: half, gaussian_noise"):
        distort(x, y, "fog", 1)
    with pytest.raises(ValueError, match="odd integer"):
        distort(x, y, "box_blur", 2, n=10)
