"""Fully connected generator and discriminator (the seed design; Goodfellow et al. 2014 style MLPs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from ganlab.nets.base import ConditionalHead, Discriminator, init_weights, spectral_norm_all
from ganlab.nets.layers import LabelConcat

ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh}


def _activation(name: str, who: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"{who}.activation={name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _shape(resolution: int | None, channels: int) -> tuple[int, ...]:
    # resolution None: flat data [N, channels] (e.g. 2-D toy sets); else images [N, C, H, W]
    return (channels,) if resolution is None else (channels, resolution, resolution)


class MLPGenerator(nn.Module):
    """z [N, z_dim] -> hidden layers with LeakyReLU(0.2) -> C*H*W with tanh, reshaped to images.

    Args:
        z_dim: latent size.
        resolution: output height = width, or None for flat outputs [N, channels].
        channels: output channels (or features when resolution is None).
        hidden: widths of the hidden layers.
        batchnorm: BatchNorm1d after each hidden layer.
        activation: hidden nonlinearity: "leaky_relu" (slope 0.2), "relu" or "tanh".
        out_activation: "tanh" for data in [-1, 1], "none" for unbounded data (toy 2-D sets).
        num_classes: K > 0 makes G class-conditional: a learned embedding of y [N] is concatenated
            to z (Mirza & Osindero 2014); 0 = unconditional.
        embed_dim: size of that label embedding.
        spectral_norm: spectral norm on every layer but the label embedding (as SAGAN does in G).
        init, init_gain: weight initialisation of the linear layers (ganlab.nets.base.init_weights):
            "default" (torch's), "orthogonal", "xavier" or "normal", scaled by ``init_gain``.
    """

    batches_members = True  # seed ensembles stack its weights (ganlab.ensemble.nets.Stacked)

    def __init__(self, z_dim: int = 100, resolution: int | None = 32, channels: int = 1,
                 hidden: Sequence[int] = (128, 256, 512, 1024), batchnorm: bool = False,
                 activation: str = "leaky_relu", out_activation: str = "tanh", num_classes: int = 0,
                 embed_dim: int = 32, spectral_norm: bool = False, init: str = "default",
                 init_gain: float = 1.0) -> None:
        super().__init__()
        if out_activation not in ("tanh", "none"):
            raise ValueError(f"generator.out_activation={out_activation!r}; valid: 'tanh', 'none'")
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, _shape(resolution, channels)
        self.condition = LabelConcat(num_classes, embed_dim)
        layers: list[nn.Module] = []
        width = z_dim + self.condition.extra_dim
        for h in hidden:
            layers += [nn.Linear(width, h)]
            layers += [nn.BatchNorm1d(h)] if batchnorm else []
            layers += [_activation(activation, "generator")]
            width = h
        layers += [nn.Linear(width, math.prod(self.out_shape))]
        layers += [nn.Tanh()] if out_activation == "tanh" else []
        self.net = init_weights(nn.Sequential(*layers), init, init_gain, "generator")
        if spectral_norm:
            spectral_norm_all(self.net)  # not the label embedding: its scale should match z's

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(self.condition(z, y)).view(z.shape[0], *self.out_shape)  # [N, C, H, W] or [N, D]


class MLPDiscriminator(Discriminator):
    """Flattened input -> hidden layers with LeakyReLU(0.2) = features h; a (conditional) linear head -> logit.

    Args:
        resolution: input height = width, or None for flat inputs [N, channels].
        channels: input channels (or features when resolution is None).
        hidden: widths of the hidden layers.
        activation: hidden nonlinearity: "leaky_relu" (slope 0.2), "relu" or "tanh".
        num_classes: K > 0 makes D class-conditional (labels y [N]); 0 = unconditional.
        conditioning: how labels enter when num_classes > 0: "projection" or "acgan" (see ConditionalHead).
        spectral_norm: spectral norm on every layer (Miyato et al. 2018).
        init, init_gain: weight initialisation of the linear layers, as for MLPGenerator.
    """

    batches_members = True  # seed ensembles stack its weights (ganlab.ensemble.nets.Stacked)

    def __init__(self, resolution: int | None = 32, channels: int = 1,
                 hidden: Sequence[int] = (512, 256, 128), activation: str = "leaky_relu", num_classes: int = 0,
                 conditioning: str = "projection", spectral_norm: bool = False, init: str = "default",
                 init_gain: float = 1.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(_shape(resolution, channels))
        for h in hidden:
            layers += [nn.Linear(width, h), _activation(activation, "discriminator")]
            width = h
        self.net = nn.Sequential(*layers)
        self.feature_dim, self.num_classes = width, num_classes
        self.out = ConditionalHead(width, num_classes, conditioning)
        init_weights(self, init, init_gain, "discriminator")
        if spectral_norm:
            spectral_norm_all(self)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x)  # [N, hidden[-1]]

    def block_list(self) -> list[nn.Module]:
        """FreezeD's blocks (ganlab.nets.freeze): each hidden layer, Linear + activation, from the input on."""
        return [self.net[i : i + 2] for i in range(1, len(self.net), 2)]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)  # [N]
