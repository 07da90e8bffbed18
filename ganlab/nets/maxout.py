"""Maxout discriminator (Goodfellow et al. 2013 maxout units), PacGAN's toy-data D (Lin et al. 2018, Table 1).

Each layer is a linear map to ``units * pieces`` values followed by a max over the ``pieces`` of every
unit; PacGAN's 2-D experiments use 3 such layers of 200 units with 5 pieces, then a linear logit.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ganlab.nets.base import ConditionalHead, Discriminator, spectral_norm_all


class Maxout(nn.Module):
    """Linear maxout layer: ``out[:, j] = max_k (W x + b)[:, j * pieces + k]`` for k < pieces.

    Args:
        in_features: input size.
        units: output size (maxout units).
        pieces: linear pieces per unit (the max is taken over them).
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        # a unit's pieces are adjacent columns: [N, units * pieces] -> [N, units, pieces] -> max -> [N, units]
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


class MaxoutDiscriminator(Discriminator):
    """Flattened input -> linear-maxout layers = features h; a (conditional) linear head -> logit.

    Args:
        resolution: input height = width, or None for flat inputs [N, channels] (the 2-D toy sets).
        channels: input channels (or features when resolution is None); PacGAN m builds it with m * channels.
        hidden: units of the maxout layers (the paper: three layers of 200).
        pieces: linear pieces per maxout unit (the paper: 5).
        num_classes: K > 0 makes D class-conditional (labels y [N]); 0 = unconditional.
        conditioning: how labels enter when num_classes > 0: "projection" or "acgan" (see ConditionalHead).
        spectral_norm: spectral norm on every layer (Miyato et al. 2018).
        init_std: weights drawn from N(0, init_std^2) and zero biases (the authors' code: 0.02);
            None keeps torch's default initialization.
    """

    def __init__(self, resolution: int | None = None, channels: int = 2, hidden: Sequence[int] = (200, 200, 200),
                 pieces: int = 5, num_classes: int = 0, conditioning: str = "projection",
                 spectral_norm: bool = False, init_std: float | None = None) -> None:
        super().__init__()
        if not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"discriminator.pieces={pieces}; valid: an integer >= 1")
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"discriminator.hidden={list(hidden)}; valid: a non-empty list of integers >= 1")
        if init_std is not None and init_std <= 0:
            raise ValueError(f"discriminator.init_std={init_std}; valid: a positive number or null (torch default)")
        width = channels if resolution is None else channels * resolution * resolution
        layers: list[nn.Module] = [nn.Flatten()]  # [N, C, H, W] -> [N, C*H*W]; flat [N, D] unchanged
        for units in hidden:
            layers.append(Maxout(width, units, pieces))
            width = units
        self.net = nn.Sequential(*layers)
        self.feature_dim, self.num_classes = width, num_classes
        self.out = ConditionalHead(width, num_classes, conditioning)
        if init_std is not None:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=init_std)
                    nn.init.zeros_(m.bias)
        if spectral_norm:
            spectral_norm_all(self)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x)  # [N, hidden[-1]]

    def block_list(self) -> list[nn.Module]:
        """FreezeD's blocks (ganlab.nets.freeze): each maxout layer, from the input on."""
        return list(self.net)[1:]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)  # [N]

