"""Detectors on synthetic signal sequences: each fires on its pattern (at the right step, with its evidence)
and stays quiet on noise around a healthy level."""

from __future__ import annotations

import math
import random

import pytest

from ganlab.health.detectors import (
    DiscriminatorOverfitting,
    DiscriminatorWinning,
    Divergence,
    ModeCollapse,
    StalledQuality,
)

REAL = {"classes_real": 10.0, "class_entropy_real": math.log(10)}


def feed(detector, rows, every=500, start=500):
    """Feed rows (dicts) at steps start, start+every, ...; returns the alerts with the step they fired."""
    alerts = []
    for i, row in enumerate(rows):
        alert = detector.check(start + i * every, row)
        if alert is not None:
            alerts.append(alert)
    return alerts


def noisy(rng: random.Random, level: dict[str, float], spread: dict[str, float]) -> dict[str, float]:
    return {k: v + rng.uniform(-spread.get(k, 0), spread.get(k, 0)) for k, v in level.items()}


# ----------------------------------------------------------------------------- mode collapse
def test_mode_collapse_fires_after_patience_with_start_step_and_plain_message():
    healthy = [{**REAL, "classes_seen": 10.0, "class_entropy": 2.2, "diversity": 0.9}] * 5
    collapsed = [{**REAL, "classes_seen": 2.0, "class_entropy": 0.6, "diversity": 0.18}] * 4
    det = ModeCollapse(patience=3, min_step=0)
    det.name = "mode_collapse"
    alerts = feed(det, healthy + collapsed)
    assert len(alerts) == 1  # once per episode, although the pattern holds for 4 checks
    (a,) = alerts
    assert a.start_step == 3000 and a.step == 4000  # first collapsed check: index 5 -> step 3,000
    assert a.evidence["classes_seen"] == 2 and a.evidence["diversity"] == pytest.approx(0.18)
    assert a.message.startswith("mode collapse since step 3,000: generated samples cover 2 of 10 classes")
    assert "pairwise diversity 0.18 of real" in a.message


def test_mode_collapse_ignores_a_single_noisy_reading_and_noise_around_healthy():
    rng = random.Random(0)
    rows = [{**REAL, **noisy(rng, {"classes_seen": 9.5, "class_entropy": 2.2, "diversity": 0.85},
                             {"classes_seen": 1.5, "class_entropy": 0.1, "diversity": 0.2})} for _ in range(200)]
    rows[50] = {**REAL, "classes_seen": 1.0, "class_entropy": 0.1, "diversity": 0.1}  # one bad reading
    rows[51] = {**REAL, "classes_seen": 2.0, "class_entropy": 0.2, "diversity": 0.1}  # and a second one
    assert feed(ModeCollapse(patience=3, min_step=0), rows) == []


def test_mode_collapse_quiet_while_coverage_climbs_but_fires_when_it_stays_low():
    # the default run's first checks (seed 1): one class at step 1,000, then the classes come in
    learning = [(1, 0.0, 0.15), (3, 0.13, 0.17), (4, 0.59, 0.32), (5, 0.74, 0.41), (8, 0.97, 0.37),
                (8, 1.39, 0.39), (10, 1.99, 0.44), (10, 2.15, 0.56)]
    rows = [{**REAL, "classes_seen": c, "class_entropy": h, "diversity": d} for c, h, d in learning]
    assert feed(ModeCollapse(patience=3, min_step=1000), rows, start=1000) == []
    # the same first reading, held: a collapse (its noise stays below recovery_gain)
    rng = random.Random(1)
    stuck = [{**REAL, **noisy(rng, {"classes_seen": 1.0, "class_entropy": 0.05, "diversity": 0.15},
                              {"class_entropy": 0.05, "diversity": 0.04})} for _ in range(6)]
    (a,) = feed(ModeCollapse(patience=3, min_step=1000), stuck, start=1000)
    assert (a.start_step, a.step) == (1000, 2000)
    # a slow climb stops short of recovery: it fires once the rise over 3 checks is below the gain
    slow = [{**REAL, "classes_seen": 2.0, "class_entropy": 0.1 + 0.02 * i, "diversity": 0.2} for i in range(5)]
    (b,) = feed(ModeCollapse(patience=3, min_step=0, recovery_gain=0.1), slow, start=0)
    assert b.step == 1000
    assert feed(ModeCollapse(patience=3, min_step=0, recovery_gain=0.01), slow, start=0) == []


