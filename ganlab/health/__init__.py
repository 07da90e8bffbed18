"""Training health: signals, detectors, the health.json report and actions (the callback: ganlab.callbacks.health)."""

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
