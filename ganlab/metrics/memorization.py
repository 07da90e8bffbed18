"""Memorization: do generated samples copy training images? Nearest-neighbour tests against held-out reals.

FID, KID and precision/recall against the training set score a generator that emits its training images at
the floor. These tests compare how close samples come to the training set with how close real images that
were never trained on come to it:

- **distance**: L2 in pixel space, minimised over translations of up to ``max_shift`` pixels (a copy shifted by
  one pixel is still a copy), or L2 in the evaluation's feature space (``space="features"``, for large images
  or sets where the pixel search costs too much). On the digits, the digit features are not translation
  invariant enough for copy detection: a one-pixel shift moves a digit about 0.7 of the typical distance
  between two training digits (docs/evaluation.md, "Train, test and copying").
- **copy ratio** of a point p: d(p, x*) / rho(x*), where x* is p's nearest training image and rho(x*) the
  distance from x* to its own nearest other training image (the local spacing of the training set; the
  authenticity criterion of Alaa et al. 2022, "How Faithful is your Synthetic Data?", flags p when the ratio
  is below 1). A copy has ratio ~0; a new image about as far as the training images are from each other, ~1.
- **copy threshold** tau: the ``rate`` quantile of the copy ratios of one half of the held-out reals ("fit"),
  so about ``rate`` of genuinely new images fall below it; the other half ("check") measures that false-alarm
  rate. A sample below tau is a near-copy; ``copy_share`` is their share.
- **C_T** (Meehan, Chaudhuri & Dasgupta 2020, "A Non-Parametric Test to Detect Data-Copying in Generative
  Models"): the training set is cut into cells by k-means; in each cell a Mann-Whitney U test compares the
  samples' nearest-training distances with the held-out reals'; C_T is the cells' z-scores averaged with the
  held-out mass of each cell. C_T << 0 (e.g. < -3): samples are closer to the training set than new data is
  (copying); ~0: no evidence; > 0: samples are farther (underfitting).

k-means and the U statistic come from scikit-learn and SciPy, distances from torch's matrix product; written
here is the arithmetic that combines them (the translation-tolerant search included), for which no maintained
package exists (the C_T authors publish a research script, not a library).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import mannwhitneyu
from sklearn.cluster import KMeans
from torch import Tensor, nn

from ganlab.data.base import ImageData, to_model_space
from ganlab.metrics.metric import EvalMetric

log = logging.getLogger(__name__)
SPACES = ("pixels", "features")


def translations(x: Tensor, max_shift: int) -> list[Tensor]:
    """x [N, C, H, W] translated by every (dy, dx) in [-max_shift, max_shift]^2, filled with background -1."""
    if max_shift == 0 or x.dim() != 4:
        return [x]
    s, (h, w) = max_shift, x.shape[-2:]
    padded = F.pad(x, (s, s, s, s), value=-1.0)  # [N, C, H + 2s, W + 2s]
    return [padded[..., s + dy: s + dy + h, s + dx: s + dx + w] for dy in range(-s, s + 1) for dx in range(-s, s + 1)]


def nearest(queries: Tensor, reference: Tensor, max_shift: int = 0, exclude_self: bool = False,
            chunk: int = 1000) -> tuple[Tensor, Tensor]:
    """(distance [M], index [M]) of each query's nearest reference point, the query translated by up to
    ``max_shift`` pixels (images [M, C, H, W]; vectors [M, D] are compared as they are).

    Args:
        queries, reference: [M, ...] and [N, ...] of the same trailing shape, float.
        exclude_self: queries are the reference itself: query i never matches reference i (at any shift).
        chunk: queries per matrix product (memory: chunk x N floats).
    """
    ref = reference.flatten(1).float()  # [N, P]
    ref_sq = (ref * ref).sum(1)  # [N]
    dist, index = [], []
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk].float()
        best = torch.full((len(q),), float("inf"))
        arg = torch.zeros(len(q), dtype=torch.long)
        for moved in translations(q, max_shift):
            m = moved.flatten(1)  # [B, P]
            d2 = (m * m).sum(1, keepdim=True) + ref_sq[None] - 2 * m @ ref.T  # [B, N] squared distances
            if exclude_self:
                rows = torch.arange(len(q))
                d2[rows, rows + start] = float("inf")
            low, at = d2.min(1)
            better = low < best
            best[better], arg[better] = low[better], at[better]
        dist.append(best.clamp_min(0).sqrt().double())
        index.append(arg)
    return torch.cat(dist), torch.cat(index)


class TrainingSet:
    """Training points [N, ...] (images or feature vectors) with each point's spacing rho [N] to its nearest
    other training point, for nearest-neighbour queries under one distance."""

    def __init__(self, points: Tensor | np.ndarray, max_shift: int = 0) -> None:
        x = torch.as_tensor(np.asarray(points) if not isinstance(points, Tensor) else points).float()
        if x.dim() < 2 or len(x) < 2:
            raise ValueError(f"memorization needs >= 2 training points [N, ...], got shape {tuple(x.shape)}")
        if not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"memorization max_shift={max_shift}; valid: an integer >= 0 (pixels)")
        self.points, self.max_shift = x, max_shift if x.dim() == 4 else 0
        d, _ = nearest(x, x, self.max_shift, exclude_self=True)
        # duplicates in the training set have spacing 0; a copy of one is still a copy (ratio 0 / tiny)
        self.rho = d.clamp_min(1e-12)
        self._cells: dict[tuple[int, int], KMeans] = {}

    def cells(self, k: int, seed: int) -> KMeans:
        """k-means of the training points into k cells (fitted once per (k, seed))."""
        if (k, seed) not in self._cells:
            self._cells[(k, seed)] = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(self.features)
        return self._cells[(k, seed)]

    @classmethod
    def of(cls, points: Tensor | np.ndarray, max_shift: int = 0) -> TrainingSet:
        return cls(points, max_shift)

    @property
    def features(self) -> np.ndarray:
        """The points as vectors [N, P] (k-means cells of C_T)."""
        return self.points.flatten(1).double().numpy()

    def nearest(self, queries: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance [M], index [M]) of each query's nearest training point."""
        q = torch.as_tensor(np.asarray(queries) if not isinstance(queries, Tensor) else queries).float()
        d, i = nearest(q, self.points, self.max_shift)
        return d.numpy(), i.numpy()

    def ratios(self, queries: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(copy ratio [M], nearest distance [M], nearest index [M]) of queries."""
        dist, idx = self.nearest(queries)
        return dist / self.rho.numpy()[idx], dist, idx


def _flat(x: Tensor | np.ndarray) -> np.ndarray:
    return (x.detach().cpu().double() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))).flatten(1).numpy()


def fit_threshold(heldout_ratios: np.ndarray, rate: float = 0.03) -> float:
    """tau: the ``rate`` quantile of held-out reals' copy ratios (about ``rate`` of new images fall below it)."""
    if not 0 < rate < 1:
        raise ValueError(f"memorization rate={rate}; valid: 0 < rate < 1 (0.03: 3 % false alarms on new images)")
    r = np.asarray(heldout_ratios, dtype=np.float64)
    if r.size == 0:
        raise ValueError("memorization needs held-out real images to fit its threshold; none were given")
    return float(np.quantile(r, rate))


def mann_whitney_z(x: np.ndarray, y: np.ndarray) -> float:
    """z-score of the U statistic of x against y (U = pairs with x > y, ties half): < 0 when x tends smaller."""
    m, n = len(x), len(y)
    u = mannwhitneyu(x, y, alternative="two-sided").statistic  # SciPy's U of the first sample
    return float((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))


def ct_statistic(train: TrainingSet, heldout: Tensor, generated: Tensor, cells: int = 10, min_per_cell: int = 20,
                 seed: int = 0) -> float:
    """C_T of Meehan et al. 2020: the held-out-mass-weighted mean of per-cell Mann-Whitney z-scores of the
    generated samples' nearest-training distances against the held-out reals'. NaN when no cell has at least
    ``min_per_cell`` of both."""
    kmeans = train.cells(cells, seed)
    d_h, d_g = train.nearest(heldout)[0], train.nearest(generated)[0]
    c_h, c_g = kmeans.predict(_flat(heldout)), kmeans.predict(_flat(generated))
    total, weight = 0.0, 0.0
    for c in range(cells):
        xh, xg = d_h[c_h == c], d_g[c_g == c]
        if len(xh) >= min_per_cell and len(xg) >= min_per_cell:
            mass = len(xh) / len(d_h)
            total += mass * mann_whitney_z(xg, xh)
            weight += mass
    return total / weight if weight else float("nan")


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of range(n) into (fit, check) halves, each sorted."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


class CopyTest:
    """The held-out side of the tests, computed once: tau from the "fit" half, the held-out distances and cells.

    Args:
        train: the training set; heldout: held-out real points [H, ...] in the same space.
        rate, cells, min_per_cell, seed: see ``memorization_scores``.
    """

    def __init__(self, train: TrainingSet, heldout: Tensor, rate: float = 0.03, cells: int = 10,
                 min_per_cell: int = 20, seed: int = 0) -> None:
        self.train, self.cells, self.min_per_cell, self.seed = train, cells, min_per_cell, seed
        fit, check = halves(len(heldout), seed)
        ratio, self.dist, _ = train.ratios(heldout)
        self.tau = fit_threshold(ratio[fit], rate)
        self.false_alarms = float(np.mean(ratio[check] < self.tau))
        self.kmeans = train.cells(cells, seed)
        self.cell = self.kmeans.predict(_flat(heldout))  # [H]

    def scores(self, generated: Tensor) -> dict[str, float]:
        """The memorization values of generated points [M, ...] (see ``memorization_scores``)."""
        g_ratio, g_dist, _ = self.train.ratios(generated)
        g_cell = self.kmeans.predict(_flat(generated))
        total, weight = 0.0, 0.0
        for c in range(self.cells):  # C_T: per-cell z-scores weighted by the held-out mass of the cell
            xh, xg = self.dist[self.cell == c], g_dist[g_cell == c]
            if len(xh) >= self.min_per_cell and len(xg) >= self.min_per_cell:
                mass = len(xh) / len(self.dist)
                total += mass * mann_whitney_z(xg, xh)
                weight += mass
        return {
            "copy_share": float(np.mean(g_ratio < self.tau)),
            "copy_threshold": self.tau,
            "copy_share_heldout": self.false_alarms,
            "copy_ratio_median": float(np.median(g_ratio)),
            "nn_dist_median": float(np.median(g_dist)),
            "nn_dist_median_heldout": float(np.median(self.dist)),
            "ct": total / weight if weight else float("nan"),
        }


def memorization_scores(train: TrainingSet, heldout: Tensor, generated: Tensor, rate: float = 0.03,
                        cells: int = 10, min_per_cell: int = 20, seed: int = 0) -> dict[str, float]:
    """All memorization values of generated points [M, ...] against the training and held-out real points
    (images or features, as ``train`` holds them).

    Returns:
        copy_share: share of samples below tau (near-copies); copy_threshold: tau (fitted on the held-out
        "fit" half); copy_share_heldout: the share of the "check" half below tau (the false-alarm rate, ~rate);
        copy_ratio_median: the samples' median copy ratio; nn_dist_median / nn_dist_median_heldout: median
        nearest-training distance of the samples / of all held-out reals; ct: C_T over all held-out reals.
    """
    return CopyTest(train, heldout, rate, cells, min_per_cell, seed).scores(generated)


def pairs_grid(samples: Tensor, neighbours: Tensor, nrow: int = 8) -> Tensor:
    """Closest sample / training-image pairs side by side: a grid [3, H', W'] in [0, 1], ``nrow`` pairs a row.

    Args:
        samples: generated images [K, C, H, W] in [-1, 1]; neighbours: their nearest training images, same shape.
    """
    from torchvision.utils import make_grid

    pairs = torch.stack([samples.float(), neighbours.float()], 1).flatten(0, 1)  # [2K, C, H, W]: s0, n0, s1, ...
    return make_grid(pairs.clamp(-1, 1), nrow=2 * nrow, normalize=True, value_range=(-1, 1), padding=2,
                     pad_value=1.0)


class Memorization(EvalMetric):
    """Near-copies of training images and C_T at each evaluation (``val/copy_share``, ``val/ct``, ...).

    Needs real images the generator never trained on: the dataset's test split (``datamodule.test_images()``,
    e.g. mnist5k's 1,000 held-out digits) or else the datamodule's held-out split (``datamodule.holdout``).
    Without either it logs one line and computes nothing.

    Args:
        feature: the feature extractor (``dataset.feature``), used when ``space="features"``.
        space: ``pixels`` (L2 between images, translation-tolerant by ``max_shift``) or ``features``.
        max_shift: translations (pixels) a sample may be moved by to match a training image (pixel space).
        rate: false-alarm rate tau is fitted for on the held-out "fit" half (0.03).
        cells: k-means cells of C_T; min_per_cell: samples of each kind a cell needs to count.
        max_samples: generated samples scored per evaluation (the first ones; None: all).
        seed: seed of the held-out halves and of k-means.
        num_pairs: closest pairs kept for the image (0: none).
    """

    def __init__(self, feature: nn.Module | None = None, space: str = "pixels", max_shift: int = 1,
                 rate: float = 0.03, cells: int = 10, min_per_cell: int = 20, max_samples: int | None = None,
                 seed: int = 0, num_pairs: int = 16, batch_size: int = 500) -> None:
        super().__init__()
        if space not in SPACES:
            raise ValueError(f"memorization space={space!r}; valid: {', '.join(SPACES)}")
        if space == "features" and feature is None:
            raise ValueError("memorization space=features needs a feature extractor (dataset.feature=null); "
                             "use space=pixels")
        if not 0 < rate < 1:
            raise ValueError(f"memorization rate={rate}; valid: 0 < rate < 1 (0.03: 3 % false alarms)")
        if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 2):
            raise ValueError(f"memorization max_samples={max_samples}; valid: null or an integer >= 2")
        self.feature, self.space, self.max_shift = feature, space, max_shift
        self.rate, self.cells, self.min_per_cell, self.max_samples = rate, cells, min_per_cell, max_samples
        self.seed, self.num_pairs, self.batch_size = seed, num_pairs, batch_size
        self.active: bool | None = None  # decided at the first setup
        self.train: TrainingSet | None = None
        self.train_images: Tensor | None = None
        self.heldout: Tensor | None = None
        self.test: CopyTest | None = None
        self._best: list[tuple[float, Tensor, int]] = []  # (ratio, sample image, nearest training index)

    def _points(self, x: Tensor) -> Tensor:
        """What distances are taken on: images in [-1, 1] (clamped) or their features [N, D]."""
        if self.space == "pixels":
            return to_model_space(x).float().clamp(-1, 1).cpu()
        from ganlab.metrics.extraction import extract, real_batches

        batches = real_batches(x, self.batch_size) if x.dtype == torch.uint8 else [x]
        return extract(self.feature, batches, device=next(self.feature.parameters()).device)["features"].cpu()

    def set_reference(self, train: ImageData, heldout: ImageData, device: torch.device | str = "cpu") -> None:
        """The training and held-out reals' points (computed once) and the training set's spacing."""
        if self.feature is not None:
            self.feature.to(device)
        self.train = TrainingSet(self._points(train.x), self.max_shift if self.space == "pixels" else 0)
        self.heldout = self._points(heldout.x)
        self.test = CopyTest(self.train, self.heldout, self.rate, self.cells, self.min_per_cell, self.seed)
        self.train_images = train.x  # [N, C, H, W], for the pairs image
        self.active = True

    def setup(self, trainer: Any, pl_module: Any) -> None:
        if self.active is not None:
            if self.feature is not None:
                self.feature.to(pl_module.device)
            return
        dm = trainer.datamodule
        held = dm.test_images() if hasattr(dm, "test_images") else None
        if held is None and hasattr(dm, "heldout_images"):
            held = dm.heldout_images()
        if held is None:
            log.info("memorization: the dataset has no test split and datamodule.holdout=0; not measured")
            self.active = False
            return
        train = dm.training_images() if hasattr(dm, "training_images") else dm.real_images()
        self.set_reference(train, held, device=pl_module.device)

    def reset(self) -> None:
        super().reset()
        self._best = []

    def update(self, samples: Tensor, indices: Tensor) -> None:
        if not self.active:
            return
        points = self._points(samples)
        self.add(points=points)  # every sample's row, so that rows and sample indices stay aligned across ranks
        limit = self.max_samples if self.max_samples is not None else len(samples) + int(indices.max()) + 1
        scored = indices.cpu() < limit  # [B]: the samples compute() scores
        if self.num_pairs and scored.any():
            ratio, _, idx = self.train.ratios(points[scored])
            kept = samples[scored.to(samples.device)]
            for i in np.argsort(ratio)[: self.num_pairs]:
                self._best.append((float(ratio[i]), kept[i].detach().cpu(), int(idx[i])))
            self._best = sorted(self._best, key=lambda t: t[0])[: self.num_pairs]

    def compute(self) -> dict[str, float]:
        if not self.active:
            return {}
        points = self.rows("points")  # [N, ...] in sample order
        return self.test.scores(points[: self.max_samples] if self.max_samples is not None else points)

    def closest_pairs(self) -> tuple[Tensor, Tensor] | None:
        """(samples [K, C, H, W], their nearest training images [K, C, H, W]) in [-1, 1], closest first."""
        if not self._best or self.train_images.dim() != 4:
            return None
        samples = torch.stack([s for _, s, _ in self._best]).float()
        neighbours = to_model_space(self.train_images[[i for _, _, i in self._best]]).float()
        return samples, neighbours

    def images(self) -> dict[str, np.ndarray]:
        pairs = self.closest_pairs()
        if pairs is None:
            return {}
        grid = pairs_grid(*pairs)  # [3, H, W] (make_grid repeats a single channel)
        return {"memorization/closest_pairs": grid.permute(1, 2, 0).mul(255).round().byte().numpy()}
