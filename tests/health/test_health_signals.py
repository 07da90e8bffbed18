"""Health signals on hand-made inputs: r_t, D's view, class entropy, diversity, gradient trend, spectral norms,
the held-out / subset split, and health.json's JSON safety."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganlab.data import ImageData
from ganlab.data.split import split_data
from ganlab.health.detectors import Alert
from ganlab.health.report import HealthReport
from ganlab.health.signals import (
    DOutputStats,
    GradientTrend,
    SpectralNorms,
    class_entropy,
    g_loss_slope,
    mean_pairwise_distance,
    r_t,
)
from ganlab.losses import Hinge, Minimax, NonSaturating


def test_r_t_and_d_view_on_hand_made_logits():
    real = torch.tensor([2.0, 1.0, -1.0, 3.0])  # signs + + - +: r_t = (3 - 1) / 4
    fake = torch.tensor([-2.0, -4.0, 1.0, -1.0])
    assert r_t(real) == 0.5
    stats = DOutputStats()
    stats.add(real, fake)
    stats.add(torch.tensor([1.0, 1.0, 1.0, 1.0]), torch.tensor([-1.0, -1.0, -1.0, -1.0]))
    out = stats.read()
    assert out["r_t"] == pytest.approx((0.5 + 1.0) / 2)  # mean over the two steps
    assert out["d_real"] == pytest.approx((1.25 + 1.0) / 2) and out["d_fake"] == pytest.approx((-1.5 - 1.0) / 2)
    assert out["d_gap"] == pytest.approx(out["d_real"] - out["d_fake"])
    assert out["d_acc_real"] == pytest.approx((0.75 + 1.0) / 2) and out["d_acc_fake"] == pytest.approx((0.75 + 1) / 2)
    assert stats.read() == {}  # read resets


def test_d_view_folds_kept_steps_as_the_per_step_means_would():
    """Steps are kept and reduced every ``fold_every`` steps (and at read), across changes of the batch size: the
    same means as one reduction per step."""
    g = torch.Generator().manual_seed(0)
    steps = [(torch.randn(n, generator=g), torch.randn(m, generator=g)) for n, m in [(8, 8)] * 7 + [(5, 6)] * 3
             + [(8, 8)] * 2]
    per_step = torch.stack([torch.stack((r.mean(), f.mean(), r.sign().mean(), f.sign().mean())) for r, f in steps])
    expected = per_step.mean(0).tolist()
    for fold_every in (1, 4, 64):
        stats = DOutputStats(fold_every=fold_every)
        for r, f in steps:
            stats.add(r, f)
        assert len(stats._pending) < fold_every
        out = stats.read()
        assert [out["d_real"], out["d_fake"], out["r_t"], 1 - 2 * out["d_acc_fake"]] == pytest.approx(expected)
        assert stats.read() == {} and not stats._pending


def test_g_loss_slope_tells_a_saturating_loss_from_the_others():
    fake = torch.tensor([-12.0, -10.0, -15.0, -11.0])  # D rejects every fake
    assert g_loss_slope(Minimax(), fake) == pytest.approx(torch.sigmoid(fake).mean().item(), rel=1e-5)
    assert g_loss_slope(Minimax(), fake) < 1e-4  # log(1 - D(G(z))) is flat there
    assert g_loss_slope(NonSaturating(), fake) == pytest.approx(1.0, abs=1e-4)  # -log D(G(z)) is not
    assert g_loss_slope(Hinge(), fake) == pytest.approx(1.0)
    assert g_loss_slope(Minimax(), torch.zeros(4)) == pytest.approx(0.5)
    leaf = torch.zeros(4, requires_grad=True)
    g_loss_slope(Minimax(), leaf)
    assert leaf.grad is None  # computed on a copy


def test_class_entropy_by_hand():
    assert class_entropy(torch.ones(10)) == pytest.approx(math.log(10))
    assert class_entropy(torch.tensor([0.0, 7.0, 0.0])) == 0.0
    expected = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert class_entropy(torch.tensor([1.0, 1.0, 2.0])) == pytest.approx(expected)


def test_mean_pairwise_distance_by_hand():
    pts = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])  # distances 5, 4, 3
    assert mean_pairwise_distance(pts) == pytest.approx(4.0)
    assert mean_pairwise_distance(torch.zeros(5, 3)) == 0.0  # a collapsed batch


def test_gradient_trend_ratio_and_running_median():
    trend = GradientTrend(window=10)
    for _ in range(6):
        trend.add(2.0, 4.0)
    first = trend.read()
    assert first == {"grad_norm_g": 2.0, "grad_g_rel": 1.0, "grad_norm_d": 4.0, "grad_ratio": 0.5}
    for _ in range(4):
        trend.add(0.02, 4.0)  # G's gradient vanishes: history holds six 2.0 and four 0.02, median 2.0
    out = trend.read()
    assert out["grad_g_rel"] == pytest.approx(0.01) and out["grad_ratio"] == pytest.approx(0.005)
    assert trend.read() == {}


def test_spectral_norms_match_svd_and_leave_the_rng_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.Conv2d(3, 8, 3))
    state = torch.get_rng_state()
    norms = SpectralNorms(iterations=2, warmup=50)
    first = norms(net.named_parameters())
    assert torch.equal(torch.get_rng_state(), state)
    assert set(first) == {"0.weight", "1.weight"}  # biases are not matrices
    exact = {"0.weight": torch.linalg.matrix_norm(net[0].weight, ord=2).item(),
             "1.weight": torch.linalg.matrix_norm(net[1].weight.reshape(8, -1), ord=2).item()}
    assert first == pytest.approx(exact, rel=1e-3)
    with torch.no_grad():
        net[0].weight.mul_(3.0)  # the cached vector stays the top one: 2 iterations give 3x
    assert norms(net.named_parameters())["0.weight"] == pytest.approx(3 * exact["0.weight"], rel=1e-3)


def test_split_holdout_and_subset():
    data = ImageData(torch.arange(100).view(100, 1), torch.arange(100) % 10, "ids")
    same, none = split_data(data, 0, None, seed=3)
    assert same is data and none is None  # no options: the very same tensors
    train, held = split_data(data, holdout=20, subset=None, seed=3)
    assert len(train) == 80 and len(held) == 20
    assert set(train.x.flatten().tolist()).isdisjoint(held.x.flatten().tolist())
    assert train.x.flatten().tolist() == sorted(train.x.flatten().tolist())  # dataset order kept
    again, held2 = split_data(data, holdout=20, subset=30, seed=3)
    assert torch.equal(held2.x, held.x) and len(again) == 30  # the same held-out split, seeded
    assert set(again.x.flatten().tolist()) <= set(train.x.flatten().tolist())
    _, other = split_data(data, holdout=20, seed=4)
    assert not torch.equal(other.x, held.x)
    with pytest.raises(ValueError, match=r"^datamodule.holdout=-1; valid: an integer >= 0"):
        split_data(data, -1)
    with pytest.raises(ValueError, match=r"datamodule.holdout=60 \+ datamodule.subset=50 exceed the 100 samples"):
        split_data(data, 60, 50)


def test_report_is_strict_json_with_aligned_columns(tmp_path):
    report = HealthReport(tmp_path / "health.json", {"every_n_steps": 5})
    report.add_row(5, {"d_real": 1.0})
    report.add_row(10, {"d_real": math.nan, "diversity": 0.5})
    report.add_alert(Alert("divergence", 10, 10, "divergence at step 10: train/d_loss is nan",
                           {"d_loss": math.nan}, "stop"))
    report.stop("divergence", 10, "divergence at step 10: train/d_loss is nan")
    report.write()
    text = (tmp_path / "health.json").read_text()
    d = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert d["signals"] == {"step": [5, 10], "d_real": [1.0, None], "diversity": [None, 0.5]}
    assert d["verdict"] == "unhealthy" and d["problems"] == ["divergence"]
    assert d["alerts"][0]["evidence"] == {"d_loss": None} and d["stopped_by"]["step"] == 10
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed


def test_sample_signals_judge_the_trained_generator_not_its_ema_by_default():
    from test_zoo_module import _module

    from ganlab.ema import EMA
    from ganlab.health.samples import SampleProbe

    module = _module(ema=EMA(0.99))
    with torch.no_grad():  # the average outputs one point: zero diversity; G itself spreads its samples
        for p in module.generator_ema.parameters():
            p.zero_()
    probe = SampleProbe(num_samples=64)
    probe.setup(ImageData(torch.randn(200, 2), None, "points"), torch.device("cpu"))
    trained, ema = probe.measure(module)["diversity"], probe.measure(module, trained=False)["diversity"]
    assert ema == 0.0 and trained > 0.05
    assert module.generator.training  # eval mode for sampling only
