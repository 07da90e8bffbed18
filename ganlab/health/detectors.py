"""Detectors: turn sequences of health signals into alerts with a start step, evidence and one plain line.

Each detector is a small stateful object fed one reading at a time, ``check(step, signals)``, where
``signals`` maps signal names to numbers (a missing name means "not measured at this step"). It
returns an ``Alert`` when a problem starts (once per episode) and None otherwise, so it can be tested on
synthetic sequences without training anything. The episode ends at the first later reading (at or after
``min_step``, with the signals it needs) without the pattern, or at a rollback (``end``): the episode's
Alert, kept as ``Detector.alert`` while it is open, then gets its ``end_step``.

``feeds`` says which readings a detector gets from the health monitor: ``"check"`` (every
``health.every_n_steps`` steps, all signals), ``"log"`` (every logging step: ``d_loss``, ``g_loss``,
``grad_norm_g``, ``grad_norm_d``) or ``"eval"`` (after each evaluation: ``quality``, the monitored metric).

Adding a detector = a ``Detector`` subclass + an entry under ``health.detectors`` in conf/health/default.yaml.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ganlab.health.signals import median

ACTIONS = ("warn", "stop", "rollback")


@dataclass
class Alert:
    """One detected problem: which detector, since when (``start_step``), detected at ``step``, why, and
    when its episode ended (``end_step``; None while it is still active)."""

    detector: str
    start_step: int
    step: int
    message: str
    evidence: dict[str, float] = field(default_factory=dict)
    action: str = "warn"
    end_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: d[k] for k in ("detector", "start_step", "step", "end_step", "action", "message", "evidence")}


def fmt(x: float, digits: int = 2) -> str:
    """A number for a message: thousands separators for integers, ``digits`` significant decimals otherwise."""
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) >= 1:
        return f"{int(x):,}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:,.{digits}f}"


class Detector:
    """Base: the action taken when it fires (``warn``, ``stop`` or ``rollback``) and the episode bookkeeping.

    Args:
        action: ``warn`` (log it), ``stop`` (end the run, non-zero status) or ``rollback`` (reload the last
            healthy state and continue with lower learning rates; ``health.rollback``).
        patience: consecutive readings that must show the pattern before it fires (one noisy reading does not).
        min_step: readings before this step are ignored (the first steps of any GAN look unhealthy).
    """

    feeds: ClassVar[str] = "check"

    def __init__(self, action: str = "warn", patience: int = 3, min_step: int = 0) -> None:
        if action not in ACTIONS:
            raise ValueError(f"health detector action={action!r}; valid: {', '.join(ACTIONS)}")
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"health detector patience={patience}; valid: an integer >= 1")
        self.action, self.patience, self.min_step = action, patience, min_step
        self.name = type(self).__name__  # the monitor sets the config key
        self.reset()

    def reset(self) -> None:
        """Forget the current streak and episode (after a rollback; ``end`` it first to record its end)."""
        self.alert: Alert | None = None  # the open episode's alert (the report holds the same object)
        self._streak: list[tuple[int, dict[str, float]]] = []

    @property
    def active(self) -> bool:
        """An episode is open: the pattern fired and has not been absent since."""
        return self.alert is not None

    def end(self, step: int) -> Alert | None:
        """Close the open episode at ``step`` (its Alert's ``end_step``); that Alert, or None when none was open."""
        alert, self.alert = self.alert, None
        if alert is not None:
            alert.end_step = int(step)
        return alert

    def resume(self, alert: Alert) -> None:
        """Continue an episode still open when the run was checkpointed (a resumed run): no second alert for it."""
        self.alert = alert

    def settings(self) -> dict[str, Any]:
        """The thresholds, for health.json."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in ("name", "alert")}

    def evaluate(self, step: int, signals: Mapping[str, float]) -> tuple[bool, dict[str, float]] | None:
        """(pattern present, evidence) for one reading; None when the signals it needs are missing."""
        raise NotImplementedError

    def explain(self, start_step: int, evidence: dict[str, float]) -> str:
        raise NotImplementedError

    def check(self, step: int, signals: Mapping[str, float]) -> Alert | None:
        """Feed one reading; an Alert when the pattern has now held for ``patience`` readings (once per episode)."""
        if step < self.min_step:
            return None
        result = self.evaluate(step, signals)
        if result is None:
            return None
        present, evidence = result
        if not present:  # the pattern is gone: an open episode ends at this reading
            self.end(step)
            self._streak = []
            return None
        if self.active:  # the episode goes on; it was reported when it started
            return None
        self._streak.append((step, evidence))
        if len(self._streak) < self.patience:
            return None
        start = self._streak[0][0]
        self.alert = Alert(self.name, start, step, self.explain(start, evidence), evidence, self.action)
        return self.alert


def _finite(signals: Mapping[str, float], *keys: str) -> bool:
    return all(k in signals and signals[k] is not None and math.isfinite(signals[k]) for k in keys)


class ModeCollapse(Detector):
    """Generated samples cover few classes / modes or are much less diverse than real ones.

    A reading counts when any measured test fails: classes covered < ``classes_frac`` x the real number of
    classes, class-histogram entropy < ``entropy_frac`` x the real entropy, pairwise feature diversity
    < ``diversity_min`` x the real one, toy modes captured < ``modes_frac`` x the real number.

    A G that is still learning also starts out covering few modes: such a reading does not count while
    coverage climbs, i.e. while the class entropy, the modes captured (both as fractions of the real
    values) or the diversity has risen by ``recovery_gain`` or more since the oldest of the last
    ``patience`` readings. A collapse is what stays low or falls.
    """

    def __init__(self, action: str = "warn", patience: int = 3, min_step: int = 1000, classes_frac: float = 0.3,
                 entropy_frac: float = 0.3, diversity_min: float = 0.3, modes_frac: float = 0.3,
                 recovery_gain: float = 0.1) -> None:
        super().__init__(action, patience, min_step)
        self.classes_frac, self.entropy_frac = classes_frac, entropy_frac
        self.diversity_min, self.modes_frac = diversity_min, modes_frac
        self.recovery_gain = recovery_gain
        self._coverage: deque[dict[str, float]] = deque(maxlen=patience)

    def reset(self) -> None:
        super().reset()
        self._coverage = deque(maxlen=self.patience)

    def _climbing(self, signals: Mapping[str, float]) -> bool:
        """Record this reading's coverage; True when a measure rose by ``recovery_gain`` over the window."""
        now = {}
        if _finite(signals, "class_entropy", "class_entropy_real") and signals["class_entropy_real"] > 0:
            now["entropy"] = signals["class_entropy"] / signals["class_entropy_real"]
        if _finite(signals, "modes", "modes_real") and signals["modes_real"] > 0:
            now["modes"] = signals["modes"] / signals["modes_real"]
        if _finite(signals, "diversity"):
            now["diversity"] = signals["diversity"]
        oldest = self._coverage[0] if self._coverage else {}
        self._coverage.append(now)
        return any(now[k] - oldest[k] >= self.recovery_gain for k in now if k in oldest)

    def evaluate(self, step, signals):
        tests, evidence = [], {}
        climbing = self._climbing(signals)
        if _finite(signals, "classes_seen", "classes_real"):
            tests.append(signals["classes_seen"] < self.classes_frac * signals["classes_real"])
            evidence.update(classes_seen=signals["classes_seen"], classes_real=signals["classes_real"])
        if _finite(signals, "class_entropy", "class_entropy_real"):
            tests.append(signals["class_entropy"] < self.entropy_frac * signals["class_entropy_real"])
            evidence.update(class_entropy=signals["class_entropy"], class_entropy_real=signals["class_entropy_real"])
        if _finite(signals, "modes", "modes_real"):
            tests.append(signals["modes"] < self.modes_frac * signals["modes_real"])
            evidence.update(modes=signals["modes"], modes_real=signals["modes_real"])
        if _finite(signals, "diversity"):
            tests.append(signals["diversity"] < self.diversity_min)
            evidence["diversity"] = signals["diversity"]
        return (any(tests) and not climbing, evidence) if tests else None

    def explain(self, start_step, e):
        parts = []
        if "classes_seen" in e:
            parts.append(f"generated samples cover {fmt(e['classes_seen'])} of {fmt(e['classes_real'])} classes")
        if "class_entropy" in e:
            parts.append(f"class entropy {e['class_entropy']:.2f} nats (real {e['class_entropy_real']:.2f})")
        if "modes" in e:
            parts.append(f"generated points capture {fmt(e['modes'])} of {fmt(e['modes_real'])} modes")
        if "diversity" in e:
            parts.append(f"pairwise diversity {e['diversity']:.2f} of real")
        return f"mode collapse since step {start_step:,}: " + ", ".join(parts)


class Divergence(Detector):
    """Losses or gradient norms not finite, or exploding: a reading above ``factor`` x its running median
    (over the last ``window`` readings, at least ``min_history`` of them) and above ``factor`` x ``floor``,
    or a loss above ``loss_max`` in absolute value (a run that blows up within its first logging steps has no
    sane median), for ``patience`` consecutive logging steps. Not finite fires at once.

    The comparison with the running median starts at step ``warmup``: in their first hundreds of steps healthy
    GANs' gradient norms jump by 100x as D learns (the DCGAN preset: D's from 2 to 535 within 350 steps).
    Non-finite values and the loss ceiling count from the first step.
    """

    feeds: ClassVar[str] = "log"
    KEYS: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss", "grad_norm_g", "grad_norm_d")
    LOSSES: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss")

    def __init__(self, action: str = "warn", patience: int = 3, min_step: int = 0, factor: float = 10.0,
                 window: int = 50, min_history: int = 10, floor: float = 1.0, loss_max: float = 1000.0,
                 warmup: int = 1000) -> None:
        super().__init__(action, patience, min_step)
        self.factor, self.window, self.min_history, self.floor = factor, window, min_history, floor
        self.loss_max, self.warmup = loss_max, warmup
        self._history: dict[str, deque[float]] = {}

    def reset(self) -> None:
        super().reset()
        self._history = {}

    def check(self, step, signals):
        bad = {k: signals[k] for k in self.KEYS if k in signals and signals[k] is not None
               and not math.isfinite(signals[k])}
        if bad:  # not finite: no patience, the run cannot recover by itself
            if self.active:
                return None
            key, value = next(iter(bad.items()))
            self.alert = Alert(self.name, step, step, f"divergence at step {step:,}: train/{key} is {value}",
                               {k: v for k, v in signals.items() if k in self.KEYS}, self.action)
            return self.alert
        return super().check(step, signals)  # finite again: ends the episode unless the losses still explode

    def evaluate(self, step, signals):
        exploded, evidence = False, {}
        for key in self.KEYS:
            value = signals.get(key)
            if value is None or not math.isfinite(value):
                continue
            hist = self._history.setdefault(key, deque(maxlen=self.window))
            if key in self.LOSSES and abs(value) > self.loss_max:
                exploded = True
                evidence.update({key: value, f"{key}_max": self.loss_max})
            elif step >= self.warmup and len(hist) >= self.min_history:
                ref = median(hist)
                if abs(value) > self.factor * max(ref, self.floor):
                    exploded = True
                    evidence.update({key: value, f"{key}_median": ref})
            hist.append(abs(value))
        return exploded, evidence

    def explain(self, start_step, e):
        key = next(k for k in self.KEYS if k in e)
        if f"{key}_max" in e:
            return f"divergence since step {start_step:,}: train/{key} = {fmt(e[key])}, beyond {fmt(e[key + '_max'])}"
        ratio = abs(e[key]) / max(e[key + "_median"], 1e-12)
        return (f"divergence since step {start_step:,}: train/{key} = {fmt(e[key])}, "
                f"{ratio:,.0f}x its running median {fmt(e[key + '_median'])}")


class DiscriminatorWinning(Detector):
    """D separates real from fake almost perfectly while G's gradient vanishes (the saturating-loss failure:
    log(1 - D(G(z))) is flat where D(G(z)) ~ 0, Goodfellow et al. 2014, section 3).

    A reading counts when D's accuracy on real and on fake are both >= ``acc_min``, the logit gap
    d_real - d_fake >= ``gap_min``, and G's gradient is vanishing: G's loss barely reacts to D's verdict
    (``g_slope`` <= ``slope_max``), or G's gradient norm fell to <= ``g_grad_rel_max`` x its running median.
    With a non-saturating loss G keeps its gradient when D wins, so this detector stays quiet there.
    """

    def __init__(self, action: str = "warn", patience: int = 3, min_step: int = 0, acc_min: float = 0.95,
                 gap_min: float = 5.0, slope_max: float = 0.05, g_grad_rel_max: float = 0.1) -> None:
        super().__init__(action, patience, min_step)
        self.acc_min, self.gap_min = acc_min, gap_min
        self.slope_max, self.g_grad_rel_max = slope_max, g_grad_rel_max

    def evaluate(self, step, s):
        if not _finite(s, "d_acc_real", "d_acc_fake", "d_gap"):
            return None
        keys = ("d_acc_real", "d_acc_fake", "d_gap", "g_slope", "grad_g_rel", "grad_norm_g")
        evidence = {k: s[k] for k in keys if k in s and s[k] is not None}
        winning = s["d_acc_real"] >= self.acc_min and s["d_acc_fake"] >= self.acc_min and s["d_gap"] >= self.gap_min
        vanishing = ((_finite(s, "g_slope") and s["g_slope"] <= self.slope_max)
                     or (_finite(s, "grad_g_rel") and s["grad_g_rel"] <= self.g_grad_rel_max))
        return winning and vanishing, evidence

    def explain(self, start_step, e):
        grads = []
        if "g_slope" in e:
            grads.append(f"G's loss moves {fmt(e['g_slope'])} per unit of D's logit")
        if "grad_g_rel" in e:
            grads.append(f"G's gradient norm is {fmt(e['grad_g_rel'])} of its running median")
        return (f"discriminator winning since step {start_step:,}: D is right on {100 * e['d_acc_real']:.0f} % of "
                f"reals and {100 * e['d_acc_fake']:.0f} % of fakes (logit gap {e['d_gap']:.1f}) and G's gradient "
                f"vanishes: {', '.join(grads)}")


class DiscriminatorOverfitting(Detector):
    """D memorises its training reals: D's mean logit on training reals exceeds that on held-out reals by
    >= ``heldout_gap_max`` (with ``datamodule.holdout`` > 0, the direct measurement), else ADA's heuristic
    r_t = E[sign(D(x_real))] >= ``rt_max`` (Karras et al. 2020 keep it at 0.6 with augmentation).

    r_t is also near 1 when D wins outright on bad samples; with a held-out split the gap tells the two apart.
    """

    def __init__(self, action: str = "warn", patience: int = 3, min_step: int = 0, rt_max: float = 0.95,
                 heldout_gap_max: float = 2.0) -> None:
        super().__init__(action, patience, min_step)
        self.rt_max, self.heldout_gap_max = rt_max, heldout_gap_max

    def evaluate(self, step, s):
        evidence = {k: s[k] for k in ("r_t", "heldout_gap") if _finite(s, k)}
        if "heldout_gap" in evidence:
            return evidence["heldout_gap"] >= self.heldout_gap_max, evidence
        if "r_t" in evidence:
            return evidence["r_t"] >= self.rt_max, evidence
        return None

    def explain(self, start_step, e):
        if "heldout_gap" in e:
            what = f"D's mean logit on training reals exceeds held-out reals by {e['heldout_gap']:.2f}"
            if "r_t" in e:
                what += f" (r_t = {e['r_t']:.2f})"
        else:
            what = (f"r_t = {e['r_t']:.2f}: D calls {100 * (1 + e['r_t']) / 2:.0f} % of training reals real "
                    f"(threshold {self.rt_max})")
        return f"discriminator overfitting since step {start_step:,}: {what}"


class StalledQuality(Detector):
    """The monitored metric (``metrics.monitor``, e.g. val/fid) has not improved its best value by
    ``min_improvement`` (relative) over the last ``window`` evaluations.

    Args:
        mode: ``min`` (lower is better, FID) or ``max``.
        metric: the metric's name, for the message.
    """

    feeds: ClassVar[str] = "eval"

    def __init__(self, action: str = "warn", patience: int = 1, min_step: int = 0, window: int = 5,
                 min_improvement: float = 0.05, mode: str = "min", metric: str | None = "val/fid") -> None:
        super().__init__(action, patience, min_step)
        if mode not in ("min", "max"):
            raise ValueError(f"health.detectors.stalled_quality.mode={mode!r}; valid: min, max")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"health.detectors.stalled_quality.window={window}; valid: an integer >= 1")
        self.window, self.min_improvement, self.mode = window, min_improvement, mode
        self.metric = metric or "the monitored metric"
        self._values: list[tuple[int, float]] = []

    def reset(self) -> None:
        super().reset()
        self._values = []

    def evaluate(self, step, s):
        if not _finite(s, "quality"):
            return None
        self._values.append((step, s["quality"]))
        if len(self._values) <= self.window:
            return False, {}
        sign = 1.0 if self.mode == "min" else -1.0
        before = min(self._values[:-self.window], key=lambda sv: sign * sv[1])  # best before the window
        best = min(self._values, key=lambda sv: sign * sv[1])
        gain = sign * (before[1] - best[1]) / max(abs(before[1]), 1e-12)  # relative improvement
        evidence = {"best_before": before[1], "best_before_step": float(before[0]), "best": best[1],
                    "quality": s["quality"], "improvement": gain}
        return gain < self.min_improvement, evidence

    def check(self, step, signals):
        alert = super().check(step, signals)
        if alert is not None:  # stalled since the evaluation that set the old best
            alert.start_step = int(alert.evidence["best_before_step"])
            alert.message = self.explain(alert.start_step, alert.evidence)
        return alert

    def explain(self, start_step, e):
        return (f"quality stalled since step {start_step:,}: the best {self.metric} is {fmt(e['best'])}, "
                f"{100 * e['improvement']:.1f} % better than its best {self.window} evaluations ago "
                f"({fmt(e['best_before'])}; needs {100 * self.min_improvement:.0f} %)")