def test_mode_collapse_on_toy_modes_and_diversity_alone():
    det = ModeCollapse(patience=2, min_step=0)
    rows = [{"modes": 24.0, "modes_real": 25.0, "diversity": 1.0}] * 3 + [{"modes": 3.0, "modes_real": 25.0,
                                                                           "diversity": 0.9}] * 2
    (a,) = feed(det, rows)
    assert a.start_step == 2000 and "capture 3 of 25 modes" in a.message
    # no classifier, no modes: diversity alone decides
    (b,) = feed(ModeCollapse(patience=2, min_step=0), [{"diversity": 0.2}] * 2)
    assert b.evidence == {"diversity": 0.2}


def test_mode_collapse_min_step_and_missing_signals():
    det = ModeCollapse(patience=1, min_step=1000)
    assert det.check(500, {**REAL, "classes_seen": 1.0, "class_entropy": 0.0}) is None  # before min_step
    assert det.check(1500, {"d_real": 1.0}) is None  # nothing it reads
    assert det.check(2000, {**REAL, "classes_seen": 1.0, "class_entropy": 0.0}) is not None


def test_an_episode_ends_and_a_new_one_alerts_again():
    det = ModeCollapse(patience=2, min_step=0)
    bad, good = {"diversity": 0.1}, {"diversity": 0.9}
    alerts = feed(det, [bad, bad, bad, good, bad, bad])
    assert [a.start_step for a in alerts] == [500, 2500]


# ----------------------------------------------------------------------------- divergence
def test_divergence_fires_at_once_on_nan():
    det = Divergence()
    det.name = "divergence"
    assert det.check(50, {"d_loss": 1.3, "g_loss": 0.8}) is None
    a = det.check(100, {"d_loss": math.nan, "g_loss": 0.8})
    assert a is not None and a.step == a.start_step == 100
    assert a.message == "divergence at step 100: train/d_loss is nan"
    assert det.check(150, {"d_loss": math.inf}) is None  # the same episode


def test_divergence_fires_on_explosion_against_running_median_not_on_noise():
    rng = random.Random(1)
    rows = [{"d_loss": 1.3 + rng.uniform(-0.3, 0.3), "g_loss": 1.0 + rng.uniform(-0.5, 2.0),
             "grad_norm_g": 2.0 * rng.lognormvariate(0, 0.4), "grad_norm_d": 3.0 * rng.lognormvariate(0, 0.4)}
            for _ in range(300)]
    assert feed(Divergence(), rows, every=50, start=50) == []
    exploding = rows[:40] + [{**rows[0], "grad_norm_g": 2.0 * 10 ** (1 + i / 3)} for i in range(5)]
    (a,) = feed(Divergence(patience=2), exploding, every=50, start=50)
    assert a.start_step == 50 * 41 and a.step == 50 * 42  # the 41st reading is the first > 10x the median
    assert a.evidence["grad_norm_g"] > 10 * a.evidence["grad_norm_g_median"]
    assert "train/grad_norm_g" in a.message and "running median" in a.message


