"""The memorization check calibrated on known copies: what share of each set the copy test flags.

Sets of the calibration suite's distortions of mnist5k's training digits (ganlab.metrics.distortions): exact
copies of 1,000 / 100 / 10 training images, the same images shifted by one pixel or with light Gaussian noise
(near-copies: must be flagged), stronger changes (reported, not required), and the held-out "check" half of the
test split (new digits: the false-alarm rate). The threshold is fitted on the other half of the test split only.
"""

from __future__ import annotations

from collections.abc import Sequence

from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import load_mnist5k
from ganlab.metrics.calibration.distortions import distort
from ganlab.metrics.memorization import TrainingSet, memorization_scores

# (family, strength, what it is, must be flagged)
SETS: tuple[tuple[str, float, str, bool], ...] = (
    ("memorize", 1000, "copies of 1,000 training images", True),
    ("memorize", 100, "copies of 100 training images", True),
    ("memorize", 10, "copies of 10 training images", True),
    ("shift", 1, "training images shifted by 1 px", True),
    ("gaussian_noise", 0.05, "training images + noise sigma 0.05", True),
    ("gaussian_noise", 0.1, "training images + noise sigma 0.1", True),
    ("gaussian_noise", 0.2, "training images + noise sigma 0.2", False),
    ("shift", 2, "training images shifted by 2 px", False),
    ("box_blur", 3, "training images, 3x3 box blur", False),
    ("rotate", 5, "training images rotated 5 degrees", False),
)


def copy_calibration(n: int = 1000, seed: int = 1, max_shift: int = 1, rate: float = 0.03,
                     sets: Sequence[tuple[str, float, str, bool]] = SETS) -> list[dict]:
    """One row per set: its share flagged as near-copies (``copy_share``), C_T, and the held-out check's share.

    Args:
        n: images per set; seed: seed of the distortions; max_shift, rate: the test's settings.
    """
    train, test = load_mnist5k(split="train"), load_mnist5k(split="test")
    x_train, x_test = to_model_space(train.x), to_model_space(test.x)
    reference = TrainingSet(x_train, max_shift)
    rows = []
    for family, strength, what, required in sets:
        x = distort(x_train, train.y, family, strength, n=n, seed=seed)
        values = memorization_scores(reference, x_test, x, rate=rate)
        rows.append({"set": f"{family} {strength:g}", "what": what, "required": required, **values})
    return rows
