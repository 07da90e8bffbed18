"""Stacked MNIST mode counting: exact values on constructed sets, accuracy on real stacks, the presets train."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import TINY
from torch import Tensor

from ganlab.cli.train import train
from ganlab.data.base import to_model_space
from ganlab.data.stacked import load_stacked_mnist5k
from ganlab.metrics.extractors.digits import DigitFeatures
from ganlab.metrics.extractors.stacked_digits import StackedDigitFeatures
from ganlab.metrics.stacked_modes import StackedModes, mode_statistics, predict_modes, stacked_modes
from ganlab.runs.read import read_run

PRESETS = ["stacked_mnist5k", "stacked_mnist5k_pacgan2", "stacked_mnist5k_unrolled"]


class ValueClassifier:
    """A perfect classifier for synthetic digits: an image filled with the value (d - 4.5) / 5 is digit d."""

    def logits(self, x: Tensor) -> Tensor:
        d = (x.mean((1, 2, 3)) * 5 + 4.5).round().long()  # [M]
        return torch.nn.functional.one_hot(d, 10).float()  # [M, 10]


def synthetic(triples: Tensor) -> Tensor:
    """Images [N, 3, 4, 4] whose channel c is filled with the ValueClassifier code of triples[:, c]."""
    return ((triples.float() - 4.5) / 5)[:, :, None, None].expand(-1, -1, 4, 4)


def all_triples() -> Tensor:
    m = torch.arange(1000)
    return torch.stack([m // 100, m // 10 % 10, m % 10], 1)  # [1000, 3], row k = digits of k


@pytest.fixture(scope="module")
def clf() -> DigitFeatures:
    return DigitFeatures(version="v1")  # the stacked numbers' classifier


@pytest.fixture(scope="module")
def real():
    return load_stacked_mnist5k(n=1_000, seed=1)


def test_mode_index_is_the_triple_read_as_a_number():
    triples = torch.tensor([[3, 7, 1], [0, 0, 9], [9, 9, 9]])
    assert predict_modes(synthetic(triples), ValueClassifier()).tolist() == [371, 9, 999]


def test_uniform_over_all_1000_modes_has_zero_reverse_kl():
    stats = stacked_modes(synthetic(all_triples()), ValueClassifier(), batch_size=300)
    assert stats["modes"] == 1000
    assert torch.equal(stats["counts"], torch.ones(1000, dtype=torch.long))
    assert abs(stats["reverse_kl"]) < 1e-12


def test_one_mode_has_reverse_kl_log_1000(real, clf):
    images = to_model_space(real.x[:1]).expand(40, -1, -1, -1)  # one real stacked image, 40 times
    stats = stacked_modes(images, clf, batch_size=16)
    assert stats["modes"] == 1 and int(stats["counts"].max()) == 40
    assert stats["reverse_kl"] == pytest.approx(math.log(1000), rel=1e-12)


def test_stacked_modes_object_counts_over_batches():
    metric = StackedModes(ValueClassifier(), batch_size=7)
    metric.reset()
    triples = all_triples()[[5, 5, 5, 998]]  # p = (3/4, 1/4), as below
    metric.update(synthetic(triples[:3]), torch.arange(3))
    metric.update(synthetic(triples[3:]), torch.arange(3, 4))
    values = metric.compute()
    assert values["modes"] == 2.0
    assert values["reverse_kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), rel=1e-12)
    assert StackedModes.best == {"modes": "max", "reverse_kl": "min"}


def test_reverse_kl_of_a_two_mode_histogram():
    # p = (3/4, 1/4): KL = 3/4 log(750) + 1/4 log(250)
    stats = mode_statistics(torch.tensor([5, 5, 5, 998]))
    assert stats["modes"] == 2
    assert stats["reverse_kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), rel=1e-12)
    assert math.isnan(mode_statistics(torch.zeros(0, dtype=torch.long))["reverse_kl"])
    with pytest.raises(ValueError, match="0..999"):
        mode_statistics(torch.tensor([1000]))


def test_real_stacks_are_classified_correctly(real, clf):
    stats = stacked_modes(to_model_space(real.x), clf)
    pred = predict_modes(real.x, clf)  # uint8 input is scaled the same way
    accuracy = (pred == real.y).float().mean().item()
    assert accuracy >= 0.97  # 0.992^3 = 0.976 from the held-out digit accuracy
    true = mode_statistics(real.y)
    assert abs(stats["modes"] - true["modes"]) <= 0.03 * true["modes"]  # ~632 distinct of 1,000 draws
    assert stats["reverse_kl"] == pytest.approx(true["reverse_kl"], abs=0.05)


def test_wrong_shape_names_the_dataset(clf):
    with pytest.raises(ValueError, match="dataset=stacked_mnist5k"):
        predict_modes(torch.zeros(2, 1, 32, 32), clf)
    with pytest.raises(ValueError, match="metrics=stacked_modes needs 3-channel"):
        StackedModes(clf).update(torch.zeros(2, 1, 32, 32), torch.arange(2))


def test_stacked_features_are_per_channel_digit_features(real, clf):
    feats = StackedDigitFeatures()
    x = to_model_space(real.x[:6])  # [6, 3, 32, 32]
    f, logits = feats.features_and_logits(x)
    assert f.shape == (6, 384) and feats.num_features == 384 and feats.sha256 == clf.sha256
    torch.testing.assert_close(f[:, 128:256], clf(x[:, 1:2]))  # the green channel's digit features
    torch.testing.assert_close(feats(x), f)
    assert logits.shape == (6, 1000)
    torch.testing.assert_close(logits.logsumexp(1), torch.zeros(6), atol=1e-5, rtol=0)
    assert torch.equal(logits.argmax(1), predict_modes(x, clf))


def test_presets_compose(compose_cfg):
    base, pac, unrolled = (compose_cfg(f"experiment={name}") for name in PRESETS)
    assert base.generator.width == 4 * base.discriminator.width  # D at 1/4 of G (Metz et al. 2017)
    assert base.metrics.num_samples == 26_000 and base.metrics.monitor == base.optimized_metric == "val/reverse_kl"
    assert (base.dataset.name, base.pack, base.game.unroll) == ("stacked_mnist5k", 1, None)
    assert (pac.pack, pac.dataset.batch_size) == (2, 2 * base.dataset.batch_size)  # same packs per step
    assert (unrolled.pack, unrolled.game.unroll.steps) == (1, 3)
    for cfg in (pac, unrolled):  # one change each against the baseline
        assert cfg.trainer.max_steps == base.trainer.max_steps and cfg.optim == base.optim
        assert cfg.get("published") is None


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_and_logs_modes(compose_cfg, tmp_path, name):
    cfg = compose_cfg(f"experiment={name}", *TINY, "dataset.source.n=500", "dataset.batch_size=16")
    value = train(cfg)
    curves = read_run(Path(cfg.paths.output_dir)).curves
    modes, kl = curves["val/modes"], curves["val/reverse_kl"]
    assert sorted(modes) == [2, 4]  # evaluated at steps 2 and 4 on 200 samples
    assert all(1 <= m <= 200 for m in modes.values())
    assert all(0 <= v <= math.log(1000) + 1e-6 for v in kl.values())
    assert value == pytest.approx(kl[4], rel=1e-6)
    assert curves["val/modes_best"][4] == max(modes.values())
    assert curves["val/reverse_kl_best"][4] == pytest.approx(min(kl.values()), rel=1e-6)
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
