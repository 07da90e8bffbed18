"""Adversarial losses (small classes sharing one signature), discriminator regularizers and generator terms."""

from ganlab.losses.adversarial import Hinge, LeastSquares, Minimax, NonSaturating, RpGAN, Wasserstein
from ganlab.losses.conditional import AuxiliaryClassifierD, AuxiliaryClassifierG
from ganlab.losses.consistency import BalancedConsistency
from ganlab.losses.generator_terms import FeatureMatching, HistoricalAveragingG
from ganlab.losses.lecam import LeCam
from ganlab.losses.regularizers import (
    DRAGAN,
    R1,
    R2,
    DiscriminatorOutputs,
    GeneratorTerm,
    GradientPenalty,
    HistoricalAveraging,
    Regularizer,
    WeightClip,
)

__all__ = [
    "Hinge", "LeastSquares", "Minimax", "NonSaturating", "RpGAN", "Wasserstein",
    "Regularizer", "DiscriminatorOutputs", "GradientPenalty", "WeightClip", "DRAGAN", "R1", "R2", "HistoricalAveraging",
    "LeCam",
    "GeneratorTerm", "FeatureMatching", "HistoricalAveragingG",
    "AuxiliaryClassifierD", "AuxiliaryClassifierG", "BalancedConsistency",
]
