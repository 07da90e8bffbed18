"""Training health: signals, detectors, the health.json report and actions (the callback: ganlab.callbacks.health);
reading a run's health back: ``ganlab.health.diagnose`` (the logic of ganlab-diagnose)."""

from ganlab.health.actions import HealthStop, Rollback
from ganlab.health.detectors import (
    Alert,
    Detector,
    DiscriminatorOverfitting,
    DiscriminatorWinning,
    Divergence,
    ModeCollapse,
    StalledQuality,
)
from ganlab.health.report import HealthReport

__all__ = ["Alert", "Detector", "DiscriminatorOverfitting", "DiscriminatorWinning", "Divergence", "HealthReport",
           "HealthStop", "ModeCollapse", "Rollback", "StalledQuality"]
