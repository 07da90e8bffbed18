"""What every discriminator family shares: a feature trunk, a (class-conditional) head, spectral norm.

A discriminator is ``head(features(x, y), y)``. The module calls the two halves separately so
tricks that need D's features (feature matching, minibatch layers, ACGAN's classifier) reuse the
forward pass that produced the logits instead of running D again.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils import parametrizations

CONDITIONINGS = ("projection", "acgan")
# weight initialisations selectable as generator.init / discriminator.init (see init_weights)
INITS = ("default", "orthogonal", "xavier", "normal")


class Discriminator(nn.Module):
    """Base class: ``features(x, y) -> h [N, F]``, ``head(h, y) -> logits [N]``; ``feature_dim = F``.

    Conditional discriminators (``num_classes > 0``) also take labels y [N] (int64); with
    ``conditioning="acgan"`` they expose ``classify(h) -> class logits [N, num_classes]``.
    """

    feature_dim: int
    num_classes: int = 0

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, y), y)

    def classify(self, h: Tensor) -> Tensor:
        """Class logits [N, K] from the ACGAN ``ConditionalHead`` this discriminator owns."""
        for m in self.modules():
            if isinstance(m, ConditionalHead):
                return m.classify(h)
        raise ValueError("classify() needs discriminator.conditioning=acgan (a discriminator with a ConditionalHead)")


class ConditionalHead(nn.Module):
    """Features h [N, F] -> one logit per sample, optionally class-conditional.

    - unconditional (``num_classes=0``): ``w·h + b``;
    - ``"projection"`` (Miyato & Koyama 2018, Eq. 3): ``w·h + b + <embed(y), h>``;
    - ``"acgan"`` (Odena et al. 2017): ``w·h + b`` for real/fake, plus ``classify(h)`` -> [N, K]
      trained with cross-entropy on real and fake labels (see ganlab.losses.conditional).
    """

    def __init__(self, in_features: int, num_classes: int = 0, conditioning: str = "projection") -> None:
        super().__init__()
        if num_classes and conditioning not in CONDITIONINGS:
            raise ValueError(f"discriminator.conditioning={conditioning!r}; valid: {', '.join(CONDITIONINGS)}")
        self.num_classes, self.conditioning = num_classes, conditioning if num_classes else None
        self.linear = nn.Linear(in_features, 1)
        if self.conditioning == "projection":
            self.embed = nn.Embedding(num_classes, in_features)
            # Glorot as in the authors' code: N(0, 1) (torch's default) would make <embed(y), h> dwarf w·h
            nn.init.xavier_uniform_(self.embed.weight)
        elif self.conditioning == "acgan":
            self.classifier = nn.Linear(in_features, num_classes)

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.linear(h).squeeze(1)  # [N]
        if self.conditioning == "projection":
            if y is None:
                raise ValueError("a projection discriminator needs labels y; the dataset must supply them")
            out = out + (self.embed(y) * h).sum(1)
        return out

    def classify(self, h: Tensor) -> Tensor:
        """Class logits [N, K] (ACGAN heads only)."""
        if self.conditioning != "acgan":
            raise ValueError("classify() needs discriminator.conditioning=acgan")
        return self.classifier(h)


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Miyato et al. 2018: spectral normalization (torch's parametrization, one power iteration per
    forward) on every Linear, Conv and Embedding layer of ``module``; returns ``module``."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            # ConvTranspose2d keeps output channels in dim 1 of its weight
            parametrizations.spectral_norm(m, dim=1 if isinstance(m, nn.ConvTranspose2d) else 0)
    return module


def init_weights(module: nn.Module, scheme: str = "default", gain: float = 1.0, who: str = "net") -> nn.Module:
    """Re-initialise every Linear and Conv layer of ``module`` (before spectral norm); returns ``module``.

    "default" keeps torch's; "orthogonal" (Saxe et al. 2014: weights orthogonal times ``gain``, as
    the Unrolled GAN / VEEGAN toy experiments use with gain 1.4), "xavier" (Glorot uniform times
    ``gain``) and "normal" (N(0, 0.02 * gain), Radford et al.) set biases to 0. Embeddings and
    normalisation layers keep their own initialisation.
    """
    if scheme not in INITS:
        raise ValueError(f"{who}.init={scheme!r}; valid: {', '.join(INITS)}")
    if scheme == "default":
        return module
    fill = {"orthogonal": lambda w: nn.init.orthogonal_(w, gain=gain),
            "xavier": lambda w: nn.init.xavier_uniform_(w, gain=gain),
            "normal": lambda w: nn.init.normal_(w, 0.0, 0.02 * gain)}[scheme]
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            fill(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module
