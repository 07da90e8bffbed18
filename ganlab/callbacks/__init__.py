"""Lightning callbacks: sample grids, training-time evaluation (metric objects), run metadata, divergence guard."""

from ganlab.callbacks.divergence import DivergenceGuard
from ganlab.callbacks.evaluation import Evaluation
from ganlab.callbacks.progress import StepProgressBar
from ganlab.callbacks.run_info import RunInfo
from ganlab.callbacks.samples import SampleGrid

__all__ = ["DivergenceGuard", "Evaluation", "RunInfo", "SampleGrid", "StepProgressBar"]
