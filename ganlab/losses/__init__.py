"""Adversarial losses (small classes sharing one signature) and discriminator regularizers."""

from ganlab.losses.adversarial import Hinge, LeastSquares, Minimax, NonSaturating, Wasserstein
from ganlab.losses.regularizers import GradientPenalty, WeightClip

__all__ = ["Hinge", "LeastSquares", "Minimax", "NonSaturating", "Wasserstein", "GradientPenalty", "WeightClip"]
