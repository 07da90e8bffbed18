"""Lightning callbacks: sample grids, training-time metrics, run metadata, divergence guard."""

from ganlab.callbacks.divergence import DivergenceGuard
from ganlab.callbacks.metrics import MetricsCallback
from ganlab.callbacks.modes import ModeCoverage
from ganlab.callbacks.progress import StepProgressBar
from ganlab.callbacks.run_info import RunInfo
from ganlab.callbacks.samples import SampleGrid
from ganlab.callbacks.stacked import StackedModes

__all__ = ["DivergenceGuard", "MetricsCallback", "ModeCoverage", "RunInfo", "SampleGrid", "StackedModes",
           "StepProgressBar"]