class Memorization(Detector):
    """Samples copy the training set: the share of near-copies (``val/copy_share``, ganlab.metrics.memorization)
    exceeds ``share_max``.

    The per-sample copy threshold is fitted so that about ``rate`` (3 %) of new real images fall below it; a share
    of ``share_max`` (0.25) is far beyond what sampling noise gives a generator that does not copy (with 500
    samples at 3 %, a share above 0.1 has probability below 1e-9).

    Args:
        share_max: share of near-copies among the evaluated samples that fires the alert.
    """

    feeds: ClassVar[str] = "eval"

    def __init__(self, action: str = "warn", patience: int = 1, min_step: int = 0, share_max: float = 0.25) -> None:
        super().__init__(action, patience, min_step)
        if not 0 < share_max < 1:
            raise ValueError(f"health.detectors.memorization.share_max={share_max}; valid: 0 < share_max < 1")
        self.share_max = share_max

    def evaluate(self, step, s):
        if not _finite(s, "copy_share"):
            return None
        evidence = {"copy_share": s["copy_share"], **({"ct": s["ct"]} if _finite(s, "ct") else {})}
        return s["copy_share"] > self.share_max, evidence

    def explain(self, start_step, e):
        ct = f", C_T {e['ct']:.1f}" if "ct" in e else ""
        return (f"memorization since step {start_step:,}: {100 * e['copy_share']:.0f} % of the samples are near-copies "
                f"of training images (alert above {100 * self.share_max:.0f} %{ct}; new images: about 3 %)")