def test_divergence_quiet_on_a_healthy_dcgan_s_heavy_tailed_d_gradient_but_not_on_a_sustained_rise():
    # train/grad_norm_d of the DCGAN preset (seed 1) every 50 steps from step 50: healthy, but 2 -> 535 early
    logged = [5.2, 2.1, 1.8, 54.1, 10.8, 428.0, 534.8, 15.6, 516.4, 59.4, 91.9, 21.9, 13.4, 106.8, 98.0, 92.6,
              57.6, 138.9, 15.6, 39.4, 81.2, 17.1, 28.7, 26.8, 134.6, 13.8, 51.7, 79.9, 42.5, 50.9, 11.8, 200.5,
              156.7, 36.8, 45.4, 83.0, 435.9, 167.0, 76.5, 15.2]
    rows = [{"grad_norm_d": v} for v in logged]
    assert feed(Divergence(), rows, every=50, start=50) == []
    assert feed(Divergence(warmup=0, window=20, min_history=5, patience=2), rows, every=50, start=50) != []
    rising = rows + [{"grad_norm_d": 60.0 * 10 ** (1 + i / 4)} for i in range(4)]  # 600 -> 3,380, sustained
    (a,) = feed(Divergence(), rising, every=50, start=50)
    assert (a.start_step, a.step) == (2050, 2150)


def test_divergence_from_the_first_readings_by_the_loss_ceiling():
    # learning rates so high that the losses are absurd from the first logging step: no sane median exists
    rows = [{"d_loss": 8.6, "g_loss": 870.0}, {"d_loss": 0.0, "g_loss": 2665.0}, {"d_loss": 0.0, "g_loss": 1297.0}]
    (a,) = feed(Divergence(patience=2, loss_max=1000), rows, every=50, start=50)
    assert a.start_step == 100 and a.step == 150
    assert a.message == "divergence since step 100: train/g_loss = 1,297, beyond 1,000"


def test_divergence_floor_ignores_tiny_values():
    rows = [{"d_loss": 0.001}] * 10 + [{"d_loss": 0.5}] * 3  # 500x the median but below factor x floor = 10
    assert feed(Divergence(patience=1), rows, every=50) == []


# ----------------------------------------------------------------------------- D winning
def winning_row(slope: float, rel: float = 1.0) -> dict[str, float]:
    return {"d_acc_real": 0.99, "d_acc_fake": 1.0, "d_gap": 12.0, "g_slope": slope, "grad_g_rel": rel}


def test_discriminator_winning_needs_a_vanishing_g_gradient():
    healthy = [{"d_acc_real": 0.7, "d_acc_fake": 0.75, "d_gap": 1.5, "g_slope": 0.6, "grad_g_rel": 1.0}] * 3
    det = DiscriminatorWinning(patience=2)
    det.name = "discriminator_winning"
    (a,) = feed(det, healthy + [winning_row(0.0003)] * 3)
    assert a.start_step == 2000 and a.step == 2500
    assert "right on 99 % of reals and 100 % of fakes (logit gap 12.0)" in a.message
    assert "G's loss moves 0.0003 per unit of D's logit" in a.message
    # D wins but G still gets a strong gradient (non-saturating loss): not this detector's pattern
    assert feed(DiscriminatorWinning(patience=2), [winning_row(0.9)] * 5) == []
    # G's gradient norm collapsing against its running median also counts as vanishing
    assert len(feed(DiscriminatorWinning(patience=2), [winning_row(0.9, rel=0.05)] * 2)) == 1
    # a vanishing gradient without a winning D is not this pattern either
    assert feed(DiscriminatorWinning(patience=2), [{**winning_row(0.0), "d_gap": 2.0}] * 5) == []


def test_discriminator_winning_quiet_on_noise_around_healthy():
    rng = random.Random(2)
    rows = [noisy(rng, {"d_acc_real": 0.75, "d_acc_fake": 0.75, "d_gap": 2.0, "g_slope": 0.6, "grad_g_rel": 1.0},
                  {"d_acc_real": 0.2, "d_acc_fake": 0.2, "d_gap": 2.0, "g_slope": 0.3, "grad_g_rel": 0.8})
            for _ in range(300)]
    assert feed(DiscriminatorWinning(), rows) == []


# ----------------------------------------------------------------------------- D overfitting
def test_discriminator_overfitting_on_rt_and_on_heldout_gap():
    rising = [{"r_t": 0.2 + 0.1 * i} for i in range(9)]  # 0.2 ... 1.0
    det = DiscriminatorOverfitting(patience=2, rt_max=0.9)
    (a,) = feed(det, rising)
    assert a.start_step == 500 + 7 * 500 and a.evidence["r_t"] == pytest.approx(1.0)  # 0.9 at index 7
    assert "r_t = 1.00" in a.message
    # with a held-out split its gap decides: r_t near 1 alone (D winning outright) is not memorisation
    gap = [{"r_t": 1.0, "heldout_gap": g} for g in (0.1, 0.5, 2.5, 3.0, 3.5)]
    (b,) = feed(DiscriminatorOverfitting(patience=3, heldout_gap_max=2.0), gap)
    assert b.start_step == 1500 and "held-out reals by 3.50 (r_t = 1.00)" in b.message
    assert feed(DiscriminatorOverfitting(patience=1), [{"r_t": 1.0, "heldout_gap": 0.3}] * 5) == []


def test_discriminator_overfitting_quiet_on_noise():
    rng = random.Random(3)
    rows = [noisy(rng, {"r_t": 0.5, "heldout_gap": 0.2}, {"r_t": 0.35, "heldout_gap": 1.0}) for _ in range(300)]
    assert feed(DiscriminatorOverfitting(), rows) == []


# ----------------------------------------------------------------------------- stalled quality
def test_stalled_quality_fires_when_best_does_not_improve_over_window():
    fids = [300, 150, 80, 60, 55, 56, 54.5, 55, 54, 53.9, 55]
    det = StalledQuality(window=5, min_improvement=0.05)
    det.name = "stalled_quality"
    alerts = feed(det, [{"quality": f} for f in fids], every=2500, start=2500)
    (a,) = alerts
    # at the 10th evaluation the window holds 56 .. 53.9: best 53.9 vs 55 (evaluation 5, step 12,500): 2 % < 5 %
    assert a.step == 25000 and a.start_step == 12500
    assert a.evidence["best"] == 53.9 and a.evidence["best_before"] == 55
    assert a.message.startswith("quality stalled since step 12,500")


def test_stalled_quality_quiet_while_improving_and_for_max_mode():
    improving = [{"quality": 300 * 0.85 ** i} for i in range(30)]
    assert feed(StalledQuality(window=5), improving) == []
    rising = [{"quality": 1 + 0.1 * i} for i in range(30)]  # higher is better
    assert feed(StalledQuality(window=5, mode="max"), rising) == []
    assert len(feed(StalledQuality(window=3, mode="max"), [{"quality": 5.0}] * 5)) == 1


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^health detector action='halt'; valid: warn, stop, rollback$"):
        ModeCollapse(action="halt")
    with pytest.raises(ValueError, match=r"patience=0; valid: an integer >= 1"):
        Divergence(patience=0)
    with pytest.raises(ValueError, match=r"stalled_quality.mode='best'; valid: min, max"):
        StalledQuality(mode="best")


def test_memorization_fires_on_a_high_copy_share_only():
    from ganlab.health.detectors import Memorization

    det = Memorization(share_max=0.25)
    assert det.check(1000, {"quality": 30.0}) is None  # no memorization reading: nothing to judge
    assert det.check(2000, {"copy_share": 0.04, "ct": 0.3}) is None
    alert = det.check(3000, {"copy_share": 0.62, "ct": -9.5})
    assert alert is not None and alert.start_step == 3000
    assert alert.evidence == {"copy_share": 0.62, "ct": -9.5}
    assert "62 % of the samples are near-copies" in alert.message and "C_T -9.5" in alert.message
    assert det.check(4000, {"copy_share": 0.7}) is None  # once per episode
    assert det.check(5000, {"copy_share": 0.02}) is None and alert.end_step == 5000
    with pytest.raises(ValueError, match="share_max=1.5; valid: 0 < share_max < 1"):
        Memorization(share_max=1.5)
